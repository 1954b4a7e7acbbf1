import Foundation
import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// The group of processes that train one model together (data parallelism over MPI).
///
/// `initializeIfLaunched()` returns an MPI communicator when the process was started by `mpirun`
/// (or another MPI launcher) and a single-process communicator otherwise. The single-process
/// communicator makes no MPI call at all: every collective is the identity (rank 0 of 1), so code
/// written against `Communicator` behaves exactly as before when it runs without `mpirun`.
///
/// MPI runs with `MPI_ERRORS_RETURN` on a private duplicate of `MPI_COMM_WORLD`: a failed call throws
/// `MPIError` (one line) instead of aborting inside the library. Collectives must be called in the
/// same order on every rank, from one thread (`MPI_THREAD_FUNNELED`).
public final class Communicator: @unchecked Sendable {
    /// This process's rank, `0..<size`.
    public let rank: Int
    /// Number of processes.
    public let size: Int
    /// Rank among the processes on this host, and their number (from the launcher; 0 and 1 without one).
    public let localRank: Int, localSize: Int
    /// Float elements per allreduce bucket (`bucketBytes / 4`).
    public let bucketElements: Int

    /// Number of MPI functions this communicator has called (0 for the single-process one).
    public private(set) var mpiCalls = 0
    /// Bytes handed to float/double/int allreduces and the seconds spent in them (for step timing).
    public private(set) var reducedBytes = 0, reduceSeconds = 0.0

    /// The MPI communicator; `nil` for the single-process one.
    let comm: MPI_Comm?
    private var finalized = false
    /// False for `withBucket(bytes:)` views, which must not free the shared handle.
    private var ownsHandle = true
    private var staging: UnsafeMutablePointer<Float>?

    nonisolated(unsafe) private static var launched: Communicator?

    /// True when this communicator spans MPI processes (even if `size` is 1).
    public var isDistributed: Bool { comm != nil }
    /// True on rank 0, the only rank that prints progress and writes files.
    public var isRoot: Bool { rank == 0 }

    /// A communicator of one process that never calls MPI.
    public init(singleProcessBucketBytes bucketBytes: Int = 4 << 20) {
        rank = 0; size = 1; localRank = 0; localSize = 1
        bucketElements = max(1, bucketBytes / MemoryLayout<Float>.stride)
        comm = nil
    }

    private init(mpi comm: MPI_Comm?, rank: Int, size: Int, localRank: Int, localSize: Int, bucketBytes: Int, owner: Bool = true) {
        self.comm = comm; self.rank = rank; self.size = size; self.localRank = localRank; self.localSize = localSize
        bucketElements = max(1, bucketBytes / MemoryLayout<Float>.stride)
        ownsHandle = owner
    }

    /// The same process group with another allreduce bucket size (for measurements). It shares this
    /// communicator's MPI handle; its `finalize()` does nothing.
    public func withBucket(bytes: Int) -> Communicator {
        Communicator(mpi: comm, rank: rank, size: size, localRank: localRank, localSize: localSize, bucketBytes: bytes, owner: false)
    }

    deinit { staging?.deallocate() }

