import Foundation

// Softmax / log-softmax over one axis of a tensor viewed as [outer, n, inner], and the fused
// softmax cross-entropy kernels. Numerically stable (the row maximum is subtracted before exp).
// The last-axis case (inner == 1) runs contiguous SIMD16 rows; other axes run 16 inner lanes at a
// time with a stride of `inner`. Every kernel has a `...Naive` twin (Double arithmetic).

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Row maximum (−inf for an empty row).
@inline(__always) private func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var mv = SIMD16<Float>(repeating: -.infinity)
    var i = 0
    while i + 16 <= n { let v = load16(x + i); mv.replace(with: v, where: v .> mv); i += 16 }
    var m = mv.max()
    while i < n { m = Swift.max(m, x[i]); i += 1 }
    return m
}

/// Σ exp(x − m) over a row; when `store` is non-nil the exponentials are written there.
@inline(__always) private func rowSumExp(_ x: UnsafePointer<Float>, _ n: Int, _ m: Float,
                                         _ store: UnsafeMutablePointer<Float>?) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    let mv = SIMD16<Float>(repeating: m)
    var i = 0
    if let store {
        while i + 16 <= n { let e = vectorExp(load16(x + i) - mv); store16(store + i, e); acc += e; i += 16 }
    } else {
        while i + 16 <= n { acc += vectorExp(load16(x + i) - mv); i += 16 }
    }
    var s = acc.sum()
    while i < n {
        let e = Foundation.exp(x[i] - m)
        store?[i] = e
        s += e
        i += 1
    }
    return s
}

/// Softmax (or log-softmax) of one contiguous row.
@inline(__always) private func softmaxRow(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, _ log: Bool) {
    let m = rowMax(x, n)
    if log {
        let lse = m + Foundation.log(rowSumExp(x, n, m, nil))
        let lv = SIMD16<Float>(repeating: lse)
        var i = 0
        while i + 16 <= n { store16(out + i, load16(x + i) - lv); i += 16 }
        while i < n { out[i] = x[i] - lse; i += 1 }
    } else {
        let inv = 1 / rowSumExp(x, n, m, out)
        var i = 0
        while i + 16 <= n { store16(out + i, load16(out + i) * inv); i += 16 }
        while i < n { out[i] *= inv; i += 1 }
    }
}

/// Softmax (`log == false`) or log-softmax (`log == true`) over the middle axis.
// out, x: [outer, n, inner]
public func softmaxForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                           outer: Int, n: Int, inner: Int, log: Bool) {
    if outer == 0 || n == 0 || inner == 0 { return }
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, 8192 / n)) { r in
            for o in r { softmaxRow(out + o * n, x + o * n, n, log) }
        }
        return
    }
    let groups = (inner + 15) / 16
    parallelFor(outer * groups, grain: Swift.max(1, 8192 / (16 * n))) { r in
        for job in r {
            let o = job / groups, c0 = (job % groups) * 16
            let base = o * n * inner + c0
            if c0 + 16 <= inner {
                var m = SIMD16<Float>(repeating: -.infinity)
                for k in 0..<n { let v = load16(x + base + k * inner); m.replace(with: v, where: v .> m) }
                var s = SIMD16<Float>(repeating: 0)
                for k in 0..<n {
                    let e = vectorExp(load16(x + base + k * inner) - m)
                    if !log { store16(out + base + k * inner, e) }
                    s += e
                }
                if log {
                    let lse = m + logVector(s)
                    for k in 0..<n { store16(out + base + k * inner, load16(x + base + k * inner) - lse) }
                } else {
                    let inv = 1 / s
                    for k in 0..<n { store16(out + base + k * inner, load16(out + base + k * inner) * inv) }
                }
            } else {
                for c in c0..<inner {
                    let xb = x + o * n * inner + c, ob = out + o * n * inner + c
                    var m = -Float.infinity
                    for k in 0..<n { m = Swift.max(m, xb[k * inner]) }
                    var s: Float = 0
                    for k in 0..<n { let e = Foundation.exp(xb[k * inner] - m); if !log { ob[k * inner] = e }; s += e }
                    if log {
                        let lse = m + Foundation.log(s)
                        for k in 0..<n { ob[k * inner] = xb[k * inner] - lse }
                    } else {
                        let inv = 1 / s
                        for k in 0..<n { ob[k * inner] *= inv }
                    }
                }
            }
        }
    }
}

@inline(__always) private func logVector(_ v: SIMD16<Float>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for l in 0..<16 { r[l] = Foundation.log(v[l]) }
    return r
}

/// Naive twin of `softmaxForward` (Double arithmetic).
public func softmaxForwardNaive(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                outer: Int, n: Int, inner: Int, log: Bool) {
    for o in 0..<outer {
        for c in 0..<inner {
            let at = { (k: Int) in o * n * inner + k * inner + c }
            var m = -Double.infinity
            for k in 0..<n { m = Swift.max(m, Double(x[at(k)])) }
            var s = 0.0
            for k in 0..<n { s += Foundation.exp(Double(x[at(k)]) - m) }
            for k in 0..<n {
                let v = Double(x[at(k)]) - m
                out[at(k)] = Float(log ? v - Foundation.log(s) : Foundation.exp(v) / s)
            }
        }
    }
}

