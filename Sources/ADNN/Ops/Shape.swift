import ADNNKernels

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

/// Normalises a possibly negative axis against `rank`, with a clear failure message.
@inline(__always)
func normalizedAxis(_ axis: Int, rank: Int, _ op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for rank \(rank)")
    return a
}

extension Tensor {
    /// Permutes axes: result dimension `k` is input dimension `order[k]` (PyTorch `permute`).
    /// Negative entries count from the end. Copies into a contiguous result (the identity order
    /// returns a view).
    public func permuted(_ order: [Int]) -> Tensor {
        let ord = order.map { $0 < 0 ? $0 + rank : $0 }
        precondition(ord.count == rank && Set(ord) == Set(0..<rank),
                     "permuted: order \(order) is not a permutation of the \(rank) axes of \(shape)")
        if ord == Array(0..<rank) { return reshaped(shape) }
        let out = Tensor.empty(ord.map { shape[$0] })
        Profiler.measure("permute") { permute(out.ptr, ptr, shape: shape, order: ord) }
        if needsGrad(self) {
            var inverse = [Int](repeating: 0, count: rank)
            for (k, a) in ord.enumerated() { inverse[a] = k }
            out.record("permute", [self]) { g in [g.permuted(inverse)] }
        }
        return out
    }

    /// Swaps axes `a` and `b` (negative counts from the end).
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        let i = normalizedAxis(a, rank: rank, "transposed"), j = normalizedAxis(b, rank: rank, "transposed")
        var order = Array(0..<rank)
        order.swapAt(i, j)
        return permuted(order)
    }

    /// Joins tensors along `axis`; all other dimensions must agree (PyTorch `torch.cat`).
    public static func concat(_ ts: [Tensor], axis: Int) -> Tensor {
        precondition(!ts.isEmpty, "concat: no tensors")
        let r = ts[0].rank
        let ax = normalizedAxis(axis, rank: r, "concat")
        for t in ts {
            precondition(t.rank == r && (0..<r).allSatisfy { $0 == ax || t.shape[$0] == ts[0].shape[$0] },
                         "concat: shapes \(ts.map { $0.shape }) differ outside axis \(ax)")
        }
        if ts.count == 1 { return ts[0].reshaped(ts[0].shape) }
        var outShape = ts[0].shape
        outShape[ax] = ts.reduce(0) { $0 + $1.shape[ax] }
        let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *)
        let outRow = outShape[ax] * inner
        let out = Tensor.empty(outShape)
        var start = 0
        var starts: [Int] = []
        for t in ts {
            starts.append(start)
            let cols = t.shape[ax] * inner
            copyRows(out.ptr + start, outStride: outRow, t.ptr, xStride: cols, rows: outer, cols: cols)
            start += cols
        }
        if needsGrad(ts) {
            let sizes = ts.map { $0.shape[ax] }
            out.record("concat", ts) { g in
                let parts = g.split(sizes: sizes, axis: ax)
                return zip(ts, parts).map { t, p in t.requiresGrad ? p : nil }
            }
        }
        return out
    }

    /// Stacks equally shaped tensors along a new axis `axis` (PyTorch `torch.stack`).
    public static func stack(_ ts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!ts.isEmpty, "stack: no tensors")
        let r = ts[0].rank
        let ax = normalizedAxis(axis, rank: r + 1, "stack")
        for t in ts { precondition(t.shape == ts[0].shape, "stack: shapes \(ts.map { $0.shape }) differ") }
        var s = ts[0].shape
        s.insert(1, at: ax)
        return concat(ts.map { $0.reshaped(s) }, axis: ax)
    }

    /// The sub-range `range` of axis `axis` (negative axis counts from the end). When every
    /// leading dimension is 1 the result is a view sharing storage; otherwise a copy.
    public func slice(axis: Int, range: Range<Int>) -> Tensor {
        let ax = normalizedAxis(axis, rank: rank, "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice: range \(range) out of bounds for axis \(ax) of size \(shape[ax]) (shape \(shape))")
        var outShape = shape
        outShape[ax] = range.count
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
        let out: Tensor
        if outer == 1 {
            out = Tensor(shape: outShape, storage: storage, offset: offset + range.lowerBound * inner)
        } else {
            out = Tensor.empty(outShape)
            copyRows(out.ptr, outStride: range.count * inner, ptr + range.lowerBound * inner,
                     xStride: shape[ax] * inner, rows: outer, cols: range.count * inner)
        }
        if needsGrad(self) {
            let inShape = shape
            out.record("slice", [self]) { g in
                let gx = Tensor(zeros: inShape)
                copyRows(gx.ptr + range.lowerBound * inner, outStride: inShape[ax] * inner, g.ptr,
                         xStride: range.count * inner, rows: outer, cols: range.count * inner)
                return [gx]
            }
        }
        return out
    }

    /// Splits axis `axis` into consecutive pieces of the given sizes (they must sum to its length).
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = normalizedAxis(axis, rank: rank, "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[ax],
                     "split: sizes \(sizes) do not sum to \(shape[ax]) (axis \(ax) of \(shape))")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: ax, range: start..<(start + n))
        }
    }

    /// Splits axis `axis` into `n` chunks of `ceil(size / n)` elements (the last may be smaller,
    /// and fewer than `n` chunks come back when the size is small), as PyTorch `torch.chunk`.
    public func chunked(_ n: Int, axis: Int) -> [Tensor] {
        precondition(n > 0, "chunked: chunk count must be positive, got \(n)")
        let ax = normalizedAxis(axis, rank: rank, "chunked")
        let d = shape[ax]
        if d == 0 { return [reshaped(shape)] }
        let size = (d + n - 1) / n
        var sizes: [Int] = []
        var left = d
        while left > 0 { sizes.append(Swift.min(size, left)); left -= size }
        return split(sizes: sizes, axis: ax)
    }
}
