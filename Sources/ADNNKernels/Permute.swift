// Layout kernels: axis permutation, strided block copies, gathers/scatters and max-reductions
// used by the shape/indexing ops (`Sources/ADNN/Ops/Shape.swift`, `Indexing.swift`).

/// Row-major strides of `shape`.
@inline(__always)
private func contiguousStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

/// Validates that `order` is a permutation of `0..<rank`.
@inline(__always)
private func checkPermutation(_ order: [Int], rank: Int) {
    precondition(order.count == rank && Set(order) == Set(0..<rank),
                 "permute: order \(order) is not a permutation of 0..<\(rank)")
}

/// Drops size-1 axes and merges runs of axes that stay adjacent and in order under `order`.
/// Returns the simplified input shape and the simplified order (same meaning as `order`).
private func simplifyPermutation(shape: [Int], order: [Int]) -> (shape: [Int], order: [Int]) {
    // Keep axes with size > 1.
    let kept = (0..<shape.count).filter { shape[$0] != 1 }
    var newIndex = [Int](repeating: -1, count: shape.count)
    for (k, a) in kept.enumerated() { newIndex[a] = k }
    let s1 = kept.map { shape[$0] }
    let o1 = order.filter { shape[$0] != 1 }.map { newIndex[$0] }
    if o1.isEmpty { return ([], []) }
    // Merge output-adjacent axes that are also input-adjacent (o1[i+1] == o1[i] + 1).
    var groups: [[Int]] = [[o1[0]]]            // groups of input axes, in output order
    for i in 1..<o1.count {
        if o1[i] == groups[groups.count - 1].last! + 1 { groups[groups.count - 1].append(o1[i]) }
        else { groups.append([o1[i]]) }
    }
    // Each group becomes one axis; renumber groups by their first input axis.
    let byInput = groups.indices.sorted { groups[$0][0] < groups[$1][0] }
    var groupAxis = [Int](repeating: 0, count: groups.count)
    for (newAxis, g) in byInput.enumerated() { groupAxis[g] = newAxis }
    let s2 = byInput.map { g in groups[g].reduce(1) { $0 * s1[$1] } }
    let o2 = groups.indices.map { groupAxis[$0] }
    return (s2, o2)
}

/// Tile edge of the blocked transpose (a 32×32 float tile is 4 KiB: both tiles stay in L1).
private let transposeTile = 32

