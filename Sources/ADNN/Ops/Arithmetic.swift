import ADNNKernels

// Elementwise binary ops with broadcasting. Backward returns broadcast-shaped gradients;
// the autograd engine reduces them to each input's shape.

/// Elementwise `a op b` with NumPy broadcasting, no recording.
func broadcastForward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor.empty(shape)
    Profiler.measure("binary.\(op)") { binaryBroadcast(op, out.ptr, a.ptr, a.shape, b.ptr, b.shape, outShape: shape) }
    return out
}

extension Tensor {
    /// `self + other` without recording (used by the engine to accumulate gradients).
    func adding(_ other: Tensor) -> Tensor { broadcastForward(.add, self, other) }

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastForward(.add, a, b)
        if needsGrad(a, b) { out.record("add", [a, b]) { g in [g, g] } }
        return out
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastForward(.sub, a, b)
        if needsGrad(a, b) { out.record("sub", [a, b]) { g in [g, b.requiresGrad ? -g : nil] } }
        return out
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastForward(.mul, a, b)
        if needsGrad(a, b) {
            out.record("mul", [a, b]) { g in
                [a.requiresGrad ? broadcastForward(.mul, g, b) : nil,
                 b.requiresGrad ? broadcastForward(.mul, g, a) : nil]
            }
        }
        return out
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastForward(.div, a, b)
        if needsGrad(a, b) {
            out.record("div", [a, b]) { g in
                let ga = a.requiresGrad ? broadcastForward(.div, g, b) : nil
                // d(a/b)/db = -a/b² = -out/b
                let gb = b.requiresGrad ? -(broadcastForward(.div, broadcastForward(.mul, g, out), b)) : nil
                return [ga, gb]
            }
        }
        return out
    }

    /// Elementwise maximum (gradient to the larger input; ties to `a`).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = broadcastForward(.maximum, a, b)
        if needsGrad(a, b) {
            out.record("maximum", [a, b]) { g in
                let ma = Tensor.empty(out.shape), mb = Tensor.empty(out.shape)
                let sa = broadcastStrides(a.shape, in: out.shape), sb = broadcastStrides(b.shape, in: out.shape)
                forEachBroadcastIndex(out.shape, sa, sb) { i, ia, ib in
                    let takeA = a.ptr[ia] >= b.ptr[ib]
                    ma.ptr[i] = takeA ? g.ptr[i] : 0
                    mb.ptr[i] = takeA ? 0 : g.ptr[i]
                }
                return [ma, mb]
            }
        }
        return out
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a - Tensor(scalar: s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(by: 1 / s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + Tensor(scalar: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
    public static func - (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) - a }

    /// Negation.
    public static prefix func - (a: Tensor) -> Tensor { a.scaled(by: -1) }

    /// `self · s`.
    public func scaled(by s: Float) -> Tensor {
        let out = Tensor.empty(shape)
        let n = count, x = ptr, o = out.ptr
        parallelFor(n, grain: 1 << 16) { r in for i in r { o[i] = x[i] * s } }
        if needsGrad(self) { out.record("scale", [self]) { g in [g.scaled(by: s)] } }
        return out
    }
}

/// Calls `body(outIndex, aIndex, bIndex)` for every element of a broadcast result.
func forEachBroadcastIndex(_ shape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let total = shape.reduce(1, *)
    var idx = [Int](repeating: 0, count: shape.count)
    var ia = 0, ib = 0
    for i in 0..<total {
        body(i, ia, ib)
        var d = shape.count - 1
        while d >= 0 {
            idx[d] += 1; ia += sa[d]; ib += sb[d]
            if idx[d] < shape[d] { break }
            ia -= sa[d] * shape[d]; ib -= sb[d] * shape[d]; idx[d] = 0
            d -= 1
        }
    }
}
