import Foundation
import ADNNKernels

extension Tensor {
    /// Applies `f` elementwise (no recording), split across cores.
    func map(_ f: (Float) -> Float) -> Tensor {
        let out = Tensor.empty(shape)
        let x = ptr, o = out.ptr
        parallelFor(count, grain: 1 << 14) { r in for i in r { o[i] = f(x[i]) } }
        return out
    }

    /// Elementwise `g ⊙ f'(x)` helper for backward passes.
    func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(other.count == count, "zipMap: \(shape) vs \(other.shape)")
        let out = Tensor.empty(shape)
        let x = ptr, y = other.ptr, o = out.ptr
        parallelFor(count, grain: 1 << 14) { r in for i in r { o[i] = f(x[i], y[i]) } }
        return out
    }

    /// e^x.
    public func exp() -> Tensor {
        let out = map { Foundation.exp($0) }
        if needsGrad(self) { out.record("exp", [self]) { g in [g.zipMap(out) { $0 * $1 }] } }
        return out
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        let out = map { Foundation.log($0) }
        if needsGrad(self) { out.record("log", [self]) { g in [g.zipMap(self) { $0 / $1 }] } }
        return out
    }

    /// Square root.
    public func sqrt() -> Tensor {
        let out = map { Foundation.sqrt($0) }
        if needsGrad(self) { out.record("sqrt", [self]) { g in [g.zipMap(out) { $0 * 0.5 / $1 }] } }
        return out
    }

    /// x².
    public func squared() -> Tensor {
        let out = map { $0 * $0 }
        if needsGrad(self) { out.record("square", [self]) { g in [g.zipMap(self) { 2 * $0 * $1 }] } }
        return out
    }

    /// x^p for a scalar exponent.
    public func pow(_ p: Float) -> Tensor {
        let out = map { Foundation.pow($0, p) }
        if needsGrad(self) { out.record("pow", [self]) { g in [g.zipMap(self) { $0 * p * Foundation.pow($1, p - 1) }] } }
        return out
    }

    /// |x| (subgradient 0 at 0).
    public func abs() -> Tensor {
        let out = map { Swift.abs($0) }
        if needsGrad(self) { out.record("abs", [self]) { g in [g.zipMap(self) { $1 > 0 ? $0 : ($1 < 0 ? -$0 : 0) }] } }
        return out
    }

    /// Clamps to [low, high] (gradient passes inside the interval).
    public func clamped(min low: Float, max high: Float) -> Tensor {
        let out = map { Swift.min(Swift.max($0, low), high) }
        if needsGrad(self) { out.record("clamp", [self]) { g in [g.zipMap(self) { ($1 >= low && $1 <= high) ? $0 : 0 }] } }
        return out
    }
}
