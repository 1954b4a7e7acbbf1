import XCTest
import CMPI
import ADNN
@testable import ADNNDistributed

/// The single-process communicator: every collective is the identity and no MPI function is called
/// (MPI is not even initialised), so `adnn train` without `mpirun` behaves exactly as before.
final class CommunicatorTests: XCTestCase {
    func assertMPINotInitialized(file: StaticString = #filePath, line: UInt = #line) {
        var flag: Int32 = -1
        XCTAssertEqual(MPI_Initialized(&flag), adnn_mpi_success(), file: file, line: line)   // allowed before MPI_Init
        XCTAssertEqual(flag, 0, "MPI must not be initialised without a launcher", file: file, line: line)
    }

    func testWithoutLauncherTheCommunicatorIsSingleProcessAndCallsNoMPI() throws {
        XCTAssertFalse(Communicator.isLaunched(environment: ["PATH": "/usr/bin"]))
        XCTAssertTrue(Communicator.isLaunched(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(Communicator.isLaunched(environment: ["PMIX_RANK": "0"]))
        let comm = try Communicator.initializeIfLaunched(environment: ["PATH": "/usr/bin"])
        XCTAssertEqual(comm.rank, 0); XCTAssertEqual(comm.size, 1)
        XCTAssertFalse(comm.isDistributed); XCTAssertTrue(comm.isRoot)
        XCTAssertTrue(try Communicator.initializeIfLaunched(environment: [:]) === comm, "one communicator per process")

        var v: [Float] = [1, -2, 3.5]
        try v.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
        XCTAssertEqual(v, [1, -2, 3.5])
        try v.withUnsafeMutableBufferPointer { try comm.allreduceMean($0) }
        XCTAssertEqual(v, [1, -2, 3.5])
        XCTAssertEqual(try comm.allreduceSum([0.25, 1e300]), [0.25, 1e300])
        XCTAssertEqual(try comm.allreduceSum([Int64(1) << 40, -3]), [Int64(1) << 40, -3])
        XCTAssertEqual(try comm.allreduceSum([4, 5, 6]), [4, 5, 6])
        XCTAssertEqual(try comm.allreduceMax(-7), -7)
        XCTAssertTrue(try comm.any(true)); XCTAssertFalse(try comm.any(false))
        try v.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 0) }
        XCTAssertEqual(v, [1, -2, 3.5])
        XCTAssertEqual(try comm.broadcast("runs/a b ✓"), "runs/a b ✓")
        XCTAssertEqual(try comm.allgather("x"), ["x"])
        XCTAssertEqual(try comm.hostCount(), 1)
        try comm.barrier()
        try comm.finalize()
        XCTAssertEqual(comm.mpiCalls, 0)
        XCTAssertEqual(comm.reducedBytes, 0)
        assertMPINotInitialized()
    }

    func testBucketedAllreduceAppliesOnlyTheFactorsInOneProcess() throws {
        let comm = Communicator(singleProcessBucketBytes: 16)
        let pa = UnsafeMutableBufferPointer<Float>.allocate(capacity: 7), pb = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1)
        defer { pa.deallocate(); pb.deallocate() }
        _ = pa.initialize(from: [1, 2, 3, 4, 5, 6, 7]); pb[0] = 10
        try comm.allreduceSum([pa, pb])
        XCTAssertEqual(Array(pa), [1, 2, 3, 4, 5, 6, 7]); XCTAssertEqual(Array(pb), [10])
        try comm.allreduceSum([pa, pb], weight: 0.5, scale: 4)
        XCTAssertEqual(Array(pa), [2, 4, 6, 8, 10, 12, 14]); XCTAssertEqual(Array(pb), [20])
        try comm.allreduceMean([pa, pb])
        XCTAssertEqual(Array(pb), [20])
        XCTAssertEqual(comm.mpiCalls, 0)
        assertMPINotInitialized()
    }

    func testAverageGradientsOfAWholeBatchLeavesThemUnchanged() throws {
        let comm = Communicator()
        let w = Tensor([0.5, -1, 2, 0.25], shape: [2, 2], requiresGrad: true)
        let unused = Tensor([3], shape: [1], requiresGrad: true)
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let loss = Tensor.matmul(x, w).squared().mean()
        loss.backward()
        let before = w.grad?.scalars ?? []
        XCTAssertFalse(before.isEmpty)
        XCTAssertEqual(try comm.averageGradients([w, unused], localSamples: 3), 3)
        XCTAssertEqual(w.grad?.scalars, before)
        XCTAssertNil(unused.grad, "a parameter without a gradient keeps none (the optimiser skips it)")
        XCTAssertThrowsError(try comm.averageGradients([w], localSamples: 0)) { error in
            XCTAssertTrue("\(error)".contains("no rank has samples"), "\(error)")
        }
        XCTAssertEqual(comm.mpiCalls, 0)
    }

    func testGlobalCenterUpdateMatchesCenterLossInOneProcess() throws {
        var rng = SeededRNG(seed: 11)
        let features = Tensor.normal([9, 5], rng: &rng)
        let labels = [0, 2, 2, 1, 0, 2, 3, 3, 0]
        let a = CenterLoss(classes: 4, dim: 5, alpha: 0.5), b = CenterLoss(classes: 4, dim: 5, alpha: 0.5)
        let start = Tensor.normal([4, 5], rng: &rng)
        a.centers.assign(start); b.centers.assign(start)
        a.update(features: features, labels: labels)
        try Communicator().updateCenters(b, features: features, labels: labels)
        XCTAssertEqual(a.centers.scalars, b.centers.scalars)
        XCTAssertNotEqual(a.centers.scalars, start.scalars, "the update moved the centers")
        XCTAssertThrowsError(try Communicator().updateCenters(b, features: features, labels: [9] + labels.dropFirst()))
    }

    func testThreadsPerRankAndStartupLine() {
        let comm = Communicator()
        XCTAssertEqual(comm.threadsPerRank(environment: ["ADNN_NUM_THREADS": "3"], cores: 16), 3)
        XCTAssertEqual(comm.threadsPerRank(environment: [:], cores: 2), 2)
        XCTAssertEqual(comm.startupLine(threads: 2), "single process: 1 rank × 2 threads")
        XCTAssertEqual(comm.startupLine(threads: 1, hosts: 1), "single process: 1 rank × 1 thread (1 host)")
    }

    func testMPIErrorIsOneLineNamingTheCallAndRank() {
        let e = MPIError(operation: "MPI_Allreduce", code: 15, message: MPIError.text(for: 15), rank: 1, size: 2)
        XCTAssertTrue(e.description.hasPrefix("MPI error in MPI_Allreduce on rank 1 of 2: "), e.description)
        XCTAssertFalse(e.description.contains("\n"))
        XCTAssertEqual(MPIError.text(for: 15), "MPI error code 15", "without MPI_Init the code is only named")
        assertMPINotInitialized()
    }
}
