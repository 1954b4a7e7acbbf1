import ADNNKernels

/// Explicit, possibly asymmetric, spatial padding of an `[N, H, W, C]` tensor.
public struct Padding2D: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    /// Padding with each side given.
    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    /// The same padding `p` on all four sides (PyTorch's `padding=p`).
    public static func symmetric(_ p: Int) -> Padding2D { Padding2D(top: p, bottom: p, left: p, right: p) }

    /// Total padding of one dimension under TensorFlow "SAME" (timm's `get_same_padding`):
    /// `max((⌈i/s⌉ − 1)·s + (k − 1)·d + 1 − i, 0)`.
    public static func samePadAmount(input i: Int, kernel k: Int, stride s: Int, dilation d: Int = 1) -> Int {
        Swift.max(((i + s - 1) / s - 1) * s + (k - 1) * d + 1 - i, 0)
    }

    /// TensorFlow "SAME" padding for a square kernel, computed from the input size as timm's
    /// `pad_same`: top/left get `pad / 2`, bottom/right the remainder (so odd totals pad more
    /// at the bottom/right).
    public static func same(inputHeight: Int, inputWidth: Int, kernel: Int, stride: Int, dilation: Int = 1) -> Padding2D {
        same(inputHeight: inputHeight, inputWidth: inputWidth, kernelHeight: kernel, kernelWidth: kernel,
             stride: stride, dilation: dilation)
    }

    /// TensorFlow "SAME" padding for a kernel of `kernelHeight × kernelWidth`.
    public static func same(inputHeight: Int, inputWidth: Int, kernelHeight: Int, kernelWidth: Int,
                            stride: Int, dilation: Int = 1) -> Padding2D {
        precondition(stride > 0 && dilation > 0 && kernelHeight > 0 && kernelWidth > 0,
                     "Padding2D.same: kernel \(kernelHeight)×\(kernelWidth), stride \(stride), dilation \(dilation) must be positive")
        let ph = samePadAmount(input: inputHeight, kernel: kernelHeight, stride: stride, dilation: dilation)
        let pw = samePadAmount(input: inputWidth, kernel: kernelWidth, stride: stride, dilation: dilation)
        return Padding2D(top: ph / 2, bottom: ph - ph / 2, left: pw / 2, right: pw - pw / 2)
    }

    /// True when no side is padded.
    public var isZero: Bool { top == 0 && bottom == 0 && left == 0 && right == 0 }

    public var description: String { "Padding2D(top: \(top), bottom: \(bottom), left: \(left), right: \(right))" }
}

