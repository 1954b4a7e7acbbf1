import Foundation

// Pointwise activation kernels (forward and backward) over raw buffers, split across cores with
// `parallelFor`. All kernels run 16 lanes at a time (exp, erf and tanh are vector polynomial
// approximations below; scalar libm only for the tails). Every kernel has a `...Naive` twin (plain loops,
// Double arithmetic) that the tests compare against.

/// The pointwise activations of `adnn`, with PyTorch semantics.
public enum ActivationKind: Sendable, Equatable {
    /// max(x, 0).
    case relu
    /// min(max(x, 0), 6).
    case relu6
    /// x for x > 0, slope·x otherwise.
    case leakyRelu(Float)
    /// x·sigmoid(x) (a.k.a. swish).
    case silu
    /// x·Φ(x) with the exact erf form (PyTorch's default `approximate='none'`).
    case gelu
    /// 1 / (1 + e^−x).
    case sigmoid
    /// Hyperbolic tangent.
    case tanh

    /// True when the backward pass reads the forward *output* (sigmoid, tanh) instead of the input.
    public var backwardUsesOutput: Bool {
        switch self {
        case .sigmoid, .tanh: return true
        default: return false
        }
    }

    /// True for relu, relu6 and leaky relu (a compare and a select per lane, cheap to apply in registers).
    public var isPiecewiseLinear: Bool {
        switch self {
        case .relu, .relu6, .leakyRelu: return true
        case .silu, .sigmoid, .gelu, .tanh: return false
        }
    }
}

// MARK: - SIMD helpers

@inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) private func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// e^x for 16 lanes (Cephes-style range reduction and degree-5 polynomial, ≈ 1 ulp on [−87, 88]).
/// Inputs above 88.3 saturate at e^88.3 ≈ 2.2e38 (finite); inputs below −87.33 give 0. NaN propagates.
@_transparent
public func vectorExp(_ v: SIMD16<Float>) -> SIMD16<Float> {
    let hi = SIMD16<Float>(repeating: 88.3)
    let lo = SIMD16<Float>(repeating: -87.3365478515625)
    var x = v.replacing(with: hi, where: v .> hi)
    x.replace(with: lo, where: x .< lo)
    // n = round(x / ln 2) with the 1.5·2²³ trick (its low mantissa bits hold n); r = x − n·ln 2
    // (ln 2 split in two for exactness).
    // Every multiply-add is one fused FMA (`addingProduct`): Swift does not contract `a * b + c`, and as
    // separate multiplies and adds the polynomial cost half again as much in every SiLU/sigmoid/softmax.
    let magic = SIMD16<Float>(repeating: 12582912)
    let t = magic.addingProduct(x, SIMD16(repeating: 1.44269504088896341))
    let n = t - magic
    var r = x.addingProduct(n, SIMD16(repeating: -0.693359375))
    r = r.addingProduct(n, SIMD16(repeating: 2.12194440e-4))
    let r2 = r * r
    var p = SIMD16<Float>(repeating: 1.3981999507e-3).addingProduct(SIMD16(repeating: 1.9875691500e-4), r)
    p = SIMD16<Float>(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 5.0000001201e-1).addingProduct(p, r)
    p = r.addingProduct(p, r2) + 1
    // 2^n assembled in the exponent bits.
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    var result = p * unsafeBitCast(bits, to: SIMD16<Float>.self)
    result.replace(with: 0, where: v .< lo)
    result.replace(with: v, where: v .!= v)
    return result
}

/// |x| for 16 lanes (clears the sign bit).
@_transparent @usableFromInline
func abs16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
}

/// Logistic sigmoid for 16 lanes, accurate on both tails (uses e^−|x|).
@_transparent
public func vectorSigmoid(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let e = vectorExp(-abs16(x))
    let s = 1 / (1 + e)
    return s.replacing(with: e * s, where: x .< 0)
}

/// erf for 16 lanes: Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7), the form PyTorch's vectorised
/// CPU GELU uses.
@_transparent
public func vectorErf(_ x: SIMD16<Float>) -> SIMD16<Float> {
    erfGivenExp(x, vectorExp(-(x * x)))
}