    /// Whether the environment shows an MPI launcher (`OMPI_COMM_WORLD_SIZE`, `PMIX_RANK` or `PMI_RANK`).
    public static func isLaunched(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// The process's communicator: MPI when started by an MPI launcher, otherwise single-process
    /// (no MPI call). Initialises MPI on the first call; later calls return the same communicator.
    ///
    /// - Parameter bucketBytes: size of the staging bucket of `allreduceSum(_ buffers:)` (default 4 MiB).
    public static func initializeIfLaunched(environment: [String: String] = ProcessInfo.processInfo.environment,
                                            bucketBytes: Int = 4 << 20) throws -> Communicator {
        if let c = launched { return c }
        guard isLaunched(environment: environment) else {
            let c = Communicator(singleProcessBucketBytes: bucketBytes)
            launched = c
            return c
        }
        var provided: Int32 = 0
        var rc = MPI_Init_thread(nil, nil, adnn_mpi_thread_funneled(), &provided)
        guard rc == adnn_mpi_success() else {
            throw MPIError(operation: "MPI_Init_thread", code: rc, message: MPIError.text(for: rc), rank: 0, size: 1)
        }
        let world = adnn_mpi_comm_world()
        _ = MPI_Comm_set_errhandler(world, adnn_mpi_errors_return())
        var dup: MPI_Comm? = nil
        rc = MPI_Comm_dup(world, &dup)
        var r: Int32 = 0, s: Int32 = 1
        if rc == adnn_mpi_success() { rc = MPI_Comm_rank(world, &r) }
        if rc == adnn_mpi_success() { rc = MPI_Comm_size(world, &s) }
        guard rc == adnn_mpi_success(), let comm = dup else {
            throw MPIError(operation: "MPI_Comm_dup", code: rc, message: MPIError.text(for: rc), rank: Int(r), size: Int(s))
        }
        _ = MPI_Comm_set_errhandler(comm, adnn_mpi_errors_return())
        let localRank = environment["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap { Int($0) } ?? 0
        let localSize = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        let c = Communicator(mpi: comm, rank: Int(r), size: Int(s), localRank: localRank, localSize: max(1, localSize),
                             bucketBytes: bucketBytes)
        c.mpiCalls = 6
        launched = c
        return c
    }

    /// Kernel threads for this rank: `ADNN_NUM_THREADS` if set, else the host's cores divided among the
    /// ranks on this host (so `mpirun -np 2` on 2 cores gives 1 thread per rank, not 2 × 2 spinning threads).
    public func threadsPerRank(environment: [String: String] = ProcessInfo.processInfo.environment,
                               cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        if let s = environment["ADNN_NUM_THREADS"], let v = Int(s), v > 0 { return v }
        return max(1, cores / max(1, localSize))
    }

    /// The startup line: `ranks × threads`, e.g. `distributed: 2 ranks × 1 thread (2 hosts)`.
    public func startupLine(threads: Int, hosts: Int? = nil) -> String {
        let h = hosts.map { " (\($0) host\($0 == 1 ? "" : "s"))" } ?? ""
        return "\(isDistributed ? "distributed" : "single process"): \(size) rank\(size == 1 ? "" : "s") × \(threads) thread\(threads == 1 ? "" : "s")\(h)"
    }

    // MARK: - Error handling

    /// Turns an MPI return code into `MPIError`.
    @inline(__always)
    func check(_ rc: Int32, _ operation: String) throws {
        mpiCalls += 1
        guard rc != adnn_mpi_success() else { return }
        throw MPIError(operation: operation, code: rc, message: MPIError.text(for: rc), rank: rank, size: size)
    }

    func misuse(_ operation: String, _ message: String) -> MPIError {
        MPIError(operation: operation, code: 0, message: message, rank: rank, size: size)
    }

    /// The staging bucket (allocated on first use, reused afterwards).
    var bucket: UnsafeMutablePointer<Float> {
        if let s = staging { return s }
        let s = UnsafeMutablePointer<Float>.allocate(capacity: bucketElements)
        staging = s
        return s
    }

    func timed<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer {
            reducedBytes += bytes
            reduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        return try body()
    }

    // MARK: - Process control

    /// Waits until every rank has called `barrier()`.
    public func barrier() throws {
        guard let comm else { return }
        try check(MPI_Barrier(comm), "MPI_Barrier")
    }

    /// Prints `message` as one line (prefixed by the rank under MPI) and ends the whole job with `code`:
    /// `MPI_Abort` under MPI (mpirun then stops every rank), `exit` otherwise.
    public func abort(message: String, code: Int32 = 1) -> Never {
        let prefix = isDistributed ? "adnn: rank \(rank) of \(size): " : "adnn: "
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
        if let comm, !finalized {
            _ = MPI_Abort(comm, code)
        }
        exit(code)
    }

    /// Ends MPI (collective: every rank calls it once, after its last collective). No-op without MPI.
    public func finalize() throws {
        guard let comm, !finalized, ownsHandle else { return }
        finalized = true
        var handle: MPI_Comm? = comm
        try check(MPI_Comm_free(&handle), "MPI_Comm_free")
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    /// This host's name (`MPI_Get_processor_name` under MPI, `gethostname` otherwise).
    public func processorName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if comm != nil {
            var n: Int32 = 0
            if MPI_Get_processor_name(&buffer, &n) == adnn_mpi_success() {
                mpiCalls += 1
                return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        _ = gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Number of distinct hosts among the ranks (collective).
    public func hostCount() throws -> Int {
        guard comm != nil else { return 1 }
        let names = try allgather(processorName())
        return Set(names).count
    }
}