/// 2-D convolution over channels-last input.
///
/// - Parameters:
///   - x: input `[N, H, W, C]`.
///   - w: weights `[O, kh, kw, C/groups]` (OHWI; PyTorch's `[O, C/groups, kh, kw]` permuted by `[0, 2, 3, 1]`).
///   - bias: optional `[O]`.
///   - stride: the same stride along height and width.
///   - padding: explicit, possibly asymmetric zero padding (`.symmetric(k/2)` for PyTorch style,
///     `.same(...)` for TF "SAME").
///   - dilation: the same dilation along height and width.
///   - groups: channel groups; `groups == C == O` is a depthwise convolution.
/// - Returns: `[N, Ho, Wo, O]` with `Ho = (H + top + bottom − dilation·(kh − 1) − 1) / stride + 1`.
///
/// Forward uses a single GEMM for 1×1 stride-1 unpadded convolutions, direct SIMD loops for
/// depthwise ones and im2col + GEMM otherwise; the backward pass mirrors that choice.
public func conv2d(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, stride: Int = 1,
                   padding: Padding2D = .symmetric(0), dilation: Int = 1, groups: Int = 1) -> Tensor {
    precondition(x.rank == 4, "conv2d: input must be [N, H, W, C], got \(x.shape)")
    precondition(w.rank == 4, "conv2d: weight must be [O, kh, kw, C/groups], got \(w.shape)")
    precondition(groups > 0, "conv2d: groups must be positive, got \(groups)")
    let C = x.shape[3], O = w.shape[0]
    precondition(C % groups == 0 && O % groups == 0,
                 "conv2d: groups \(groups) must divide input channels \(C) and output channels \(O)")
    precondition(w.shape[3] * groups == C,
                 "conv2d: weight \(w.shape) expects \(w.shape[3] * groups) input channels (groups \(groups)), input \(x.shape) has \(C)")
    if let bias { precondition(bias.shape == [O], "conv2d: bias must be [\(O)], got \(bias.shape)") }
    let geo = Conv2DGeometry(batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], inChannels: C, outChannels: O,
                             kernelHeight: w.shape[1], kernelWidth: w.shape[2], stride: stride, dilation: dilation,
                             padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right,
                             groups: groups)
    geo.validate()
    let y = Tensor.empty([geo.batch, geo.outHeight, geo.outWidth, O])
    let inputs = bias.map { [x, w, $0] } ?? [x, w]
    if weightsAreFrozen && packedConvApplies(geo) && !needsGrad(inputs) {
        packedConvForward(y, x, w, scale: nil, shift: bias.map { UnsafePointer($0.ptr) }, activation: nil, geo)
        return y
    }
    Profiler.measure((geo.isDepthwise ? "conv2d.dw" : geo.isPointwise ? "conv2d.1x1" : "conv2d.im2col") + shapeLabel(geo)) {
        conv2dForward(y.ptr, x.ptr, w.ptr, bias.map { UnsafePointer($0.ptr) }, geo)
    }
    if needsGrad(inputs) {
        func conv2dGradients(_ g: Tensor) -> [Tensor?] {
            var grads: [Tensor?] = []
            if x.requiresGrad && w.requiresGrad && pointwiseConvBackwardApplies(geo) {
                // Both gradients in one pass over the output gradient.
                let dx = Tensor.empty(x.shape), dw = Tensor.empty(w.shape)
                pointwiseConvBackward(dx.ptr, dw.ptr, g.ptr, x.ptr, w.ptr, pixels: geo.batch * geo.outHeight * geo.outWidth,
                                      inChannels: geo.inChannels, outChannels: O)
                grads += [dx, dw]
            } else {
                if x.requiresGrad {
                    let dx = Tensor.empty(x.shape)
                    conv2dBackwardInput(dx.ptr, g.ptr, w.ptr, geo)
                    grads.append(dx)
                } else { grads.append(nil) }
                if w.requiresGrad {
                    let dw = Tensor.empty(w.shape)
                    conv2dBackwardWeight(dw.ptr, g.ptr, x.ptr, geo)
                    grads.append(dw)
                } else { grads.append(nil) }
            }
            if let bias {
                if bias.requiresGrad {
                    let db = Tensor.empty([O])
                    conv2dBackwardBias(db.ptr, g.ptr, pixels: geo.batch * geo.outHeight * geo.outWidth, channels: O)
                    grads.append(db)
                } else { grads.append(nil) }
            }
            return grads
        }
        y.record("conv2d", inputs) { g in
            precondition(g.count == geo.outputCount, "conv2d backward: gradient \(g.shape) does not match output")
            // With `ADNN_PROFILE=shapes` each backward also gets a row of its own kind and shape (nested in "conv2d bwd").
            if Profiler.shapes {
                return Profiler.measure("  conv2d bwd" + (geo.isDepthwise ? ".dw" : geo.isPointwise ? ".1x1" : ".im2col") + shapeLabel(geo)) {
                    conv2dGradients(g)
                }
            }
            return conv2dGradients(g)
        }
    }
    return y
}

