import Foundation
import Synchronization
import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Thread control shared by every kernel.
///
/// Kernels split work with `parallelFor`, which runs on one persistent pool (`threads − 1` workers
/// plus the calling thread). OpenBLAS runs single-threaded: `sgemm` splits large products into
/// independent blocks on the same pool, so one set of threads serves every kernel and OpenBLAS's own
/// busy-waiting threads never compete with ours for the cores.
public enum Threading {
    nonisolated(unsafe) private static var _threads: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_NUM_THREADS"], let v = Int(s), v > 0 { return v }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Number of threads used by kernels (defaults to the number of active cores, or
    /// `ADNN_NUM_THREADS`).
    public static var threads: Int {
        get { _threads }
        set {
            _threads = max(1, newValue)
            configure()
        }
    }

    /// Keeps OpenBLAS single-threaded (our pool parallelises GEMMs). Called before the first GEMM.
    public static func configure() {
        openblas_set_num_threads(1)
    }
}

/// A fixed pool of worker threads that spin briefly between jobs, then sleep.
///
/// A job is `chunks` independent pieces. Each participant (the caller is participant 0, worker w is w + 1)
/// owns a contiguous home range of the pieces — the same range for every job of the same size — and
/// claims from it first, then steals from the others' ranges, so a worker that the OS has descheduled
/// never holds up the job while, in the common case, each thread works on the same rows of every layer
/// and finds them in its own L2 (with one shared counter the pieces went to whoever came first, and a
/// 1296-pixel 16→96 1×1 convolution ran only 1.46× faster on 2 threads than on 1). Each range has its own counter (job id in the high 32 bits, next piece in the low
/// 32), claimed with compare-and-swap, which ties every claim to the job current at that moment.
final class WorkerPool: @unchecked Sendable {
    /// Job description, written by the caller before the job id is published.
    struct Slot {
        var body: UnsafeRawPointer? = nil      // → ((Int) -> Void), alive while the job runs
        var chunks = 0
    }

    /// One claim counter on its own cache lines.
    final class ClaimCounter {
        let value = Atomic<UInt64>(0)
        private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    let workers: Int
    /// Publishes the job id (workers wait for it to change).
    private let counter = Atomic<UInt64>(0)
    /// Home-range counters, one per participant.
    private let claims: [ClaimCounter]
    private let done = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    /// 1 while the caller sleeps waiting for the last piece.
    private let callerWaiting = Atomic<Int>(0)
    private let slots: UnsafeMutablePointer<Slot>
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private let doneCond: UnsafeMutablePointer<pthread_cond_t>
    /// How long an idle worker (or the caller waiting for the last piece) spins before it sleeps.
    /// Short by default: on a machine shared with other jobs a spinning thread uses up its fair share
    /// of the CPU and is then scheduled late when work arrives; a sleeping one is woken promptly.
    /// `ADNN_SPIN_US` overrides it (microseconds).
    private let spinNanos: UInt64 = {
        if let s = ProcessInfo.processInfo.environment["ADNN_SPIN_US"], let v = UInt64(s) { return v * 1000 }
        return 20_000
    }()

