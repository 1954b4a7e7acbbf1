/// Binary elementwise operations with NumPy broadcasting.
public enum BinaryOp: Sendable { case add, sub, mul, div, maximum, minimum }

@inline(__always)
private func apply(_ op: BinaryOp, _ x: Float, _ y: Float) -> Float {
    switch op {
    case .add: return x + y
    case .sub: return x - y
    case .mul: return x * y
    case .div: return x / y
    case .maximum: return Swift.max(x, y)
    case .minimum: return Swift.min(x, y)
    }
}

/// Inner loop: out[i] = a[i·sa] op b[i·sb] for i < n, with sa, sb ∈ {0, 1}; SIMD16 when both are 1.
@inline(__always)
private func binaryRow(_ op: BinaryOp, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ sa: Int,
                       _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
    var i = 0
    if sa == 1 && sb == 1 {
        switch op {
        case .add:
            while i + 16 <= n {
                UnsafeMutableRawPointer(out + i).storeBytes(of: UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                i += 16
            }
        case .mul:
            while i + 16 <= n {
                UnsafeMutableRawPointer(out + i).storeBytes(of: UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                i += 16
            }
        case .sub:
            while i + 16 <= n {
                UnsafeMutableRawPointer(out + i).storeBytes(of: UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) - UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                i += 16
            }
        default: break
        }
        while i < n { out[i] = apply(op, a[i], b[i]); i += 1 }
    } else if sb == 0 {
        let y = b[0]
        if sa == 1 { while i < n { out[i] = apply(op, a[i], y); i += 1 } }
        else { let x = a[0]; let v = apply(op, x, y); while i < n { out[i] = v; i += 1 } }
    } else {
        let x = a[0]
        while i < n { out[i] = apply(op, x, b[i]); i += 1 }
    }
}

/// Broadcast shape of two shapes (NumPy rules); nil when incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let n = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Strides of `shape` placed inside `outShape` (0 on broadcast axes).
public func broadcastStrides(_ shape: [Int], in outShape: [Int]) -> [Int] {
    let lead = outShape.count - shape.count
    var strides = [Int](repeating: 0, count: outShape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[lead + i] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// out = a op b with broadcasting. `out` has `outShape`; `a`, `b` have their own shapes.
// out: [outShape], a: [aShape], b: [bShape]
public func binaryBroadcast(_ op: BinaryOp, _ out: UnsafeMutablePointer<Float>,
                            _ a: UnsafePointer<Float>, _ aShape: [Int],
                            _ b: UnsafePointer<Float>, _ bShape: [Int], outShape: [Int]) {
    let total = outShape.reduce(1, *)
    if total == 0 { return }
    if aShape == bShape {
        parallelFor(total, grain: 1 << 15) { r in binaryRow(op, out + r.lowerBound, a + r.lowerBound, 1, b + r.lowerBound, 1, r.count) }
        return
    }
    // Collapse to [rows, inner] where the last axis (possibly merged) is either dense or broadcast.
    let sa = broadcastStrides(aShape, in: outShape)
    let sb = broadcastStrides(bShape, in: outShape)
    let rank = outShape.count
    if rank == 0 { out[0] = apply(op, a[0], b[0]); return }
    let inner = outShape[rank - 1]
    let ia = sa[rank - 1] == 0 ? 0 : 1
    let ib = sb[rank - 1] == 0 ? 0 : 1
    let rows = total / Swift.max(inner, 1)
    parallelFor(rows, grain: Swift.max(1, 4096 / Swift.max(inner, 1))) { r in
        var idx = [Int](repeating: 0, count: rank)
        // decompose r.lowerBound into the leading indices
        var rem = r.lowerBound
        for d in stride(from: rank - 2, through: 0, by: -1) { idx[d] = rem % outShape[d]; rem /= outShape[d] }
        for row in r {
            var oa = 0, ob = 0
            for d in 0..<(rank - 1) { oa += idx[d] * sa[d]; ob += idx[d] * sb[d] }
            binaryRow(op, out + row * inner, a + oa, ia, b + ob, ib, inner)
            var d = rank - 2
            while d >= 0 { idx[d] += 1; if idx[d] < outShape[d] { break }; idx[d] = 0; d -= 1 }
        }
    }
}

/// Naive twin of `binaryBroadcast` (index arithmetic per element).
public func binaryBroadcastNaive(_ op: BinaryOp, _ out: UnsafeMutablePointer<Float>,
                                 _ a: UnsafePointer<Float>, _ aShape: [Int],
                                 _ b: UnsafePointer<Float>, _ bShape: [Int], outShape: [Int]) {
    let sa = broadcastStrides(aShape, in: outShape)
    let sb = broadcastStrides(bShape, in: outShape)
    let total = outShape.reduce(1, *)
    for i in 0..<total {
        var rem = i, oa = 0, ob = 0
        for d in stride(from: outShape.count - 1, through: 0, by: -1) {
            let k = rem % outShape[d]; rem /= outShape[d]
            oa += k * sa[d]; ob += k * sb[d]
        }
        out[i] = apply(op, a[oa], b[ob])
    }
}

/// Sum over the middle axis of a [outer, n, inner] array: out[o, i] = Σ_k x[o, k, i].
// out: [outer, inner], x: [outer, n, inner]
public func sumMiddleAxis(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int) {
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { r in
            for o in r {
                let p = x + o * n
                var acc = SIMD16<Float>(repeating: 0)
                var k = 0
                while k + 16 <= n { acc += UnsafeRawPointer(p + k).loadUnaligned(as: SIMD16<Float>.self); k += 16 }
                var s = acc.sum()
                while k < n { s += p[k]; k += 1 }
                out[o] = s
            }
        }
        return
    }
    // Split over (outer × inner-chunks) so a single outer (e.g. batch-norm channel sums) still uses all cores.
    let chunk = 256
    let chunks = (inner + chunk - 1) / chunk
    parallelFor(outer * chunks) { r in
        for job in r {
            let o = job / chunks, c0 = (job % chunks) * chunk, c1 = Swift.min(inner, c0 + chunk)
            let dst = out + o * inner
            for i in c0..<c1 { dst[i] = 0 }
            for k in 0..<n {
                let src = x + (o * n + k) * inner
                var i = c0
                while i + 16 <= c1 {
                    let v = UnsafeRawPointer(dst + i).loadUnaligned(as: SIMD16<Float>.self) + UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD16<Float>.self)
                    i += 16
                }
                while i < c1 { dst[i] += src[i]; i += 1 }
            }
        }
    }
}

/// Naive twin of `sumMiddleAxis` (Double accumulation).
public func sumMiddleAxisNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int) {
    for o in 0..<outer { for i in 0..<inner {
        var s = 0.0
        for k in 0..<n { s += Double(x[(o * n + k) * inner + i]) }
        out[o * inner + i] = Float(s)
    } }
}