/// Inference fusion of `conv2d` → batch norm with running statistics → activation (`nil` = identity):
/// the batch-norm affine (and the conv bias) fold into a per-channel scale and shift that the kernel
/// applies, with the activation, to each block of the convolution output while it is still in cache.
/// When a gradient is needed this is exactly the composition `batchNormActivation(conv2d(...), ...)`.
/// A `residual` (same shape as the output: a block's skip connection) is added after the activation — on
/// the packed path by the kernel, to each block of outputs while it is in L1, instead of by a separate op.
/// An `inputScale` ([N, 1, 1, C] or [N, C]: a squeeze-and-excitation gate) multiplies the input per image
/// and channel first — on the packed 1×1 path inside the kernel, elsewhere as the product `x * inputScale`.
public func conv2dBatchNormActivation(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil, stride: Int = 1,
                                      padding: Padding2D = .symmetric(0), dilation: Int = 1, groups: Int = 1,
                                      bnWeight: Tensor?, bnBias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                                      eps: Float = 1e-5, activation: ActivationKind?, inputScale: Tensor? = nil,
                                      residual: Tensor? = nil) -> Tensor {
    if let inputScale {
        precondition(x.rank == 4 && inputScale.count == x.shape[0] * x.shape[3] && inputScale.shape.last == x.shape[3],
                     "conv2dBatchNormActivation: input scale \(inputScale.shape) must hold one factor per image and channel of \(x.shape)")
    }
    // (No array of inputs: this runs for every convolution of an inference forward.)
    let grad = GradMode.isEnabled && (x.requiresGrad || w.requiresGrad || bias?.requiresGrad == true || bnWeight?.requiresGrad == true
                                      || bnBias?.requiresGrad == true || residual?.requiresGrad == true || inputScale?.requiresGrad == true)
    // Off the packed 1×1 path an input scale is the product it stands for.
    // (The packed path takes a one-group convolution of at most `PointwiseTuning.maxPixels` pixels.)
    let fusesScale = inputScale != nil && !grad && weightsAreFrozen && w.rank == 4 && w.shape[1] == 1 && w.shape[2] == 1
        && groups == 1 && stride == 1 && padding.isZero && x.shape[0] * x.shape[1] * x.shape[2] <= PointwiseTuning.maxPixels
    if let inputScale, !fusesScale {
        return conv2dBatchNormActivation(x * inputScale.reshaped([x.shape[0], 1, 1, x.shape[3]]), w, bias: bias, stride: stride,
                                         padding: padding, dilation: dilation, groups: groups, bnWeight: bnWeight, bnBias: bnBias,
                                         runningMean: runningMean, runningVar: runningVar, eps: eps, activation: activation,
                                         residual: residual)
    }
    if grad {
        let y = batchNormActivation(conv2d(x, w, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups),
                                    weight: bnWeight, bias: bnBias, runningMean: runningMean, runningVar: runningVar,
                                    training: false, eps: eps, activation: activation)
        return residual.map { y + $0 } ?? y
    }
    precondition(x.rank == 4 && w.rank == 4, "conv2dBatchNormActivation: input \(x.shape) and weight \(w.shape) must be rank 4")
    let C = x.shape[3], O = w.shape[0]
    precondition(groups > 0 && C % groups == 0 && O % groups == 0 && w.shape[3] * groups == C,
                 "conv2dBatchNormActivation: weight \(w.shape) does not fit input \(x.shape) with groups \(groups)")
    precondition(runningMean.count == O && runningVar.count == O, "conv2dBatchNormActivation: running statistics must have \(O) entries")
    let geo = Conv2DGeometry(batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], inChannels: C, outChannels: O,
                             kernelHeight: w.shape[1], kernelWidth: w.shape[2], stride: stride, dilation: dilation,
                             padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right,
                             groups: groups)
    geo.validate()
    let frozen = weightsAreFrozen
    let folded = foldedBatchNorm(bias: bias, bnWeight: bnWeight, bnBias: bnBias, runningMean: runningMean, runningVar: runningVar,
                                 eps: eps, channels: O, frozen: frozen)
    let scale = UnsafePointer(folded.pointer), shift = UnsafePointer(folded.pointer + O)
    let y = Tensor.empty([geo.batch, geo.outHeight, geo.outWidth, O])
    if let residual {
        precondition(residual.shape == y.shape, "conv2dBatchNormActivation: residual \(residual.shape) must match the output \(y.shape)")
    }
    if frozen && packedConvApplies(geo) {
        packedConvForward(y, x, w, scale: scale, shift: shift, activation: activation, inputScale: inputScale, residual: residual, geo)
        withExtendedLifetime((folded, residual, inputScale)) {}
        return y
    }
    let taps: Storage? = frozen && geo.isDepthwise ? FrozenWeights.depthwiseTaps(of: w, channels: O, taps: geo.kernelHeight * geo.kernelWidth) : nil
    Profiler.measure((geo.isDepthwise ? "conv2d+bn+act.dw" : geo.isPointwise ? "conv2d+bn+act.1x1" : "conv2d+bn+act.im2col") + shapeLabel(geo)) {
        conv2dForwardScaleShiftActivation(y.ptr, x.ptr, w.ptr, scale: scale, shift: shift, activation: activation, geo,
                                          depthwiseTaps: taps.map { UnsafePointer($0.pointer) })
    }
    withExtendedLifetime((folded, taps)) {}
    return residual.map { y + $0 } ?? y
}

