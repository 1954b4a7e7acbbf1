import XCTest
import Foundation
import ADNN
import ADNNTrain

/// `mpirun -np 2 adnn train` against one `adnn train` process: the real binary, a tiny synthetic recipe,
/// the run folders' `last.safetensors` compared tensor by tensor (skipped with a reason when `mpirun`
/// is not on PATH; CI installs openmpi-bin).
final class TrainEquivalenceTests: XCTestCase {
    /// The `adnn` binary, built next to the test bundle.
    var binary: URL {
        let b = Bundle(for: TrainEquivalenceTests.self).bundleURL
        let candidates = [b.appendingPathComponent("adnn"), b.deletingLastPathComponent().appendingPathComponent("adnn")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[1]
    }

    var mpirun: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `adnn args` (under `mpirun -np ranks` when ranks > 0) with a time limit; output to a file.
    func adnn(ranks: Int, _ args: [String], in dir: String, timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        let p = Process()
        if ranks > 0, let mpirun {
            p.executableURL = URL(fileURLWithPath: mpirun)
            p.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", binary.path] + args
        } else {
            p.executableURL = binary
            p.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env["ADNN_NUM_THREADS"] = "1"
        env["OMPI_MCA_btl"] = "self,tcp"          // no shared-memory segments needed in containers
        p.environment = env
        let log = dir + "/log-\(UUID().uuidString.prefix(6)).txt"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle; p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate(); XCTFail("adnn did not finish in \(Int(timeout)) s") }
        p.waitUntilExit()
        try? handle.close()
        return (p.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Largest relative L2 difference of a tensor of `a` from the one of the same name in `b`, and the
    /// relative L2 difference over all compared tensors together.
    func difference(_ a: String, _ b: String) throws -> (worst: Double, overall: Double, worstName: String, compared: Int) {
        let x = try Checkpoint.read(a).tensorDict, y = try Checkpoint.read(b).tensorDict
        XCTAssertEqual(Set(x.keys), Set(y.keys))
        var worst = 0.0, worstName = "", diff2 = 0.0, norm2 = 0.0, compared = 0
        for (name, t) in x where !name.hasPrefix("optim.") {
            guard let u = y[name] else { continue }
            XCTAssertEqual(t.shape, u.shape, name)
            let s = t.scalars, r = u.scalars
            var d = 0.0, n = 0.0
            for i in 0..<min(s.count, r.count) {
                d += Double(s[i] - r[i]) * Double(s[i] - r[i]); n += Double(r[i]) * Double(r[i])
            }
            diff2 += d; norm2 += n; compared += 1
            let rel = d.squareRoot() / max(n.squareRoot(), 1e-3)
            if rel > worst { worst = rel; worstName = name }
        }
        return (worst, diff2.squareRoot() / max(norm2.squareRoot(), 1e-12), worstName, compared)
    }

    func losses(_ run: String) throws -> [Double] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return o?["loss"] as? Double ?? .nan
        }
    }

    /// N = 2 ranks with batch B/2 each = one process with batch B: a run trained for 2 epochs in one
    /// process (BN learning its statistics) is resumed for 2 more epochs (16 steps) once by one process
    /// and once by `mpirun -np 2` (SGD, augmentation on, centers and DLS on, BN frozen on its running
    /// statistics so both compute the same function; mixup and cutout on too; `--resume` under MPI on the way).
    func testTwoRanksTrainTheSameParametersAsOneProcess() throws {
        guard mpirun != nil else { throw XCTSkip("mpirun is not on PATH (install openmpi-bin)") }
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("adnn binary not built next to the tests (\(binary.path))")
        }
        let fm = FileManager.default
        let d = fm.temporaryDirectory.appendingPathComponent("adnn-mpitrain-\(getpid())-\(UUID().uuidString.prefix(6))").path
        try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null, drop_rate: 0.0, drop_path_rate: 0.0}
        loss: {ce: 0.6, center: 0.25, dls: 0.15, center_alpha: 0.5, center_per_dim: true}
        optim: {name: sgd, lr: 0.05, weight_decay: 1.0e-4, layer_decay: 1.0}
        schedule: {epochs: 4, warmup_epochs: 0, patience: 0}
        data: {format: synthetic, batch_size: 16, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0.5, crop: 0.5, color_jitter: 0.3, rotate: 0.3, noise: 0.1, cutout: 0.3, mixup: 0.5}
        seed: 5
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let common = ["train", "--config", d + "/c.yaml", "--data", "synthetic:train=128,val=32,test=0,size=24"]

        let base = try adnn(ranks: 0, common + ["--out", d + "/base", "--epochs", "2"], in: d)
        XCTAssertEqual(base.status, 0, base.output)
        for run in ["one", "two"] { try fm.copyItem(atPath: d + "/base", toPath: d + "/" + run) }
        let more = ["--resume", "--epochs", "4", "--freeze-bn"]
        let one = try adnn(ranks: 0, common + ["--out", d + "/one"] + more, in: d)
        XCTAssertEqual(one.status, 0, one.output)
        let two = try adnn(ranks: 2, common + ["--out", d + "/two"] + more, in: d)
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("distributed: 2 ranks × 1 thread (1 host)"), two.output)
        XCTAssertTrue(two.output.contains("resumed \(d)/two after epoch 2"), two.output)
        // Rank 0 alone prints and writes: one table, one new events file, one record per epoch.
        XCTAssertEqual(two.output.components(separatedBy: "best checkpoint (epoch").count - 1, 1, two.output)
        let events = try fm.contentsOfDirectory(atPath: d + "/two").filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 2)            // the base run's and the resumed run's
        let a = try losses(d + "/one"), b = try losses(d + "/two")
        XCTAssertEqual(a.count, 4); XCTAssertEqual(b.count, 4)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * abs(x)) }

        // The 16 steps moved the parameters far more than the two runs differ.
        let moved = try difference(d + "/one/last.safetensors", d + "/base/last.safetensors")
        let diff = try difference(d + "/two/last.safetensors", d + "/one/last.safetensors")
        print("2 ranks vs 1 process after 16 steps: worst tensor \(diff.worstName) \(diff.worst), all \(diff.overall) " +
              "over \(diff.compared) tensors; the steps moved them by \(moved.overall)")
        XCTAssertGreaterThan(diff.compared, 100)
        XCTAssertGreaterThan(moved.overall, 1e-3)
        XCTAssertLessThanOrEqual(diff.overall, 1e-5)
        XCTAssertLessThanOrEqual(diff.worst, 1e-5, diff.worstName)
    }
}