/// A–S 7.1.26 erf(x) when e^(−x²) is already known (GELU backward shares it with the density).
@_transparent @usableFromInline
func erfGivenExp(_ x: SIMD16<Float>, _ expNegSq: SIMD16<Float>) -> SIMD16<Float> {
    let ax = abs16(x)
    let t = 1 / (1 + 0.3275911 * ax)
    var p = SIMD16<Float>(repeating: 1.061405429)
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    p = p * t
    let y = 1 - p * expNegSq
    return y.replacing(with: -y, where: x .< 0)
}

/// tanh for 16 lanes (Cephes `tanhf`: odd polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) above;
/// ≈ 2 ulp).
@_transparent
public func vectorTanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let ax = abs16(x)
    let big = 1 - 2 / (vectorExp(2 * ax) + 1)
    let z = x * x
    var p = SIMD16<Float>(repeating: -5.70498872745e-3)
    p = p * z + 2.06390887954e-2
    p = p * z - 5.37397155531e-2
    p = p * z + 1.33314422036e-1
    p = p * z - 3.33332819422e-1
    let small = x + x * z * p
    let signed = big.replacing(with: -big, where: x .< 0)
    var r = signed.replacing(with: small, where: ax .< 0.625)
    r.replace(with: x, where: x .!= x)
    return r
}

@inline(__always) private func sigmoidScalar(_ x: Float) -> Float {
    let e = Foundation.exp(-Swift.abs(x))
    let s = 1 / (1 + e)
    return x < 0 ? e * s : s
}

private let invSqrt2: Float = 0.70710678118654752
private let invSqrt2Pi: Float = 0.39894228040143268

// MARK: - Forward

/// out[i] = act(x[i]) for i < count. `out` may alias `x`.
// out: [count], x: [count]
public func activationForward(_ kind: ActivationKind, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                              count: Int) {
    let grain = 1 << 14
    switch kind {
    case .relu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            let z = SIMD16<Float>(repeating: 0)
            while i + 16 <= r.upperBound { let v = load16(x + i); store16(out + i, v.replacing(with: z, where: v .< z)); i += 16 }
            while i < r.upperBound { out[i] = x[i] > 0 ? x[i] : 0; i += 1 }
        }
    case .relu6:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            let z = SIMD16<Float>(repeating: 0), six = SIMD16<Float>(repeating: 6)
            while i + 16 <= r.upperBound {
                var v = load16(x + i)
                v.replace(with: z, where: v .< z)
                v.replace(with: six, where: v .> six)
                store16(out + i, v)
                i += 16
            }
            while i < r.upperBound { out[i] = Swift.min(Swift.max(x[i], 0), 6); i += 1 }
        }
    case .leakyRelu(let slope):
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = load16(x + i)
                store16(out + i, v.replacing(with: v * slope, where: v .<= 0))
                i += 16
            }
            while i < r.upperBound { out[i] = x[i] > 0 ? x[i] : x[i] * slope; i += 1 }
        }
    case .silu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { let v = load16(x + i); store16(out + i, v * vectorSigmoid(v)); i += 16 }
            while i < r.upperBound { out[i] = x[i] * sigmoidScalar(x[i]); i += 1 }
        }
    case .sigmoid:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { store16(out + i, vectorSigmoid(load16(x + i))); i += 16 }
            while i < r.upperBound { out[i] = sigmoidScalar(x[i]); i += 1 }
        }
    case .gelu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = load16(x + i)
                store16(out + i, 0.5 * v * (1 + vectorErf(v * invSqrt2)))
                i += 16
            }
            while i < r.upperBound { out[i] = 0.5 * x[i] * (1 + Foundation.erf(x[i] * invSqrt2)); i += 1 }
        }
    case .tanh:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { store16(out + i, vectorTanh(load16(x + i))); i += 16 }
            while i < r.upperBound { out[i] = Foundation.tanh(x[i]); i += 1 }
        }
    }
}

/// Naive twin of `activationForward` (scalar, Double arithmetic).
public func activationForwardNaive(_ kind: ActivationKind, _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                   count: Int) {
    for i in 0..<count {
        let v = Double(x[i])
        let y: Double
        switch kind {
        case .relu: y = v > 0 ? v : 0
        case .relu6: y = Swift.min(Swift.max(v, 0), 6)
        case .leakyRelu(let s): y = v > 0 ? v : v * Double(s)
        case .silu: y = v / (1 + Foundation.exp(-v))
        case .sigmoid: y = 1 / (1 + Foundation.exp(-v))
        case .gelu: y = 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
        case .tanh: y = Foundation.tanh(v)
        }
        out[i] = Float(y)
    }
}