/// Training fusion of a one-group 1×1 convolution (no bias) → batch norm with the batch's statistics →
/// activation (`nil` = identity): the same values, running-statistics updates and gradients as
/// `batchNormActivation(conv2d(x, w), …, training: true, …)`, recorded as one node whose backward pass computes
/// the batch-norm input gradient block by block inside the convolution's backward
/// (`pointwiseConvBatchNormActivationBackward`) instead of writing it to memory and reading it back.
/// Other geometries, or an input or weight without a gradient, run that composition.
// x: [N, H, W, C], w: [O, 1, 1, C] → [N, H, W, O]
public func pointwiseConvBatchNormActivation(_ x: Tensor, _ w: Tensor, bnWeight: Tensor?, bnBias: Tensor?,
                                             runningMean: Tensor?, runningVar: Tensor?, momentum: Float = 0.1, eps: Float = 1e-5,
                                             activation: ActivationKind?) -> Tensor {
    precondition(x.rank == 4 && w.rank == 4, "pointwiseConvBatchNormActivation: input \(x.shape) and weight \(w.shape) must be rank 4")
    let C = x.shape[3], O = w.shape[0]
    precondition(w.shape[1] == 1 && w.shape[2] == 1 && w.shape[3] == C,
                 "pointwiseConvBatchNormActivation: weight \(w.shape) must be [O, 1, 1, \(C)] for input \(x.shape)")
    let geo = Conv2DGeometry(batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], inChannels: C, outChannels: O,
                             kernelHeight: 1, kernelWidth: 1, stride: 1, dilation: 1,
                             padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
    geo.validate()
    guard GradMode.isEnabled && x.requiresGrad && w.requiresGrad && pointwiseConvBatchNormActivationApplies(geo) else {
        return batchNormActivation(conv2d(x, w), weight: bnWeight, bias: bnBias, runningMean: runningMean, runningVar: runningVar,
                                   training: true, momentum: momentum, eps: eps, activation: activation)
    }
    let y = Tensor.empty([geo.batch, geo.outHeight, geo.outWidth, O])
    let P = geo.batch * geo.outHeight * geo.outWidth
    // An output larger than the caches gets its batch statistics summed block by block while the convolution
    // writes it; a small one is still in cache for the statistics pass, and the parallel GEMM is faster there.
    var statistics: (mean: Tensor, variance: Tensor)? = nil
    if P * O >= PointwiseBackwardTuning.forwardStatisticsMinOutput {
        let batchMean = Tensor.empty([O]), batchVariance = Tensor.empty([O])
        Profiler.measure("conv2d.1x1+stats" + shapeLabel(geo)) {
            pointwiseConvForwardStatistics(y.ptr, batchMean.ptr, batchVariance.ptr, x.ptr, w.ptr, pixels: P, inChannels: C, outChannels: O)
        }
        statistics = (batchMean, batchVariance)
    } else {
        Profiler.measure("conv2d.1x1" + shapeLabel(geo)) { conv2dForward(y.ptr, x.ptr, w.ptr, nil, geo) }
    }
    return convBatchNormActivationNode("pointwiseConvBatchNormActivation", node: "conv2d.1x1+batchNormActivation", conv: y, x, w,
                                       bnWeight: bnWeight, bnBias: bnBias, runningMean: runningMean, runningVar: runningVar,
                                       momentum: momentum, eps: eps, activation: activation, statistics: statistics) { dx, dw, g, bn in
        pointwiseConvBatchNormActivationBackward(dx.ptr, dw.ptr, g.ptr, y.ptr, x.ptr, w.ptr, scale: bn.scale.ptr, shift: bn.shift.ptr,
                                                 mean: bn.mean.ptr, invstd: bn.invstd.ptr, bnWeight: bnWeight?.ptr,
                                                 sumG: bn.sumG.ptr, sumGXhat: bn.sumGXhat.ptr, activation: activation,
                                                 pixels: P, inChannels: C, outChannels: O)
    }
}

