import Foundation

/// One AdamW step (Loshchilov & Hutter, decoupled weight decay), in place, as PyTorch `AdamW`:
/// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − lr · (m / bc1) / (√(v / bc2) + eps), with bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ.
// p, g, m, v: [n]
public func adamwStep(_ p: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                      _ g: UnsafePointer<Float>, n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
                      weightDecay: Float, bc1: Float, bc2: Float) {
    let decay = 1 - lr * weightDecay
    let stepSize = lr / bc1
    let invSqrtBc2 = 1 / bc2.squareRoot()
    parallelFor(n, grain: 1 << 15) { r in
        var i = r.lowerBound
        let b1 = SIMD16<Float>(repeating: beta1), b2 = SIMD16<Float>(repeating: beta2)
        let ob1 = SIMD16<Float>(repeating: 1 - beta1), ob2 = SIMD16<Float>(repeating: 1 - beta2)
        while i + 16 <= r.upperBound {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            var mv = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD16<Float>.self)
            var vv = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD16<Float>.self)
            var pv = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
            mv = b1 * mv + ob1 * gv
            vv = b2 * vv + ob2 * gv * gv
            pv = pv * decay - stepSize * mv / ((vv.squareRoot() * invSqrtBc2) + eps)
            UnsafeMutableRawPointer(m + i).storeBytes(of: mv, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vv, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pv, as: SIMD16<Float>.self)
            i += 16
        }
        while i < r.upperBound {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            p[i] = p[i] * decay - stepSize * m[i] / ((v[i].squareRoot() * invSqrtBc2) + eps)
            i += 1
        }
    }
}

/// Naive twin of `adamwStep` (Double arithmetic, PyTorch's formula order).
public func adamwStepNaive(_ p: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                           _ g: UnsafePointer<Float>, n: Int, lr: Float, beta1: Float, beta2: Float, eps: Float,
                           weightDecay: Float, bc1: Float, bc2: Float) {
    for i in 0..<n {
        var pd = Double(p[i]) * (1 - Double(lr) * Double(weightDecay))
        let md = Double(beta1) * Double(m[i]) + (1 - Double(beta1)) * Double(g[i])
        let vd = Double(beta2) * Double(v[i]) + (1 - Double(beta2)) * Double(g[i]) * Double(g[i])
        pd -= Double(lr) / Double(bc1) * md / ((vd / Double(bc2)).squareRoot() + Double(eps))
        p[i] = Float(pd); m[i] = Float(md); v[i] = Float(vd)
    }
}

/// Sum of squares (Double accumulation) for gradient-norm clipping.
// x: [n]
public func sumOfSquares(_ x: UnsafePointer<Float>, n: Int) -> Double {
    var acc = SIMD16<Float>(repeating: 0)
    var total = 0.0
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        acc += v * v
        i += 16
        if i % 4096 == 0 { total += Double(acc.sum()); acc = .zero }
    }
    total += Double(acc.sum())
    while i < n { total += Double(x[i]) * Double(x[i]); i += 1 }
    return total
}
