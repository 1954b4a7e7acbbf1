import ADNNKernels

/// A Float32 n-dimensional array with optional reverse-mode gradient tracking.
///
/// Storage is contiguous row-major; `offset` lets views (reshape, leading-axis slices) share a
/// buffer. Activations in `adnn` are channels-last (`[N, H, W, C]`); checkpoints use PyTorch
/// layouts and are converted at the module boundary (see `SPEC.md` §1).
public final class Tensor {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Underlying buffer (shared by views).
    public let storage: Storage
    /// First element of this tensor inside `storage`.
    public let offset: Int
    /// Whether gradients flow to this tensor. Leaves with `requiresGrad` receive `grad`.
    public var requiresGrad: Bool
    /// Accumulated gradient after `backward()` (leaves only, unless `retainGrad`).
    public var grad: Tensor?
    /// Keep the gradient of a non-leaf tensor after `backward()`.
    public var retainGrad = false
    /// The recorded operation that produced this tensor (nil for leaves and untracked results).
    internal var node: GradNode?

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// True when no recorded operation produced this tensor.
    public var isLeaf: Bool { node == nil }

    /// Raw read-write pointer to the first element. Valid while the tensor is alive.
    public var ptr: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// Wraps existing storage (no copy).
    public init(shape: [Int], storage: Storage, offset: Int = 0, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(offset + shape.reduce(1, *) <= storage.count, "Tensor: shape \(shape) exceeds storage")
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
    }

    /// Zero-filled tensor.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// Uninitialised tensor (kernels that overwrite every element).
    public static func empty(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(count: shape.reduce(1, *), zeroed: false))
    }

    /// Tensor filled with `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        ptr.update(repeating: value, count: count)
    }

    /// Tensor from an array of values (row-major).
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *),
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.init(zeros: shape, requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Scalar tensor.
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// Values as a Swift array (copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor has \(count) elements, shape \(shape)")
        return ptr[0]
    }

    /// Read-only buffer over the elements.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: ptr, count: count) }
    /// Mutable buffer over the elements.
    public var mutableBuffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: ptr, count: count) }

    /// Deep copy, detached from the graph.
    public func copy() -> Tensor {
        let t = Tensor.empty(shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    /// A view sharing storage, detached from the graph (no gradient flows through it).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    /// Copies values from `other` (same element count) in place; not recorded.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.shape) into \(shape)")
        ptr.update(from: other.ptr, count: count)
    }

    /// Fills with `value` in place; not recorded.
    public func fill(_ value: Float) { ptr.update(repeating: value, count: count) }

    /// Size of dimension `i` (negative counts from the end).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let n = min(count, 8)
        let head = (0..<n).map { String(format: "%.4f", ptr[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > n ? ", …" : "")])"
    }
}

import Foundation