/// Training fusion of a depthwise convolution (no bias) → batch norm with the batch's statistics → activation
/// (`nil` = identity): the same values, running-statistics updates and gradients as
/// `batchNormActivation(conv2d(x, w, groups: C), …, training: true, …)`, recorded as one node whose backward
/// pass computes the batch-norm input gradient band by band inside the convolution's backward
/// (`depthwiseConvBatchNormActivationBackward`) instead of writing it to memory and reading it back twice.
/// An input or weight without a gradient, or images with less output than
/// `DepthwiseBackwardTuning.minImageOutput`, run that composition.
// x: [N, H, W, C], w: [C, kh, kw, 1] → [N, Ho, Wo, C]
public func depthwiseConvBatchNormActivation(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Padding2D = .symmetric(0),
                                             dilation: Int = 1, bnWeight: Tensor?, bnBias: Tensor?, runningMean: Tensor?,
                                             runningVar: Tensor?, momentum: Float = 0.1, eps: Float = 1e-5,
                                             activation: ActivationKind?) -> Tensor {
    precondition(x.rank == 4 && w.rank == 4, "depthwiseConvBatchNormActivation: input \(x.shape) and weight \(w.shape) must be rank 4")
    let C = x.shape[3]
    precondition(w.shape[0] == C && w.shape[3] == 1,
                 "depthwiseConvBatchNormActivation: weight \(w.shape) must be [\(C), kh, kw, 1] for input \(x.shape)")
    let geo = Conv2DGeometry(batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], inChannels: C, outChannels: C,
                             kernelHeight: w.shape[1], kernelWidth: w.shape[2], stride: stride, dilation: dilation,
                             padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right,
                             groups: C)
    geo.validate()
    guard GradMode.isEnabled && x.requiresGrad && w.requiresGrad && depthwiseBatchNormFusedApplies(geo) else {
        return batchNormActivation(conv2d(x, w, stride: stride, padding: padding, dilation: dilation, groups: C), weight: bnWeight,
                                   bias: bnBias, runningMean: runningMean, runningVar: runningVar, training: true,
                                   momentum: momentum, eps: eps, activation: activation)
    }
    let y = Tensor.empty([geo.batch, geo.outHeight, geo.outWidth, C])
    Profiler.measure("conv2d.dw" + shapeLabel(geo)) { conv2dForward(y.ptr, x.ptr, w.ptr, nil, geo) }
    return convBatchNormActivationNode("depthwiseConvBatchNormActivation", node: "conv2d.dw+batchNormActivation", conv: y, x, w,
                                       bnWeight: bnWeight, bnBias: bnBias, runningMean: runningMean, runningVar: runningVar,
                                       momentum: momentum, eps: eps, activation: activation, statistics: nil) { dx, dw, g, bn in
        depthwiseConvBatchNormActivationBackward(dx.ptr, dw.ptr, g.ptr, y.ptr, x.ptr, w.ptr, scale: bn.scale.ptr, shift: bn.shift.ptr,
                                                 mean: bn.mean.ptr, invstd: bn.invstd.ptr, bnWeight: bnWeight?.ptr,
                                                 sumG: bn.sumG.ptr, sumGXhat: bn.sumGXhat.ptr, activation: activation, geo)
    }
}

