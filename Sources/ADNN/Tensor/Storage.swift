import ADNNKernels

/// A reference-counted, 64-byte-aligned Float32 buffer. Tensors share storage for cheap views
/// (reshape, leading-axis slices); kernels receive its raw pointer.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Allocates `count` floats, zero-filled when `zeroed` is true.
    public init(count: Int, zeroed: Bool = true) {
        _ = HeapTuning.applied
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
