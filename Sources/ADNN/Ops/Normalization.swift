import ADNNKernels

// Batch norm and layer norm on channels-last tensors, with fused backward passes.

/// Batch normalisation over the last axis of a channels-last tensor `[..., C]` (statistics over all
/// leading axes, e.g. N·H·W for `[N, H, W, C]`), with PyTorch `BatchNorm` semantics.
///
/// - Training (`training == true`, or no running statistics given): normalises with the batch mean
///   and biased variance. When `runningMean`/`runningVar` are given they are updated in place (not
///   recorded): `running = (1 − momentum)·running + momentum·batch`, the variance term using the
///   unbiased batch variance (× n/(n − 1)).
/// - Eval (`training == false` with running statistics): normalises with the running statistics.
///
/// `y = (x − μ)/√(σ² + eps) · weight + bias`; `weight`/`bias` (shape `[C]`) may be nil.
/// Differentiable w.r.t. `x`, `weight` and `bias` (running statistics are buffers).
public func batchNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                      training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
    let (c, rows, useBatchStats, mean, invstd, scale, shift) = batchNormSetup(
        "batchNorm", x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
        training: training, momentum: momentum, eps: eps)
    let out = Tensor.empty(x.shape)
    Profiler.measure("batchNorm.apply") {
        batchNormForward(out.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr, rows: rows, channels: c)
    }

    var inputs: [Tensor] = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    if needsGrad(inputs) {
        out.record("batchNorm", inputs) { g in
            let needX = x.requiresGrad, needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
            let sumG = Tensor.empty([c]), sumGXhat = Tensor.empty([c])
            if useBatchStats || needW || needB {
                batchNormBackwardReduce(sumG.ptr, sumGXhat.ptr, g.ptr, x.ptr, mean: mean.ptr, invstd: invstd.ptr,
                                        rows: rows, channels: c)
            }
            var dx: Tensor? = nil
            if needX {
                let d = Tensor.empty(x.shape)
                if useBatchStats {
                    batchNormBackwardInput(d.ptr, g.ptr, x.ptr, mean: mean.ptr, invstd: invstd.ptr, weight: weight?.ptr,
                                           sumG: sumG.ptr, sumGXhat: sumGXhat.ptr, rows: rows, channels: c)
                } else {
                    // Eval: the statistics are constants, dx = g · w/σ_running.
                    let zero = Tensor(zeros: [c]), s = Tensor.empty([c])
                    for k in 0..<c { s.ptr[k] = invstd.ptr[k] * (weight?.ptr[k] ?? 1) }
                    batchNormForward(d.ptr, g.ptr, scale: s.ptr, shift: zero.ptr, rows: rows, channels: c)
                }
                dx = d
            }
            var grads: [Tensor?] = [dx]
            if let weight { grads.append(needW ? sumGXhat.reshapedView(weight.shape) : nil) }
            if let bias { grads.append(needB ? sumG.reshapedView(bias.shape) : nil) }
            return grads
        }
    }
    return out
}

/// Batch normalisation followed by a pointwise activation (`nil` = identity), fused: the same values
/// and gradients as `batchNorm(...)` then the activation, in one forward pass, keeping only `x` for the
/// backward pass (the normalised values are recomputed there) — timm's `BatchNormAct2d`.
/// Differentiable w.r.t. `x`, `weight` and `bias`; running statistics are updated as by `batchNorm`.
public func batchNormActivation(_ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
                                training: Bool, momentum: Float = 0.1, eps: Float = 1e-5,
                                activation: ActivationKind?) -> Tensor {
    let (c, rows, useBatchStats, mean, invstd, scale, shift) = batchNormSetup(
        "batchNormActivation", x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
        training: training, momentum: momentum, eps: eps)
    let out = Tensor.empty(x.shape)
    Profiler.measure("batchNormActivation") {
        scaleShiftActivation(out.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr, activation: activation, rows: rows, channels: c)
    }
    var inputs: [Tensor] = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    if needsGrad(inputs) {
        out.record("batchNormActivation", inputs) { g in
            let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
            let sumG = Tensor.empty([c]), sumGXhat = Tensor.empty([c])
            // The gradient at the batch-norm output, g·act'(z), is recomputed in both passes, never stored.
            if useBatchStats || needW || needB {
                batchNormActivationBackwardReduce(sumG.ptr, sumGXhat.ptr, g.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr,
                                                  mean: mean.ptr, invstd: invstd.ptr, activation: activation, rows: rows, channels: c)
            }
            var dx: Tensor? = nil
            if x.requiresGrad {
                let d = Tensor.empty(x.shape)
                // Eval (running statistics): constants, dx = g·act'(z)·w/σ_running.
                batchNormActivationBackwardInput(d.ptr, g.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr, mean: mean.ptr,
                                                 invstd: invstd.ptr, weight: weight?.ptr,
                                                 sumG: useBatchStats ? sumG.ptr : nil, sumGXhat: useBatchStats ? sumGXhat.ptr : nil,
                                                 activation: activation, rows: rows, channels: c)
                dx = d
            }
            var grads: [Tensor?] = [dx]
            if let weight { grads.append(needW ? sumGXhat.reshapedView(weight.shape) : nil) }
            if let bias { grads.append(needB ? sumG.reshapedView(bias.shape) : nil) }
            return grads
        }
    }
    return out
}

