import Foundation
import Dispatch
import CBLAS

/// Thread control shared by every kernel.
///
/// Our own kernels split work with `DispatchQueue.concurrentPerform`; GEMM threads come from
/// OpenBLAS. Both are set to the same count so they never oversubscribe the cores: kernels run
/// one after another, never nested, so at any moment only one pool is busy.
public enum Threading {
    nonisolated(unsafe) private static var _threads: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_NUM_THREADS"], let v = Int(s), v > 0 { return v }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Number of worker threads used by kernels (defaults to the number of active cores,
    /// or `ADNN_NUM_THREADS`).
    public static var threads: Int {
        get { _threads }
        set {
            _threads = max(1, newValue)
            openblas_set_num_threads(Int32(_threads))
        }
    }

    /// Applies the current thread count to OpenBLAS. Called once by the tensor layer.
    public static func configure() {
        openblas_set_num_threads(Int32(_threads))
    }
}

/// Runs `body` over `0..<count` split into contiguous chunks, one chunk per worker.
/// Chunks never get smaller than `grain` items; small jobs run inline on the caller.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let workers = min(Threading.threads, max(1, count / max(1, grain)))
    if workers <= 1 { body(0..<count); return }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * chunk
        let hi = min(count, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}