// MARK: - Backward

/// dx[i] = g[i] · act'(x[i]). `x` is the forward input and `y` the forward output; the kernel reads
/// `y` for sigmoid and tanh and `x` otherwise (see `ActivationKind.backwardUsesOutput`).
/// At the kinks the subgradient follows PyTorch: ReLU 0 at 0, ReLU6 0 at 0 and 6, leaky slope at 0.
// dx, g, x, y: [count]
public func activationBackward(_ kind: ActivationKind, _ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                               x: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int) {
    let grain = 1 << 14
    switch kind {
    case .relu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            let z = SIMD16<Float>(repeating: 0)
            while i + 16 <= r.upperBound {
                store16(dx + i, load16(g + i).replacing(with: z, where: load16(x + i) .<= 0)); i += 16
            }
            while i < r.upperBound { dx[i] = x[i] > 0 ? g[i] : 0; i += 1 }
        }
    case .relu6:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            let z = SIMD16<Float>(repeating: 0), six = SIMD16<Float>(repeating: 6)
            while i + 16 <= r.upperBound {
                let v = load16(x + i)
                store16(dx + i, load16(g + i).replacing(with: z, where: (v .<= z) .| (v .>= six))); i += 16
            }
            while i < r.upperBound { dx[i] = (x[i] > 0 && x[i] < 6) ? g[i] : 0; i += 1 }
        }
    case .leakyRelu(let slope):
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let gv = load16(g + i)
                store16(dx + i, gv.replacing(with: gv * slope, where: load16(x + i) .<= 0)); i += 16
            }
            while i < r.upperBound { dx[i] = x[i] > 0 ? g[i] : g[i] * slope; i += 1 }
        }
    case .silu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = load16(x + i), s = vectorSigmoid(v)
                store16(dx + i, load16(g + i) * s * (1 + v * (1 - s))); i += 16
            }
            while i < r.upperBound { let s = sigmoidScalar(x[i]); dx[i] = g[i] * s * (1 + x[i] * (1 - s)); i += 1 }
        }
    case .sigmoid:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { let s = load16(y + i); store16(dx + i, load16(g + i) * s * (1 - s)); i += 16 }
            while i < r.upperBound { dx[i] = g[i] * y[i] * (1 - y[i]); i += 1 }
        }
    case .gelu:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let v = load16(x + i)
                let e = vectorExp(-0.5 * v * v)
                let cdf = 0.5 * (1 + erfGivenExp(v * invSqrt2, e))
                let pdf = invSqrt2Pi * e
                store16(dx + i, load16(g + i) * (cdf + v * pdf)); i += 16
            }
            while i < r.upperBound {
                let v = x[i]
                let cdf = 0.5 * (1 + Foundation.erf(v * invSqrt2)), pdf = invSqrt2Pi * Foundation.exp(-0.5 * v * v)
                dx[i] = g[i] * (cdf + v * pdf); i += 1
            }
        }
    case .tanh:
        parallelFor(count, grain: grain) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound { let t = load16(y + i); store16(dx + i, load16(g + i) * (1 - t * t)); i += 16 }
            while i < r.upperBound { dx[i] = g[i] * (1 - y[i] * y[i]); i += 1 }
        }
    }
}

/// Naive twin of `activationBackward` (scalar, Double arithmetic; derivatives from `x` only).
public func activationBackwardNaive(_ kind: ActivationKind, _ dx: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                    x: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let v = Double(x[i]), gv = Double(g[i])
        let d: Double
        switch kind {
        case .relu: d = v > 0 ? 1 : 0
        case .relu6: d = (v > 0 && v < 6) ? 1 : 0
        case .leakyRelu(let s): d = v > 0 ? 1 : Double(s)
        case .silu: let s = 1 / (1 + Foundation.exp(-v)); d = s * (1 + v * (1 - s))
        case .sigmoid: let s = 1 / (1 + Foundation.exp(-v)); d = s * (1 - s)
        case .gelu:
            d = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
        case .tanh: let t = Foundation.tanh(v); d = 1 - t * t
        }
        dx[i] = Float(gv * d)
    }
}
