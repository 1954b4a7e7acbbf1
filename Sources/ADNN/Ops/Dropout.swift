import ADNNKernels

/// Inverted dropout: in training each element is kept with probability 1 − p and scaled by
/// 1/(1 − p), otherwise zeroed; the gradient flows through the same mask. In eval mode or with
/// `p == 0` it returns `x` itself; with `p == 1` every element is zeroed.
///
/// The mask is drawn from `rng` in element order (two 32-bit draws per 64-bit word), so a seed fixes
/// it (SPEC §7); `rng` advances by ⌈count/2⌉ words.
public func dropout(_ x: Tensor, p: Float, training: Bool, rng: inout SeededRNG) -> Tensor {
    precondition(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got \(p)")
    if !training || p == 0 { return x }
    let n = x.count
    let mask = Tensor.empty(x.shape)
    let m = mask.ptr
    if p == 1 {
        m.update(repeating: 0, count: n)
    } else {
        // Keep when a uniform 32-bit draw u satisfies u ≥ p·2³², i.e. with probability 1 − p.
        let threshold = UInt64((Double(p) * 4294967296.0).rounded())
        let scale = 1 / (1 - p)
        var i = 0
        while i < n {
            let word = rng.next()
            m[i] = UInt64(word & 0xFFFF_FFFF) >= threshold ? scale : 0
            if i + 1 < n { m[i + 1] = (word >> 32) >= threshold ? scale : 0 }
            i += 2
        }
    }
    let out = Tensor.empty(x.shape)
    binaryBroadcast(.mul, out.ptr, x.ptr, x.shape, m, x.shape, outShape: x.shape)
    if needsGrad(x) {
        out.record("dropout", [x]) { g in
            let dx = Tensor.empty(g.shape)
            binaryBroadcast(.mul, dx.ptr, g.ptr, g.shape, mask.ptr, mask.shape, outShape: g.shape)
            return [dx]
        }
    }
    return out
}