/// The part of `batchNorm` and `batchNormActivation` before the kernels run: argument checks, the
/// statistics (batch or running; running statistics updated in place when training) and the folded
/// affine `y = x·scale + shift`. `op` names the caller in precondition messages.
func batchNormSetup(_ op: String, _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?,
                    runningVar: Tensor?, training: Bool, momentum: Float, eps: Float,
                    batchStatistics: (mean: Tensor, variance: Tensor)? = nil)
    -> (c: Int, rows: Int, useBatchStats: Bool, mean: Tensor, invstd: Tensor, scale: Tensor, shift: Tensor) {
    precondition(x.rank >= 1, "\(op): input must have a channel axis, got shape \(x.shape)")
    let c = x.dim(-1)
    let rows = c == 0 ? 0 : x.count / c
    for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
        if let t { precondition(t.count == c, "\(op): \(name) has shape \(t.shape), expected [\(c)] for input \(x.shape)") }
    }
    precondition((runningMean == nil) == (runningVar == nil),
                 "\(op): give both runningMean and runningVar, or neither")
    precondition(eps >= 0, "\(op): eps must be non-negative, got \(eps)")
    let useBatchStats = training || runningMean == nil
    let mean = Tensor.empty([c]), invstd = Tensor.empty([c])
    if useBatchStats {
        precondition(rows > 1 || !training,
                     "\(op): expected more than 1 value per channel when training, got input shape \(x.shape)")
        let variance: Tensor
        if let batchStatistics {
            // Computed by the caller (e.g. inside the convolution that produced x).
            mean.assign(batchStatistics.mean)
            variance = batchStatistics.variance
        } else {
            variance = Tensor.empty([c])
            Profiler.measure("batchNorm.stats") { batchNormStatistics(mean.ptr, variance.ptr, x.ptr, rows: rows, channels: c) }
        }
        for k in 0..<c { invstd.ptr[k] = Float(1 / (Double(variance.ptr[k]) + Double(eps)).squareRoot()) }
        if training, let rm = runningMean, let rv = runningVar {
            let unbias = rows > 1 ? Double(rows) / Double(rows - 1) : 1
            let m = Double(momentum)
            for k in 0..<c {
                rm.ptr[k] = Float((1 - m) * Double(rm.ptr[k]) + m * Double(mean.ptr[k]))
                rv.ptr[k] = Float((1 - m) * Double(rv.ptr[k]) + m * Double(variance.ptr[k]) * unbias)
            }
        }
    } else {
        mean.assign(runningMean!)
        let rv = runningVar!
        for k in 0..<c { invstd.ptr[k] = Float(1 / (Double(rv.ptr[k]) + Double(eps)).squareRoot()) }
    }
    let scale = Tensor.empty([c]), shift = Tensor.empty([c])
    for k in 0..<c {
        let s = Double(invstd.ptr[k]) * Double(weight?.ptr[k] ?? 1)
        scale.ptr[k] = Float(s)
        shift.ptr[k] = Float(Double(bias?.ptr[k] ?? 0) - Double(mean.ptr[k]) * s)
    }
    return (c, rows, useBatchStats, mean, invstd, scale, shift)
}

/// Layer normalisation over the last axis (PyTorch `LayerNorm(D)` on `[..., D]`):
/// `y = (x − μ)/√(σ² + eps) · weight + bias` with per-row mean and biased variance.
/// `weight`/`bias` (shape `[D]`) may be nil. Differentiable w.r.t. `x`, `weight` and `bias`.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 1, "layerNorm: input must have at least one axis, got shape \(x.shape)")
    let d = x.dim(-1)
    let rows = d == 0 ? 0 : x.count / d
    if let weight { precondition(weight.count == d, "layerNorm: weight has shape \(weight.shape), expected [\(d)] for input \(x.shape)") }
    if let bias { precondition(bias.count == d, "layerNorm: bias has shape \(bias.shape), expected [\(d)] for input \(x.shape)") }
    precondition(eps >= 0, "layerNorm: eps must be non-negative, got \(eps)")
    let out = Tensor.empty(x.shape)
    let mean = Tensor.empty([rows]), rstd = Tensor.empty([rows])
    Profiler.measure("layerNorm") {
        layerNormForward(out.ptr, mean: mean.ptr, rstd: rstd.ptr, x.ptr, weight: weight?.ptr, bias: bias?.ptr,
                         rows: rows, dim: d, eps: eps)
    }
    var inputs: [Tensor] = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    if needsGrad(inputs) {
        out.record("layerNorm", inputs) { g in
            let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
            let dx = x.requiresGrad ? Tensor.empty(x.shape) : nil
            let dw = needW ? Tensor.empty(weight!.shape) : nil
            let db = needB ? Tensor.empty(bias!.shape) : nil
            layerNormBackward(dx?.ptr, dweight: dw?.ptr, dbias: db?.ptr, g.ptr, x.ptr, mean: mean.ptr, rstd: rstd.ptr,
                              weight: weight?.ptr, rows: rows, dim: d)
            var grads: [Tensor?] = [dx]
            if weight != nil { grads.append(dw) }
            if bias != nil { grads.append(db) }
            return grads
        }
    }
    return out
}