/// Per-channel terms of a batch norm (batch statistics) + activation that a fused convolution backward needs:
/// the folded affine, the statistics and the column sums of `batchNormActivationBackwardReduce`.
struct BatchNormBackwardTerms {
    let scale: Tensor, shift: Tensor, mean: Tensor, invstd: Tensor, sumG: Tensor, sumGXhat: Tensor
}

/// The batch-norm half of a fused training node: batch statistics of the convolution output `y` (or the given
/// ones), running statistics updated, `act(y·scale + shift)` returned and recorded as one node over
/// [x, w, bnWeight?, bnBias?] named `node`. Its backward takes the column sums over (g, y) and hands them to
/// `convBackward`, which writes both convolution gradients; the affine's gradients are those sums.
private func convBatchNormActivationNode(_ op: String, node: String, conv y: Tensor, _ x: Tensor, _ w: Tensor, bnWeight: Tensor?,
                                         bnBias: Tensor?, runningMean: Tensor?, runningVar: Tensor?, momentum: Float, eps: Float,
                                         activation: ActivationKind?, statistics: (mean: Tensor, variance: Tensor)?,
                                         convBackward: @escaping (_ dx: Tensor, _ dw: Tensor, _ g: Tensor, _ bn: BatchNormBackwardTerms) -> Void)
    -> Tensor {
    let (c, rows, _, mean, invstd, scale, shift) = batchNormSetup(
        op, y, weight: bnWeight, bias: bnBias, runningMean: runningMean, runningVar: runningVar,
        training: true, momentum: momentum, eps: eps, batchStatistics: statistics)
    let out = Tensor.empty(y.shape)
    Profiler.measure("batchNormActivation") {
        scaleShiftActivation(out.ptr, y.ptr, scale: scale.ptr, shift: shift.ptr, activation: activation, rows: rows, channels: c)
    }
    var inputs: [Tensor] = [x, w]
    if let bnWeight { inputs.append(bnWeight) }
    if let bnBias { inputs.append(bnBias) }
    out.record(node, inputs) { g in
        let sumG = Tensor.empty([c]), sumGXhat = Tensor.empty([c])
        batchNormActivationBackwardReduce(sumG.ptr, sumGXhat.ptr, g.ptr, y.ptr, scale: scale.ptr, shift: shift.ptr,
                                          mean: mean.ptr, invstd: invstd.ptr, activation: activation, rows: rows, channels: c)
        let dx = Tensor.empty(x.shape), dw = Tensor.empty(w.shape)
        convBackward(dx, dw, g, BatchNormBackwardTerms(scale: scale, shift: shift, mean: mean, invstd: invstd, sumG: sumG, sumGXhat: sumGXhat))
        var grads: [Tensor?] = [dx, dw]
        if let bnWeight { grads.append(bnWeight.requiresGrad ? sumGXhat.reshapedView(bnWeight.shape) : nil) }
        if let bnBias { grads.append(bnBias.requiresGrad ? sumG.reshapedView(bnBias.shape) : nil) }
        return grads
    }
    return out
}

