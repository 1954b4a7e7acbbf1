extension Tensor {
    /// A view with a new shape (same element count; one dimension may be -1). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(shape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshape: \(shape) (\(count) elements) to \(newShape)")
        let out = reshapedView(s)
        if needsGrad(self) {
            let inShape = shape
            out.record("reshape", [self]) { g in [g.reshapedView(inShape)] }
        }
        return out
    }

    /// Unrecorded view with a new shape.
    func reshapedView(_ s: [Int]) -> Tensor { Tensor(shape: s, storage: storage, offset: offset) }

    /// Flattens dimensions from `start` on.
    public func flattened(from start: Int = 1) -> Tensor {
        reshaped(Array(shape[..<start]) + [shape[start...].reduce(1, *)])
    }
}