/// Backward of softmax / log-softmax from the forward *output* `y`:
/// softmax: dx = y ⊙ (g − Σ g·y); log-softmax: dx = g − exp(y) · Σ g (sums over the middle axis).
// dx, g, y: [outer, n, inner]
public func softmaxBackward(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                            outer: Int, n: Int, inner: Int, log: Bool) {
    if outer == 0 || n == 0 || inner == 0 { return }
    if inner == 1 {
        parallelFor(outer, grain: Swift.max(1, 8192 / n)) { r in
            for o in r {
                let gr = g + o * n, yr = y + o * n, dr = dx + o * n
                var acc = SIMD16<Float>(repeating: 0)
                var i = 0
                if log {
                    while i + 16 <= n { acc += load16(gr + i); i += 16 }
                    var s = acc.sum()
                    while i < n { s += gr[i]; i += 1 }
                    let sv = SIMD16<Float>(repeating: s)
                    i = 0
                    while i + 16 <= n { store16(dr + i, load16(gr + i) - vectorExp(load16(yr + i)) * sv); i += 16 }
                    while i < n { dr[i] = gr[i] - Foundation.exp(yr[i]) * s; i += 1 }
                } else {
                    while i + 16 <= n { acc += load16(gr + i) * load16(yr + i); i += 16 }
                    var s = acc.sum()
                    while i < n { s += gr[i] * yr[i]; i += 1 }
                    let sv = SIMD16<Float>(repeating: s)
                    i = 0
                    while i + 16 <= n { store16(dr + i, load16(yr + i) * (load16(gr + i) - sv)); i += 16 }
                    while i < n { dr[i] = yr[i] * (gr[i] - s); i += 1 }
                }
            }
        }
        return
    }
    let groups = (inner + 15) / 16
    parallelFor(outer * groups, grain: Swift.max(1, 8192 / (16 * n))) { r in
        for job in r {
            let o = job / groups, c0 = (job % groups) * 16
            let base = o * n * inner + c0
            if c0 + 16 <= inner {
                var s = SIMD16<Float>(repeating: 0)
                for k in 0..<n {
                    let p = base + k * inner
                    s += log ? load16(g + p) : load16(g + p) * load16(y + p)
                }
                for k in 0..<n {
                    let p = base + k * inner
                    store16(dx + p, log ? load16(g + p) - vectorExp(load16(y + p)) * s : load16(y + p) * (load16(g + p) - s))
                }
            } else {
                for c in c0..<inner {
                    let b = o * n * inner + c
                    var s: Float = 0
                    for k in 0..<n { let p = b + k * inner; s += log ? g[p] : g[p] * y[p] }
                    for k in 0..<n {
                        let p = b + k * inner
                        dx[p] = log ? g[p] - Foundation.exp(y[p]) * s : y[p] * (g[p] - s)
                    }
                }
            }
        }
    }
}

/// Naive twin of `softmaxBackward` (Double arithmetic).
public func softmaxBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                 outer: Int, n: Int, inner: Int, log: Bool) {
    for o in 0..<outer {
        for c in 0..<inner {
            let at = { (k: Int) in o * n * inner + k * inner + c }
            var s = 0.0
            for k in 0..<n { s += log ? Double(g[at(k)]) : Double(g[at(k)]) * Double(y[at(k)]) }
            for k in 0..<n {
                let gv = Double(g[at(k)]), yv = Double(y[at(k)])
                dx[at(k)] = Float(log ? gv - Foundation.exp(yv) * s : yv * (gv - s))
            }
        }
    }
}

// MARK: - Softmax cross-entropy

/// Per-row softmax cross-entropy with integer labels: `loss[i] = logsumexp(x_i) − x_i[labels[i]]`,
/// and the row softmax written to `probs` for the backward pass. Labels must lie in 0..<classes.
// loss: [rows], probs: [rows, classes], logits: [rows, classes], labels: [rows]
public func softmaxCrossEntropyLabels(_ loss: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                                      _ logits: UnsafePointer<Float>, _ labels: UnsafePointer<Int>,
                                      rows: Int, classes: Int) {
    parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(classes, 1))) { r in
        for i in r {
            let x = logits + i * classes, p = probs + i * classes
            let m = rowMax(x, classes)
            let s = rowSumExp(x, classes, m, p)
            let inv = 1 / s
            for k in 0..<classes { p[k] *= inv }
            loss[i] = (m + Foundation.log(s)) - x[labels[i]]
        }
    }
}

