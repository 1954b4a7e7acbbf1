import ADNNKernels

extension Tensor {
    /// Sum over `axes` (negative axes count from the end).
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let ax = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        precondition(ax.allSatisfy { $0 >= 0 && $0 < rank }, "sum: axes \(axes) out of range for shape \(shape)")
        var cur = self.detached()
        var curShape = shape
        for a in ax.sorted(by: >) {
            let outer = curShape[..<a].reduce(1, *), n = curShape[a], inner = curShape[(a + 1)...].reduce(1, *)
            var s = curShape; s[a] = 1
            let out = Tensor.empty(s)
            Profiler.measure("sum") { sumMiddleAxis(out.ptr, cur.ptr, outer: outer, n: n, inner: inner) }
            cur = out; curShape = s
        }
        let kept = curShape
        let finalShape = keepDims ? kept : shape.enumerated().filter { !ax.contains($0.offset) }.map { $0.element }
        let out = cur.storage === storage ? cur.copy().reshapedView(finalShape) : cur.reshapedView(finalShape)
        if needsGrad(self) {
            let inShape = shape
            out.record("sum", [self]) { g in [g.reshaped(kept).expanded(to: inShape)] }
        }
        return out
    }

    /// Sum of all elements (scalar, shape []).
    public func sum() -> Tensor { sum(axes: Array(0..<rank)) }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let ax = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean of all elements.
    public func mean() -> Tensor { mean(axes: Array(0..<rank)) }

    /// Broadcasts to `target` (materialised copy; differentiable).
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        guard let s = broadcastShape(shape, target), s == target else {
            preconditionFailure("expand: \(shape) does not broadcast to \(target)")
        }
        let zero = Tensor(zeros: [])
        let out = Tensor.empty(target)
        binaryBroadcast(.add, out.ptr, ptr, shape, zero.ptr, [], outShape: target)
        if needsGrad(self) { out.record("expand", [self]) { g in [g] } }
        return out
    }
}
