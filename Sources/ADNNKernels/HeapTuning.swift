import CBLAS
#if canImport(Glibc)
import Glibc
#endif

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

/// Page-granular memory for buffers that must give their memory back to the system when dropped or
/// released, whatever `HeapTuning` keeps in the heap: the packed weight copies of a
/// `withFrozenWeights(releasingWeights: true)` scope and the weights it releases.
public enum PageMemory {
    /// The system page size in bytes.
    public static let pageSize: Int = {
        #if os(Linux)
        let s = sysconf(Int32(_SC_PAGESIZE))
        return s > 0 ? s : 4096
        #else
        return 4096
        #endif
    }()

    /// Gives the whole pages inside [`pointer`, `pointer` + `byteCount`) back to the system
    /// (`madvise(MADV_DONTNEED)`): they leave the resident set and read as zero until written again. Bytes
    /// of the partial pages at either end are left alone (they may belong to other allocations).
    /// - Returns: the number of bytes released (0 when the range holds no whole page).
    @discardableResult
    public static func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) -> Int {
        #if os(Linux)
        let start = pageCeil(Int(bitPattern: pointer)), end = pageFloor(Int(bitPattern: pointer) + byteCount)
        guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return 0 }
        return madvise(p, end - start, Int32(MADV_DONTNEED)) == 0 ? end - start : 0
        #else
        return 0
        #endif
    }

    /// `address` rounded down / up to a page boundary.
    static func pageFloor(_ address: Int) -> Int { address / pageSize * pageSize }
    static func pageCeil(_ address: Int) -> Int { pageFloor(address + pageSize - 1) }

    /// Releases a buffer front to back as it is consumed: each call gives back the whole pages of
    /// [`base`, `base` + `consumedBytes`) not given back by an earlier call of this releaser.
    public final class Releaser {
        private let base: UnsafeMutableRawPointer
        private var next: Int
        public init(_ base: UnsafeMutableRawPointer) {
            self.base = base
            next = PageMemory.pageCeil(Int(bitPattern: base))
        }
        public func consumed(_ consumedBytes: Int) {
            let end = PageMemory.pageFloor(Int(bitPattern: base) + consumedBytes)
            guard end > next, let p = UnsafeMutableRawPointer(bitPattern: next) else { return }
            PageMemory.release(p, byteCount: end - next)
            next = end
        }
    }

    /// `byteCount` bytes of zeroed, page-aligned anonymous memory of their own (`mmap`), returned to the
    /// system by `deallocate`; nil when the system refuses.
    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer? {
        #if os(Linux)
        let p = mmap(nil, max(1, byteCount), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return p
        #else
        return UnsafeMutableRawPointer.allocate(byteCount: max(1, byteCount), alignment: 64)
        #endif
    }

    /// Frees memory from `allocate(byteCount:)` (the same `byteCount`).
    public static func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        #if os(Linux)
        munmap(pointer, max(1, byteCount))
        #else
        pointer.deallocate()
        #endif
    }
}
