import ADNNKernels

/// A reference-counted, 64-byte-aligned Float32 buffer. Tensors share storage for cheap views
/// (reshape, leading-axis slices); kernels receive its raw pointer.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Whether the buffer is its own page mapping (`PageMemory`), unmapped when the storage goes.
    private let pageBacked: Bool

    /// Allocates `count` floats, zero-filled when `zeroed` is true.
    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        pageBacked = false
        pointer = Storage.heapAllocate(count)
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    /// `count` floats from the heap (64-byte aligned, `HeapTuning` applied first).
    private static func heapAllocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        _ = HeapTuning.applied
        return UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64).bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// Allocates `count` zeroed floats in pages of their own, given back to the system as soon as the
    /// storage is freed (heap blocks stay resident, see `HeapTuning`). For long-lived buffers such as the
    /// packed weight copies of a `withFrozenWeights` scope; falls back to the heap if `mmap` refuses.
    public init(pageBackedCount count: Int) {
        self.count = count
        if let raw = PageMemory.allocate(byteCount: max(1, count) * 4) {
            pageBacked = true
            pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        } else {
            pageBacked = false
            pointer = Storage.heapAllocate(count)
            pointer.update(repeating: 0, count: count)
        }
    }

    deinit {
        if pageBacked {
            PageMemory.deallocate(UnsafeMutableRawPointer(pointer), byteCount: max(1, count) * 4)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }
}