    init(workers: Int) {
        self.workers = workers
        claims = (0...workers).map { _ in ClaimCounter() }
        slots = .allocate(capacity: 2)
        slots.initialize(repeating: Slot(), count: 2)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        doneCond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        pthread_cond_init(doneCond, nil)
        for w in 0..<workers {
            let t = Thread { self.workerLoop(participant: w + 1) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    @inline(__always) private static func jobID(_ v: UInt64) -> UInt64 { v >> 32 }

    /// End (exclusive) of participant `p`'s home range of `chunks` pieces.
    @inline(__always) private func rangeEnd(_ p: Int, chunks: Int) -> Int { (p + 1) * chunks / (workers + 1) }

    /// Claims and runs pieces of job `jid` from participant `p`'s range until it is empty or the job changed.
    @inline(__always)
    private func drain(_ p: Int, _ jid: UInt64, _ slot: Slot, notify: Bool) -> Bool {
        let c = claims[p]
        let end = rangeEnd(p, chunks: slot.chunks)
        while true {
            let v = c.value.load(ordering: .acquiring)
            if WorkerPool.jobID(v) != jid { return false }
            let idx = Int(v & 0xFFFF_FFFF)
            if idx >= end { return true }
            guard c.value.compareExchange(expected: v, desired: v + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            slot.body!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(idx)
            let finished = done.add(1, ordering: .sequentiallyConsistent).newValue
            if notify && finished == slot.chunks && callerWaiting.load(ordering: .sequentiallyConsistent) != 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(doneCond)
                pthread_mutex_unlock(mutex)
            }
        }
    }

    /// Runs participant `p`'s home range of job `jid`, then whatever is left in the others' ranges.
    @inline(__always)
    private func runPieces(_ jid: UInt64, participant p: Int, notify: Bool) {
        let slot = slots[Int(jid & 1)]
        guard drain(p, jid, slot, notify: notify) else { return }
        let n = workers + 1
        for step in 1..<n where !drain((p + step) % n, jid, slot, notify: notify) { return }
    }

    private func workerLoop(participant: Int) {
        var seen = WorkerPool.jobID(counter.load(ordering: .acquiring))
        while true {
            var jid = WorkerPool.jobID(counter.load(ordering: .acquiring))
            if jid == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while jid == seen {
                    spins += 1
                    if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds - start > spinNanos {
                        pthread_mutex_lock(mutex)
                        sleepers.add(1, ordering: .sequentiallyConsistent)
                        while WorkerPool.jobID(counter.load(ordering: .sequentiallyConsistent)) == seen {
                            pthread_cond_wait(cond, mutex)
                        }
                        sleepers.subtract(1, ordering: .sequentiallyConsistent)
                        pthread_mutex_unlock(mutex)
                        spins = 0
                    }
                    jid = WorkerPool.jobID(counter.load(ordering: .acquiring))
                }
            }
            seen = jid
            runPieces(jid, participant: participant, notify: true)
        }
    }

    /// Runs `body(i)` for every `i in 0..<chunks` on the pool and the calling thread; returns when all
    /// are done. Returns false (running nothing) when the pool is already busy (nested or concurrent use).
    func run(chunks: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { esc in
            var fn: (Int) -> Void = esc
            withUnsafePointer(to: &fn) { fp in
                let jid = WorkerPool.jobID(counter.load(ordering: .relaxed)) + 1
                slots[Int(jid & 1)] = Slot(body: UnsafeRawPointer(fp), chunks: chunks)
                done.store(0, ordering: .relaxed)
                for p in 0...workers {
                    claims[p].value.store(jid << 32 | UInt64(p == 0 ? 0 : rangeEnd(p - 1, chunks: chunks)), ordering: .releasing)
                }
                counter.store(jid << 32, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex)
                    pthread_cond_broadcast(cond)
                    pthread_mutex_unlock(mutex)
                }
                runPieces(jid, participant: 0, notify: false)
                if done.load(ordering: .acquiring) < chunks {
                    let start = DispatchTime.now().uptimeNanoseconds
                    var spins = 0
                    while done.load(ordering: .acquiring) < chunks {
                        spins += 1
                        if spins & 63 == 0 && DispatchTime.now().uptimeNanoseconds - start > spinNanos {
                            pthread_mutex_lock(mutex)
                            callerWaiting.store(1, ordering: .sequentiallyConsistent)
                            while done.load(ordering: .sequentiallyConsistent) < chunks { pthread_cond_wait(doneCond, mutex) }
                            callerWaiting.store(0, ordering: .sequentiallyConsistent)
                            pthread_mutex_unlock(mutex)
                        }
                    }
                }
            }
        }
        busy.store(false, ordering: .releasing)
        return true
    }
}

/// The pool for the current thread count (rebuilt when `Threading.threads` changes; old pools idle).
nonisolated(unsafe) private var sharedPool: WorkerPool? = nil
private let poolLock = NSLock()

@inline(__always) private func currentPool() -> WorkerPool? {
    let want = Threading.threads - 1
    if want <= 0 { return nil }
    if let p = sharedPool, p.workers == want { return p }
    poolLock.lock(); defer { poolLock.unlock() }
    if let p = sharedPool, p.workers == want { return p }
    let p = WorkerPool(workers: want)
    sharedPool = p
    return p
}

/// Chunks per thread that `parallelFor` cuts a job into (4; `ADNN_CHUNKS_PER_THREAD` overrides it, for
/// measurements).
let chunksPerThread: Int = {
    if let s = ProcessInfo.processInfo.environment["ADNN_CHUNKS_PER_THREAD"], let v = Int(s), v > 0 { return v }
    return 4
}()

/// Runs `body` over `0..<count` split into contiguous chunks of at least `grain` items, shared out
/// dynamically between the calling thread and the pool (up to four chunks per thread, so a thread
/// that is descheduled does not hold up the job). Small jobs, and calls made while the pool is busy
/// (nested `parallelFor`), run inline on the caller.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = Threading.threads
    let maxChunks = count / Swift.max(1, grain)
    if threads <= 1 || maxChunks <= 1 { body(0..<count); return }
    let chunks = Swift.min(maxChunks, count <= threads ? count : threads * chunksPerThread)
    parallelChunks(count, chunks: chunks, body)
}

/// Splits `0..<count` into exactly `chunks` near-equal contiguous ranges and runs them on the pool.
public func parallelChunks(_ count: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let n = Swift.max(1, Swift.min(chunks, count))
    guard n > 1, let pool = currentPool() else { body(0..<count); return }
    let base = count / n, extra = count % n
    let ran = pool.run(chunks: n) { i in
        let lo = i * base + Swift.min(i, extra)
        body(lo..<(lo + base + (i < extra ? 1 : 0)))
    }
    if !ran { body(0..<count) }
}