/// Permutes axes: `out` has shape `shape[order[0]], shape[order[1]], …` and
/// `out[i_0, …, i_{r-1}] = x[j]` where `j[order[k]] = i_k`.
///
/// Size-1 axes are dropped and axes that stay adjacent are merged first, so an NHWC↔NCHW
/// conversion becomes a batched two-axis transpose. When the innermost axis is unchanged the
/// copy moves contiguous runs; otherwise it is done in 32×32 tiles (reads and writes both stay
/// in cache). Work is split over (outer indices × tiles).
// out: [shape permuted by order], x: [shape]
public func permute(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, shape: [Int], order: [Int]) {
    checkPermutation(order, rank: shape.count)
    let total = shape.reduce(1, *)
    if total == 0 { return }
    let (s, o) = simplifyPermutation(shape: shape, order: order)
    let rank = s.count
    if rank <= 1 {
        parallelFor(total, grain: 1 << 16) { r in (out + r.lowerBound).update(from: x + r.lowerBound, count: r.count) }
        return
    }
    let inStrides = contiguousStrides(s)
    let outShape = o.map { s[$0] }
    let outStrides = contiguousStrides(outShape)
    // Output stride of each input axis.
    var outStrideOfIn = [Int](repeating: 0, count: rank)
    for (k, a) in o.enumerated() { outStrideOfIn[a] = outStrides[k] }

    if o[rank - 1] == rank - 1 {
        // Innermost axis unchanged (only outer axes move): copy contiguous runs.
        let inner = s[rank - 1]
        let rows = total / inner
        let outerShape = Array(outShape.dropLast())
        let outerInStrides = o.dropLast().map { inStrides[$0] }
        parallelFor(rows, grain: Swift.max(1, 4096 / inner)) { r in
            for row in r {
                var rem = row, src = 0
                for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
                    src += (rem % outerShape[d]) * outerInStrides[d]; rem /= outerShape[d]
                }
                (out + row * inner).update(from: x + src, count: inner)
            }
        }
        return
    }

    // Blocked 2-D transpose between p (innermost in the output) and q (innermost in the input).
    let p = o[rank - 1], q = rank - 1
    let np = s[p], nq = s[q]
    let isp = inStrides[p]          // input stride of p (q has input stride 1)
    let osq = outStrideOfIn[q]      // output stride of q (p has output stride 1)
    let batchAxes = o.filter { $0 != p && $0 != q }       // in output order
    let batchShape = batchAxes.map { s[$0] }
    let batchIn = batchAxes.map { inStrides[$0] }
    let batchOut = batchAxes.map { outStrideOfIn[$0] }
    let batch = batchShape.reduce(1, *)
    let tile = transposeTile
    let tilesP = (np + tile - 1) / tile, tilesQ = (nq + tile - 1) / tile
    let jobs = batch * tilesP * tilesQ
    parallelFor(jobs, grain: Swift.max(1, 16384 / (tile * tile))) { r in
        for job in r {
            var rem = job / (tilesP * tilesQ)
            let t = job % (tilesP * tilesQ)
            let p0 = (t / tilesQ) * tile, q0 = (t % tilesQ) * tile
            let p1 = Swift.min(np, p0 + tile), q1 = Swift.min(nq, q0 + tile)
            var src = 0, dst = 0
            for d in stride(from: batchShape.count - 1, through: 0, by: -1) {
                let i = rem % batchShape[d]; rem /= batchShape[d]
                src += i * batchIn[d]; dst += i * batchOut[d]
            }
            let xs = x + src, os = out + dst
            for jq in q0..<q1 {
                let orow = os + jq * osq
                let icol = xs + jq
                var jp = p0
                while jp + 4 <= p1 {
                    orow[jp] = icol[jp * isp]
                    orow[jp + 1] = icol[(jp + 1) * isp]
                    orow[jp + 2] = icol[(jp + 2) * isp]
                    orow[jp + 3] = icol[(jp + 3) * isp]
                    jp += 4
                }
                while jp < p1 { orow[jp] = icol[jp * isp]; jp += 1 }
            }
        }
    }
}

/// Naive twin of `permute`: one index decomposition per output element.
// out: [shape permuted by order], x: [shape]
public func permuteNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, shape: [Int], order: [Int]) {
    checkPermutation(order, rank: shape.count)
    let total = shape.reduce(1, *)
    let inStrides = contiguousStrides(shape)
    let outShape = order.map { shape[$0] }
    for i in 0..<total {
        var rem = i, src = 0
        for k in stride(from: outShape.count - 1, through: 0, by: -1) {
            src += (rem % outShape[k]) * inStrides[order[k]]; rem /= outShape[k]
        }
        out[i] = x[src]
    }
}

/// Copies `rows` runs of `cols` floats: `out[r·outStride + c] = x[r·xStride + c]`.
/// Used by concat / split / slice along any axis (rows = product of the leading axes).
// out: [rows, outStride], x: [rows, xStride]
public func copyRows(_ out: UnsafeMutablePointer<Float>, outStride: Int, _ x: UnsafePointer<Float>, xStride: Int,
                     rows: Int, cols: Int) {
    if rows == 0 || cols == 0 { return }
    if outStride == cols && xStride == cols {
        let n = rows * cols
        parallelFor(n, grain: 1 << 16) { r in (out + r.lowerBound).update(from: x + r.lowerBound, count: r.count) }
        return
    }
    parallelFor(rows, grain: Swift.max(1, 16384 / cols)) { r in
        for row in r { (out + row * outStride).update(from: x + row * xStride, count: cols) }
    }
}

/// Gathers blocks along a middle axis: `out[o, k, :] = x[o, indices[k], :]` for an
/// `x` of shape `[outer, n, inner]` and `out` of shape `[outer, indices.count, inner]`.
// out: [outer, k, inner], x: [outer, n, inner]
public func gatherMiddleAxis(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, indices: [Int],
                             outer: Int, n: Int, inner: Int) {
    let k = indices.count
    for i in indices { precondition(i >= 0 && i < n, "gather: index \(i) out of range 0..<\(n)") }
    if outer == 0 || k == 0 || inner == 0 { return }
    indices.withUnsafeBufferPointer { idx in
        parallelFor(outer * k, grain: Swift.max(1, 16384 / inner)) { r in
            for job in r {
                let o = job / k, j = job % k
                (out + job * inner).update(from: x + (o * n + idx[j]) * inner, count: inner)
            }
        }
    }
}