/// [scale | shift] ([2·O]): a batch norm with running statistics and a conv bias folded per channel; kept
/// for the scope when `frozen`.
func foldedBatchNorm(bias: Tensor?, bnWeight: Tensor?, bnBias: Tensor?, runningMean: Tensor, runningVar: Tensor, eps: Float,
                     channels O: Int, frozen: Bool) -> Storage {
    let fold: (UnsafeMutablePointer<Float>) -> Void = { p in
        for k in 0..<O {
            let s = Double(bnWeight?.ptr[k] ?? 1) / (Double(runningVar.ptr[k]) + Double(eps)).squareRoot()
            p[k] = Float(s)
            p[O + k] = Float(Double(bnBias?.ptr[k] ?? 0) + (Double(bias?.ptr[k] ?? 0) - Double(runningMean.ptr[k])) * s)
        }
    }
    if frozen {
        return FrozenWeights.packed(runningVar, companions: (runningMean, bnWeight, bnBias, bias), parameter: eps.bitPattern,
                                    layout: FrozenWeights.foldedBatchNormLayout, count: 2 * O, pack: fold)
    }
    let folded = Storage(count: 2 * O, zeroed: false)
    fold(folded.pointer)
    return folded
}

/// A convolution followed by a batch norm with running statistics (no bias): the operands of one
/// convolution of `conv2dExpandDepthwiseFrozen`.
public struct ConvBatchNorm {
    public var weight: Tensor, bnWeight: Tensor?, bnBias: Tensor?, runningMean: Tensor, runningVar: Tensor, eps: Float
    public init(weight: Tensor, bnWeight: Tensor?, bnBias: Tensor?, runningMean: Tensor, runningVar: Tensor, eps: Float) {
        self.weight = weight; self.bnWeight = bnWeight; self.bnBias = bnBias
        self.runningMean = runningMean; self.runningVar = runningVar; self.eps = eps
    }
}

