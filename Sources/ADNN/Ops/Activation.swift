import ADNNKernels

// Pointwise activations and softmax / log-softmax as differentiable Tensor methods.

extension Tensor {
    /// Applies a pointwise activation through the kernels and records its backward pass.
    /// The backward closure keeps the input (or, for sigmoid/tanh, a detached view of the output).
    private func activation(_ kind: ActivationKind, _ name: String) -> Tensor {
        let out = Tensor.empty(shape)
        Profiler.measure(name) { activationForward(kind, out.ptr, ptr, count: count) }
        if needsGrad(self) {
            let saved = kind.backwardUsesOutput ? out.detached() : self
            out.record(name, [self]) { g in
                let dx = Tensor.empty(g.shape)
                activationBackward(kind, dx.ptr, g.ptr, x: saved.ptr, y: saved.ptr, count: g.count)
                return [dx]
            }
        }
        return out
    }

    /// max(x, 0). Gradient 0 at x ≤ 0.
    public func relu() -> Tensor { activation(.relu, "relu") }

    /// min(max(x, 0), 6) (MobileNet / EfficientNet-Lite). Gradient 1 on 0 < x < 6.
    public func relu6() -> Tensor { activation(.relu6, "relu6") }

    /// x for x > 0, `slope`·x otherwise.
    public func leakyRelu(_ slope: Float = 0.01) -> Tensor { activation(.leakyRelu(slope), "leakyRelu") }

    /// x·sigmoid(x) (SiLU / swish, EfficientNet's activation).
    public func silu() -> Tensor { activation(.silu, "silu") }

    /// GELU, exact erf form x·Φ(x) (PyTorch's default, used by `nn.TransformerEncoderLayer(activation="gelu")`).
    public func gelu() -> Tensor { activation(.gelu, "gelu") }

    /// Logistic sigmoid 1/(1 + e^−x).
    public func sigmoid() -> Tensor { activation(.sigmoid, "sigmoid") }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor { activation(.tanh, "tanh") }

    /// Softmax along `axis` (negative counts from the end), numerically stable.
    public func softmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: false) }

    /// Log-softmax along `axis` (negative counts from the end): x − logsumexp(x), numerically stable.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: true) }

    private func softmaxOp(axis: Int, log: Bool) -> Tensor {
        let name = log ? "logSoftmax" : "softmax"
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(name): axis \(axis) out of range for shape \(shape)")
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        let out = Tensor.empty(shape)
        Profiler.measure(name) { softmaxForward(out.ptr, ptr, outer: outer, n: n, inner: inner, log: log) }
        if needsGrad(self) {
            let y = out.detached()
            out.record(name, [self]) { g in
                let dx = Tensor.empty(g.shape)
                softmaxBackward(dx.ptr, g.ptr, y.ptr, outer: outer, n: n, inner: inner, log: log)
                return [dx]
            }
        }
        return out
    }
}
