import XCTest
import Foundation

/// Real multi-process runs: `mpirun -np 2 adnn-mpi-check …` (skipped with a reason when `mpirun` is
/// not on PATH; CI installs openmpi-bin).
final class MPITests: XCTestCase {
    /// The helper binary, built next to the test bundle.
    var helper: URL {
        let b = Bundle(for: MPITests.self).bundleURL
        let candidates = [b.appendingPathComponent("adnn-mpi-check"), b.deletingLastPathComponent().appendingPathComponent("adnn-mpi-check")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[1]
    }

    var mpirun: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    var sharedModels: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/models").standardized.path
    }

    /// Runs `mpirun -np ranks helper args` (as root too: `--allow-run-as-root`), with a time limit.
    func launch(ranks: Int, _ args: [String], timeout: TimeInterval = 240) throws -> (status: Int32, output: String) {
        guard let mpirun else { throw XCTSkip("mpirun is not on PATH (install openmpi-bin)") }
        guard FileManager.default.isExecutableFile(atPath: helper.path) else {
            throw XCTSkip("adnn-mpi-check not built next to the tests (\(helper.path))")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mpirun)
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", helper.path] + args
        var env = ProcessInfo.processInfo.environment
        env["ADNN_NUM_THREADS"] = "1"
        env["OMPI_MCA_btl"] = "self,tcp"          // no shared-memory segments needed in containers
        p.environment = env
        // Output goes to a file: no pipe to drain while waiting with a time limit.
        let log = try tempDir() + "/mpirun.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle; p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate(); XCTFail("mpirun did not finish in \(Int(timeout)) s") }
        p.waitUntilExit()
        try? handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: (log as NSString).deletingLastPathComponent)
        return (p.terminationStatus, output)
    }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-mpi-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// `key v1 v2 …` lines of a file.
    func fields(_ path: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            if let k = parts.first { out[k] = Array(parts.dropFirst()) }
        }
        return out
    }

    func testCollectivesAcrossTwoProcesses() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try launch(ranks: 2, ["collectives", "--out", dir, "--bucket-bytes", "4096"])
        XCTAssertEqual(r.status, 0, r.output)
        let S = 2
        for rank in 0..<S {
            let f = try fields(dir + "/rank-\(rank).txt")
            XCTAssertEqual(f["size"], ["\(S)"]); XCTAssertEqual(f["distributed"], ["true"])
            let base = Float(S * (S + 1) / 2)
            XCTAssertEqual(f["sum"]?.compactMap { Float($0) }, (0..<10).map { base + Float(S * $0) })
            XCTAssertEqual(f["mean"]?.compactMap { Float($0) }, (0..<10).map { Float(S - 1) + Float($0) })
            // Five buffers of 3, 1000, 7, 2500, 1 floats through 1024-float buckets.
            for (b, n) in [3, 1000, 7, 2500, 1].enumerated() {
                let expected = (0..<n).map { base + Float(S) * (Float(b) * 0.25 + Float($0 % 13)) }
                XCTAssertEqual(f["bucket\(b)"]?.compactMap { Float($0) }, expected, "bucket \(b) on rank \(rank)")
            }
            XCTAssertEqual(f["weighted"]?.compactMap { Float($0) }, [Float](repeating: base, count: 2500))
            XCTAssertEqual(f["double"]?.compactMap { Double($0) }, [0.125 + 1.125, 1e300])
            XCTAssertEqual(f["int64"], ["1", "2", "\(2 << 40)"])
            XCTAssertEqual(f["max"], ["10.0"])
            XCTAssertEqual(f["any"], ["true", "false"])
            XCTAssertEqual(f["broadcast"]?.compactMap { Float($0) }, [0, 1, 2, 3, 4])
            XCTAssertEqual(f["string"], ["run-from-rank-0", "✓"])
            XCTAssertEqual(f["gather"], ["r0,r1"])
            XCTAssertEqual(f["hosts"], ["1"])
            // MPI_ERRORS_RETURN: a bad call is one clear line, not an abort of the job.
            XCTAssertEqual(f["error"]?.joined(separator: " "),
                           "MPI error in MPI_Allreduce on rank \(rank) of 2: MPI_ERR_COUNT: invalid count argument (code 2)")
            XCTAssertGreaterThan(Int(f["mpi_calls"]?.first ?? "") ?? 0, 10)
        }
    }

    /// Must-show 1: two ranks with B/2 each give the gradients and, after several steps, the
    /// parameters of one process with B (≤ 1e-5 relative), 21 samples so the last batch splits 2 + 3.
    func testTwoRanksMatchOneProcessWithSGD() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try launch(ranks: 2, ["equivalence", "--optimizer", "sgd", "--steps", "6", "--batch", "8", "--samples", "21", "--out", dir])
        try checkEquivalence(r, dir)
    }

    /// The same through the real `Trainer.step`, its `gradientHook` doing the allreduce.
    func testTwoRanksThroughTrainerStepAndGradientHookMatchOneProcess() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try launch(ranks: 2, ["equivalence", "--optimizer", "sgd", "--via-step", "1", "--out", dir])
        try checkEquivalence(r, dir)
        XCTAssertEqual(try fields(dir + "/equivalence.txt")["via_trainer_step"], ["true"])
    }

    func testTwoRanksMatchOneProcessWithAdamWFromPretrainedWeights() throws {
        let weights = sharedModels + "/tf_efficientnet_lite0.in1k.safetensors"
        guard FileManager.default.fileExists(atPath: weights) else { throw XCTSkip("\(weights) not present") }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try launch(ranks: 2, ["equivalence", "--optimizer", "adamw", "--pretrained", weights, "--out", dir])
        try checkEquivalence(r, dir)
    }

    func checkEquivalence(_ r: (status: Int32, output: String), _ dir: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
        let f = try fields(dir + "/equivalence.txt")
        XCTAssertEqual(f["equivalence"], ["PASS"], r.output, file: file, line: line)
        XCTAssertEqual(f["ranks"], ["2"], file: file, line: line)
        let gradient = Double(f["gradient_relative_difference_worst_step"]?.first ?? "") ?? .infinity
        let parameters = Double(f["parameter_relative_difference"]?.first ?? "") ?? .infinity
        XCTAssertLessThanOrEqual(gradient, 1e-5, file: file, line: line)
        XCTAssertLessThanOrEqual(parameters, 1e-5, file: file, line: line)
        XCTAssertEqual(Double(f["replica_drift"]?.first ?? ""), 0, "both ranks hold the same parameters", file: file, line: line)
        XCTAssertGreaterThan(Int(f["allreduce_bytes_rank0"]?.first ?? "") ?? 0, 6 * 4 * 3_000_000, file: file, line: line)
    }

    /// A rank that dies ends the job (no hang); the survivor says why in one line.
    func testADeadRankEndsTheJobWithOneClearLine() throws {
        let r = try launch(ranks: 2, ["die", "--rank", "1", "--after", "3"], timeout: 120)
        XCTAssertNotEqual(r.status, 0, r.output)
        let survivor = r.output.split(separator: "\n").filter { $0.hasPrefix("adnn: rank 0 of 2: stopped by mpirun") }
        XCTAssertEqual(survivor.count, 1, r.output)
        XCTAssertTrue(r.output.contains("exits on purpose at round 3"), r.output)
    }
}