/// Frozen inference of an inverted-residual block's first two convolutions — 1×1 expansion → BN → act,
/// depthwise → BN → act — as one parallel job (`expandDepthwiseScaleShiftActivation`: each thread expands a
/// panel of channels and convolves the same channels, from its own cache). Returns nil where that does not
/// apply — outside a `withFrozenWeights` scope, when a gradient is needed or FLOPs are being counted, a
/// geometry without the fused kernel (large images, few channels) — and the caller runs the two ops.
// x: [N, H, W, K] → [N, Ho, Wo, M]
public func conv2dExpandDepthwiseFrozen(_ x: Tensor, expand: ConvBatchNorm, activation: ActivationKind?, depthwise: ConvBatchNorm,
                                        stride: Int, padding: Padding2D, depthwiseActivation: ActivationKind?) -> Tensor? {
    guard weightsAreFrozen, !FlopCounter.isCounting, x.rank == 4 else { return nil }
    let we = expand.weight, wd = depthwise.weight
    if GradMode.isEnabled && [x, we, wd, expand.bnWeight, expand.bnBias, depthwise.bnWeight, depthwise.bnBias].contains(where: { $0?.requiresGrad == true }) {
        return nil
    }
    let N = x.shape[0], H = x.shape[1], W = x.shape[2], K = x.shape[3], M = we.shape[0]
    guard we.shape == [M, 1, 1, K], wd.rank == 4, wd.shape[0] == M, wd.shape[3] == 1, wd.shape[1] == wd.shape[2],
          expand.runningVar.count == M, depthwise.runningVar.count == M else { return nil }
    let pw = Conv2DGeometry(batch: N, inHeight: H, inWidth: W, inChannels: K, outChannels: M, kernelHeight: 1, kernelWidth: 1,
                            stride: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
    let dw = Conv2DGeometry(batch: N, inHeight: H, inWidth: W, inChannels: M, outChannels: M, kernelHeight: wd.shape[1],
                            kernelWidth: wd.shape[2], stride: stride, padTop: padding.top, padBottom: padding.bottom,
                            padLeft: padding.left, padRight: padding.right, groups: M)
    guard packedConvApplies(pw), dw.outHeight > 0, dw.outWidth > 0,
          expandDepthwiseApplies(dw, width: PointwiseTuning.panelWidth, threads: Threading.threads) else { return nil }
    let foldE = foldedBatchNorm(bias: nil, bnWeight: expand.bnWeight, bnBias: expand.bnBias, runningMean: expand.runningMean,
                                runningVar: expand.runningVar, eps: expand.eps, channels: M, frozen: true)
    let foldD = foldedBatchNorm(bias: nil, bnWeight: depthwise.bnWeight, bnBias: depthwise.bnBias, runningMean: depthwise.runningMean,
                                runningVar: depthwise.runningVar, eps: depthwise.eps, channels: M, frozen: true)
    let (packed, width, half) = FrozenWeights.panels(of: we, outChannels: M, inChannels: K)
    let taps = FrozenWeights.depthwiseTaps(of: wd, channels: M, taps: dw.kernelHeight * dw.kernelWidth)
    let expanded = Tensor.empty([N, H, W, M]), z = Tensor.empty([N, dw.outHeight, dw.outWidth, M])
    Profiler.measure("expand+dw fused" + shapeLabel(pw) + shapeLabel(dw)) {
        if half {
            expandDepthwiseScaleShiftActivation(z.ptr, expanded.ptr, x.ptr, packed.halfPanels, scale: foldE.pointer, shift: foldE.pointer + M,
                                                activation: activation, inChannels: K, width: width, taps: taps.pointer,
                                                dwScale: foldD.pointer, dwShift: foldD.pointer + M, dwActivation: depthwiseActivation, dw)
        } else {
            expandDepthwiseScaleShiftActivation(z.ptr, expanded.ptr, x.ptr, packed.pointer, scale: foldE.pointer, shift: foldE.pointer + M,
                                                activation: activation, inChannels: K, width: width, taps: taps.pointer,
                                                dwScale: foldD.pointer, dwShift: foldD.pointer + M, dwActivation: depthwiseActivation, dw)
        }
    }
    withExtendedLifetime((foldE, foldD, packed, taps, expanded)) {}
    return z
}

/// " 576px 1152→192 k1" under `ADNN_PROFILE=shapes`, else "".
private func shapeLabel(_ g: Conv2DGeometry) -> String {
    Profiler.shapes ? " \(g.batch * g.outHeight * g.outWidth)px \(g.inChannels)→\(g.outChannels) k\(g.kernelHeight)s\(g.stride)" : ""
}

/// y = act(conv(x, w)·scale + shift) inside a `withFrozenWeights` scope: the direct kernel on the
/// scope's packed copy of `w` (packed on first use).
private func packedConvForward(_ y: Tensor, _ x: Tensor, _ w: Tensor, scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                               activation: ActivationKind?, inputScale: Tensor? = nil, residual: Tensor? = nil, _ geo: Conv2DGeometry) {
    let (packed, width, half) = FrozenWeights.panels(of: w, outChannels: geo.outChannels, inChannels: geo.patchSize)
    let label = (geo.isPointwise ? "conv2d.1x1 packed" : "conv2d.im2col packed") + (inputScale == nil ? "" : "+gate")
        + (residual == nil ? "" : "+add") + shapeLabel(geo)
    Profiler.measure(label) {
        let gate = inputScale.map { UnsafePointer($0.ptr) }, skip = residual.map { UnsafePointer($0.ptr) }
        if half {
            conv2dPackedScaleShiftActivation(y.ptr, x.ptr, packed.halfPanels, scale: scale, shift: shift, activation: activation,
                                             inputScale: gate, residual: skip, geo, width: width)
        } else {
            conv2dPackedScaleShiftActivation(y.ptr, x.ptr, packed.pointer, scale: scale, shift: shift, activation: activation,
                                             inputScale: gate, residual: skip, geo, width: width)
        }
    }
    withExtendedLifetime(packed) {}
}
