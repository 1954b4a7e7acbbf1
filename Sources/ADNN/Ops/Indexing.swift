import ADNNKernels

extension Tensor {
    /// Selects entries `indices` along `axis` (repeats allowed; PyTorch `index_select`).
    /// The gradient scatter-adds back (repeated indices accumulate).
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, "indexSelect")
        let n = shape[ax]
        for i in indices {
            precondition(i >= 0 && i < n, "indexSelect: index \(i) out of range 0..<\(n) on axis \(ax) of \(shape)")
        }
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = indices.count
        let out = Tensor.empty(outShape)
        gatherMiddleAxis(out.ptr, ptr, indices: indices, outer: outer, n: n, inner: inner)
        if needsGrad(self) {
            let inShape = shape
            out.record("indexSelect", [self]) { g in
                let gx = Tensor.empty(inShape)
                scatterAddMiddleAxis(gx.ptr, g.ptr, indices: indices, outer: outer, n: n, inner: inner)
                return [gx]
            }
        }
        return out
    }

    /// Picks one entry per row: `[N, K] → [N]` with `out[i] = self[i, indices[i]]`
    /// (e.g. the log-probability of each sample's label).
    public func pick(_ indices: [Int]) -> Tensor {
        precondition(rank == 2, "pick: needs a [N, K] tensor, got shape \(shape)")
        let n = shape[0], k = shape[1]
        precondition(indices.count == n, "pick: \(indices.count) indices for \(n) rows")
        for (i, j) in indices.enumerated() {
            precondition(j >= 0 && j < k, "pick: index \(j) of row \(i) out of range 0..<\(k)")
        }
        let out = Tensor.empty([n])
        for i in 0..<n { out.ptr[i] = ptr[i * k + indices[i]] }
        if needsGrad(self) {
            out.record("pick", [self]) { g in
                let gx = Tensor(zeros: [n, k])
                for i in 0..<n { gx.ptr[i * k + indices[i]] = g.ptr[i] }
                return [gx]
            }
        }
        return out
    }

    /// Maximum over `axes` (negative axes count from the end). The gradient goes to the first
    /// maximal element in row-major order of the reduced axes (PyTorch `max(dim)` indices).
    public func max(axes: [Int], keepDims: Bool = false) -> Tensor {
        let ax = Array(Set(axes.map { normalizedAxis($0, rank: rank, "max") })).sorted()
        precondition(!ax.isEmpty, "max: no axes given for shape \(shape)")
        precondition(ax.allSatisfy { shape[$0] > 0 }, "max: cannot reduce an empty axis of \(shape)")
        let keptShape = shape.enumerated().map { ax.contains($0.offset) ? 1 : $0.element }
        let finalShape = keepDims ? keptShape : shape.enumerated().filter { !ax.contains($0.offset) }.map { $0.element }
        if ax.last! - ax.first! + 1 != ax.count {
            // Non-adjacent axes: move them to the end (in order) and reduce one merged block.
            let rest = (0..<rank).filter { !ax.contains($0) }
            let p = permuted(rest + ax)
            let r = p.max(axes: Array(rest.count..<rank), keepDims: false)
            return r.reshaped(finalShape)
        }
        let outer = shape[..<ax.first!].reduce(1, *)
        let n = ax.reduce(1) { $0 * shape[$1] }
        let inner = shape[(ax.last! + 1)...].reduce(1, *)
        let out = Tensor.empty(finalShape)
        var argmax = [Int32](repeating: 0, count: outer * inner)
        argmax.withUnsafeMutableBufferPointer { am in
            Profiler.measure("max") { maxMiddleAxis(out.ptr, am.baseAddress!, ptr, outer: outer, n: n, inner: inner) }
        }
        if needsGrad(self) {
            let inShape = shape
            out.record("max", [self]) { g in
                let gx = Tensor.empty(inShape)
                argmax.withUnsafeBufferPointer { am in
                    maxMiddleAxisBackward(gx.ptr, g.ptr, am.baseAddress!, outer: outer, n: n, inner: inner)
                }
                return [gx]
            }
        }
        return out
    }
}
