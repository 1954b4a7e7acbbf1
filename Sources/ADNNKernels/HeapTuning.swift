import CBLAS

/// Keeps freed tensor buffers in the process heap.
///
/// glibc hands blocks above its mmap threshold (128 KiB, rising to at most 32 MiB) straight to `mmap` and
/// returns freed memory at the top of the heap to the OS, so each training step's activations — the same
/// sizes every step — came back as fresh pages that the kernel faults in and clears (2.2 % of a FER
/// training step in `perf`). With the threshold at 1 GiB and trimming off, a step reuses the previous
/// step's freed blocks. `Storage` applies it before its first allocation.
public enum HeapTuning {
    /// Applied once, on first use.
    public static let applied: Bool = {
        #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 1 << 30)
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
        return true
    }()
}