/// Naive twin of `softmaxCrossEntropyLabels` (Double arithmetic).
public func softmaxCrossEntropyLabelsNaive(_ loss: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                                           _ logits: UnsafePointer<Float>, _ labels: UnsafePointer<Int>,
                                           rows: Int, classes: Int) {
    for i in 0..<rows {
        let x = logits + i * classes
        var m = -Double.infinity
        for k in 0..<classes { m = Swift.max(m, Double(x[k])) }
        var s = 0.0
        for k in 0..<classes { s += Foundation.exp(Double(x[k]) - m) }
        for k in 0..<classes { probs[i * classes + k] = Float(Foundation.exp(Double(x[k]) - m) / s) }
        loss[i] = Float(m + Foundation.log(s) - Double(x[labels[i]]))
    }
}

/// Per-row softmax cross-entropy with soft targets: `loss[i] = Σ_k t_ik · (logsumexp(x_i) − x_ik)`
/// (= −Σ t log softmax), and the row softmax written to `probs`.
// loss: [rows], probs, logits, targets: [rows, classes]
public func softmaxCrossEntropySoft(_ loss: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                                    _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Float>,
                                    rows: Int, classes: Int) {
    parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(classes, 1))) { r in
        for i in r {
            let x = logits + i * classes, p = probs + i * classes, t = targets + i * classes
            let m = rowMax(x, classes)
            let s = rowSumExp(x, classes, m, p)
            let inv = 1 / s, lse = m + Foundation.log(s)
            var l: Float = 0
            for k in 0..<classes {
                p[k] *= inv
                if t[k] != 0 { l += t[k] * (lse - x[k]) }
            }
            loss[i] = l
        }
    }
}

/// Naive twin of `softmaxCrossEntropySoft` (Double arithmetic).
public func softmaxCrossEntropySoftNaive(_ loss: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                                         _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Float>,
                                         rows: Int, classes: Int) {
    for i in 0..<rows {
        let x = logits + i * classes, t = targets + i * classes
        var m = -Double.infinity
        for k in 0..<classes { m = Swift.max(m, Double(x[k])) }
        var s = 0.0
        for k in 0..<classes { s += Foundation.exp(Double(x[k]) - m) }
        let lse = m + Foundation.log(s)
        var l = 0.0
        for k in 0..<classes {
            probs[i * classes + k] = Float(Foundation.exp(Double(x[k]) - m) / s)
            if t[k] != 0 { l += Double(t[k]) * (lse - Double(x[k])) }
        }
        loss[i] = Float(l)
    }
}

/// Fused cross-entropy backward with labels: dx = (probs − onehot(labels)) · scale.
// dx, probs: [rows, classes], labels: [rows]
public func softmaxCrossEntropyLabelsBackward(_ dx: UnsafeMutablePointer<Float>, _ probs: UnsafePointer<Float>,
                                              _ labels: UnsafePointer<Int>, scale: Float, rows: Int, classes: Int) {
    parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(classes, 1))) { r in
        for i in r {
            let p = probs + i * classes, d = dx + i * classes
            var k = 0
            while k + 16 <= classes { store16(d + k, load16(p + k) * scale); k += 16 }
            while k < classes { d[k] = p[k] * scale; k += 1 }
            d[labels[i]] -= scale
        }
    }
}

/// Naive twin of `softmaxCrossEntropyLabelsBackward`.
public func softmaxCrossEntropyLabelsBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ probs: UnsafePointer<Float>,
                                                   _ labels: UnsafePointer<Int>, scale: Float, rows: Int, classes: Int) {
    for i in 0..<rows {
        for k in 0..<classes {
            let onehot = k == labels[i] ? 1.0 : 0.0
            dx[i * classes + k] = Float((Double(probs[i * classes + k]) - onehot) * Double(scale))
        }
    }
}

/// Fused cross-entropy backward with soft targets: dx = (probs · Σ_k t_k − t) · scale
/// (= (probs − t) · scale when each target row sums to 1).
// dx, probs, targets: [rows, classes]
public func softmaxCrossEntropySoftBackward(_ dx: UnsafeMutablePointer<Float>, _ probs: UnsafePointer<Float>,
                                            _ targets: UnsafePointer<Float>, scale: Float, rows: Int, classes: Int) {
    parallelFor(rows, grain: Swift.max(1, 8192 / Swift.max(classes, 1))) { r in
        for i in r {
            let p = probs + i * classes, t = targets + i * classes, d = dx + i * classes
            var ts: Float = 0
            for k in 0..<classes { ts += t[k] }
            for k in 0..<classes { d[k] = (p[k] * ts - t[k]) * scale }
        }
    }
}

/// Naive twin of `softmaxCrossEntropySoftBackward` (Double arithmetic).
public func softmaxCrossEntropySoftBackwardNaive(_ dx: UnsafeMutablePointer<Float>, _ probs: UnsafePointer<Float>,
                                                 _ targets: UnsafePointer<Float>, scale: Float, rows: Int, classes: Int) {
    for i in 0..<rows {
        var ts = 0.0
        for k in 0..<classes { ts += Double(targets[i * classes + k]) }
        for k in 0..<classes {
            let j = i * classes + k
            dx[j] = Float((Double(probs[j]) * ts - Double(targets[j])) * Double(scale))
        }
    }
}