/// Adjoint of `gatherMiddleAxis`: `gx` is zeroed, then `gx[o, indices[k], :] += g[o, k, :]`
/// (repeated indices accumulate).
// gx: [outer, n, inner], g: [outer, k, inner]
public func scatterAddMiddleAxis(_ gx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, indices: [Int],
                                 outer: Int, n: Int, inner: Int) {
    let k = indices.count
    gx.update(repeating: 0, count: outer * n * inner)
    if outer == 0 || k == 0 || inner == 0 { return }
    indices.withUnsafeBufferPointer { idx in
        // Parallel over `outer` only: different o never collide.
        parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(1, k * inner))) { r in
            for o in r {
                for j in 0..<k {
                    let dst = gx + (o * n + idx[j]) * inner, src = g + (o * k + j) * inner
                    for i in 0..<inner { dst[i] += src[i] }
                }
            }
        }
    }
}

/// Maximum over the middle axis of `[outer, n, inner]`: `out[o, i] = max_k x[o, k, i]` and
/// `argmax[o, i]` = the first `k` reaching it (NaN propagates: a NaN wins and is kept).
// out: [outer, inner], argmax: [outer, inner], x: [outer, n, inner]
public func maxMiddleAxis(_ out: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                          _ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int) {
    precondition(n > 0, "max: reduced axis is empty")
    if outer == 0 || inner == 0 { return }
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, 8192 / n)) { r in
            for o in r {
                let p = x + o * n
                var best = p[0], bi = 0
                if !best.isNaN {
                    for k in 1..<n {
                        let v = p[k]
                        if v > best || v.isNaN { best = v; bi = k; if v.isNaN { break } }
                    }
                }
                out[o] = best; argmax[o] = Int32(bi)
            }
        }
        return
    }
    let chunk = 256
    let chunks = (inner + chunk - 1) / chunk
    parallelFor(outer * chunks, grain: Swift.max(1, 8192 / Swift.max(1, n * Swift.min(inner, chunk)))) { r in
        for job in r {
            let o = job / chunks, c0 = (job % chunks) * chunk, c1 = Swift.min(inner, c0 + chunk)
            let dst = out + o * inner, am = argmax + o * inner
            let base = x + o * n * inner
            for i in c0..<c1 { dst[i] = base[i]; am[i] = 0 }
            if n > 1 {
                for k in 1..<n {
                    let src = base + k * inner
                    for i in c0..<c1 {
                        let v = src[i], b = dst[i]
                        if v > b || (v.isNaN && !b.isNaN) { dst[i] = v; am[i] = Int32(k) }
                    }
                }
            }
        }
    }
}

/// Naive twin of `maxMiddleAxis`.
// out: [outer, inner], argmax: [outer, inner], x: [outer, n, inner]
public func maxMiddleAxisNaive(_ out: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                               _ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int) {
    precondition(n > 0, "max: reduced axis is empty")
    for o in 0..<outer {
        for i in 0..<inner {
            var best = x[o * n * inner + i], bi = 0
            for k in 0..<n {
                let v = x[(o * n + k) * inner + i]
                if best.isNaN { break }
                if v > best || v.isNaN { best = v; bi = k }
            }
            out[o * inner + i] = best; argmax[o * inner + i] = Int32(bi)
        }
    }
}

/// Adjoint of `maxMiddleAxis`: `gx` is zeroed, then `gx[o, argmax[o, i], i] = g[o, i]`.
// gx: [outer, n, inner], g: [outer, inner], argmax: [outer, inner]
public func maxMiddleAxisBackward(_ gx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                  _ argmax: UnsafePointer<Int32>, outer: Int, n: Int, inner: Int) {
    gx.update(repeating: 0, count: outer * n * inner)
    parallelFor(outer, grain: Swift.max(1, 16384 / Swift.max(1, inner))) { r in
        for o in r {
            for i in 0..<inner {
                gx[(o * n + Int(argmax[o * inner + i])) * inner + i] = g[o * inner + i]
            }
        }
    }
}
