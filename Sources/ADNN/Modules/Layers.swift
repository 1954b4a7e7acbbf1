import Foundation
import ADNNKernels

/// Pointwise nonlinearity used by blocks (`act_layer` in timm).
public enum Activation: String, Sendable {
    case identity, relu, relu6, silu, gelu, sigmoid, leakyRelu
    /// Applies the activation (leaky slope 0.1, as RetinaFace uses).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .identity: return x
        case .relu: return x.relu()
        case .relu6: return x.relu6()
        case .silu: return x.silu()
        case .gelu: return x.gelu()
        case .sigmoid: return x.sigmoid()
        case .leakyRelu: return x.leakyRelu(0.1)
        }
    }

    /// The kernel-level activation (nil for identity).
    public var kernelKind: ActivationKind? {
        switch self {
        case .identity: return nil
        case .relu: return .relu
        case .relu6: return .relu6
        case .silu: return .silu
        case .gelu: return .gelu
        case .sigmoid: return .sigmoid
        case .leakyRelu: return .leakyRelu(0.1)
        }
    }
}

/// How a convolution pads its input.
public enum ConvPadding: Sendable, Equatable {
    /// Same padding on all sides (PyTorch `padding=p`).
    case symmetric(Int)
    /// TensorFlow "SAME": computed from the input size at run time, possibly asymmetric (timm `Conv2dSame`).
    case same
}

/// 2-D convolution over NHWC input (PyTorch `nn.Conv2d`; weight kept as OHWI internally).
/// https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
public final class Conv2d: Module {
    public let weight: Tensor       // [O, kh, kw, I/groups]
    public let bias: Tensor?        // [O]
    public let stride: Int, dilation: Int, groups: Int
    public let padding: ConvPadding
    public var inChannels: Int { weight.shape[3] * groups }
    public var outChannels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[1] }

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: ConvPadding = .symmetric(0),
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d: channels \(inChannels)→\(outChannels) not divisible by groups \(groups)")
        let fanIn = Float(inChannels / groups * kernelSize * kernelSize)
        let bound = 1 / fanIn.squareRoot()
        weight = Tensor.uniform([outChannels, kernelSize, kernelSize, inChannels / groups], low: -bound, high: bound,
                                rng: &GlobalRNG.generator, requiresGrad: true)
        self.bias = bias ? Tensor.uniform([outChannels], low: -bound, high: bound, rng: &GlobalRNG.generator, requiresGrad: true) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    public override func checkpointLayout(of localName: String) -> CheckpointLayout { localName == "weight" ? .convOHWI : .plain }

    /// Padding for an input of the given spatial size.
    public func padding(height: Int, width: Int) -> Padding2D {
        switch padding {
        case .symmetric(let p): return .symmetric(p)
        case .same: return .same(inputHeight: height, inputWidth: width, kernel: kernelSize, stride: stride, dilation: dilation)
        }
    }

    /// Output spatial size for an input size.
    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        let p = padding(height: height, width: width)
        let k = dilation * (kernelSize - 1) + 1
        return ((height + p.top + p.bottom - k) / stride + 1, (width + p.left + p.right - k) / stride + 1)
    }

    /// Records this convolution's multiply-accumulates and input shape while `FlopCounter` counts.
    private func count(_ x: Tensor) {
        guard FlopCounter.isCounting else { return }
        let (ho, wo) = outputSize(height: x.shape[1], width: x.shape[2])
        FlopCounter.add(x.shape[0] * ho * wo * outChannels * kernelSize * kernelSize * (inChannels / groups))
        FlopCounter.convCalls.append((self, x.shape))
    }

    // x: [N, H, W, I] → [N, Ho, Wo, O]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        count(x)
        return conv2d(x, weight, bias: bias, stride: stride, padding: padding(height: x.shape[1], width: x.shape[2]),
               dilation: dilation, groups: groups)
    }

    /// `activation(bn(self(x)))`. In eval mode the batch norm and activation are fused into the
    /// convolution's epilogue (`conv2dBatchNormActivation`); in training batch norm and activation run
    /// as one fused op (`batchNormActivation`).
    /// `residual`, when given, is added to the result (after the activation): a block's skip connection,
    /// which the fused inference path adds inside the convolution's kernel.
    /// `inputScale` ([N, 1, 1, I]), when given, multiplies the input first: a squeeze-and-excitation gate,
    /// which the fused inference path applies inside a 1×1 convolution's kernel.
    // x: [N, H, W, I] → [N, Ho, Wo, O]
    public func callAsFunction(_ x: Tensor, batchNorm bn: BatchNorm, activation: Activation, inputScale: Tensor? = nil,
                               residual: Tensor? = nil) -> Tensor {
        if bn.training {
            let input = inputScale.map { x * $0 } ?? x
            let y: Tensor
            if kernelSize == 1 && stride == 1 && dilation == 1 && groups == 1 && bias == nil
                && padding(height: x.shape[1], width: x.shape[2]).isZero {
                // One node for conv → batch norm → activation (the batch-norm input gradient never goes to memory).
                count(input)
                bn.numBatchesTracked.ptr[0] += 1
                y = pointwiseConvBatchNormActivation(input, weight, bnWeight: bn.weight, bnBias: bn.bias, runningMean: bn.runningMean,
                                                     runningVar: bn.runningVar, momentum: bn.momentum, eps: bn.eps,
                                                     activation: activation.kernelKind)
            } else if groups == inChannels && groups == outChannels && bias == nil {
                // One node for depthwise conv → batch norm → activation (same reason).
                count(input)
                bn.numBatchesTracked.ptr[0] += 1
                y = depthwiseConvBatchNormActivation(input, weight, stride: stride, padding: padding(height: x.shape[1], width: x.shape[2]),
                                                     dilation: dilation, bnWeight: bn.weight, bnBias: bn.bias,
                                                     runningMean: bn.runningMean, runningVar: bn.runningVar, momentum: bn.momentum,
                                                     eps: bn.eps, activation: activation.kernelKind)
            } else {
                y = bn(self(input), activation: activation)
            }
            return residual.map { y + $0 } ?? y
        }
        count(x)
        return conv2dBatchNormActivation(x, weight, bias: bias, stride: stride, padding: padding(height: x.shape[1], width: x.shape[2]),
                                         dilation: dilation, groups: groups, bnWeight: bn.weight, bnBias: bn.bias,
                                         runningMean: bn.runningMean, runningVar: bn.runningVar, eps: bn.eps,
                                         activation: activation.kernelKind, inputScale: inputScale, residual: residual)
    }
}

/// Batch normalisation over the channel (last) axis (PyTorch `nn.BatchNorm2d` / `BatchNorm1d`).
/// https://arxiv.org/abs/1502.03167
public final class BatchNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    /// Kept for PyTorch `load_state_dict(strict=True)` compatibility.
    public let numBatchesTracked: Tensor
    public let eps: Float, momentum: Float

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = Tensor(repeating: 1, shape: [channels], requiresGrad: true)
        bias = Tensor(zeros: [channels], requiresGrad: true)
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(repeating: 1, shape: [channels])
        numBatchesTracked = Tensor(zeros: [])
        self.eps = eps; self.momentum = momentum
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if training { numBatchesTracked.ptr[0] += 1 }
        return batchNorm(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                         training: training, momentum: momentum, eps: eps)
    }

    /// `activation(self(x))` as one fused op (timm `BatchNormAct2d`).
    public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
        if training { numBatchesTracked.ptr[0] += 1 }
        return batchNormActivation(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                   training: training, momentum: momentum, eps: eps, activation: activation.kernelKind)
    }
}

/// Fully connected layer `y = x Wᵀ + b` over the last axis (PyTorch `nn.Linear`, weight `[out, in]`).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &GlobalRNG.generator, requiresGrad: true)
        self.bias = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &GlobalRNG.generator, requiresGrad: true) : nil
    }

    // x: [..., in] → [..., out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.dim(-1) == weight.shape[1], "Linear: input features \(x.dim(-1)) != \(weight.shape[1])")
        if FlopCounter.isCounting { FlopCounter.add(x.count / weight.shape[1] * weight.count) }
        return ADNN.linear(x, weight: weight, bias: bias)
    }
}

/// Layer normalisation over the last axis (PyTorch `nn.LayerNorm`). https://arxiv.org/abs/1607.06450
public final class LayerNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let eps: Float
    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor(repeating: 1, shape: [dim], requiresGrad: true)
        bias = Tensor(zeros: [dim], requiresGrad: true)
        self.eps = eps
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// Inverted dropout (identity in eval mode).
public final class Dropout: Module {
    public let p: Float
    public init(_ p: Float) { self.p = p }
    /// Whether the module passes its input through unchanged (evaluation, or p = 0).
    public var isIdentity: Bool { !training || p == 0 }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard !isIdentity else { return x }
        return dropout(x, p: p, training: true, rng: &GlobalRNG.generator)
    }
}

/// Stochastic depth: drops a whole residual branch per sample (timm `DropPath`).
/// https://arxiv.org/abs/1603.09382
public final class DropPath: Module {
    public let p: Float
    public init(_ p: Float) { self.p = p }
    // x: [N, ...]
    /// Whether the module passes its input through unchanged (evaluation, or p = 0).
    public var isIdentity: Bool { !training || p == 0 }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard !isIdentity else { return x }
        let n = x.shape[0]
        var mask = [Float](repeating: 0, count: n)
        for i in 0..<n { mask[i] = GlobalRNG.generator.nextUniform() >= p ? 1 / (1 - p) : 0 }
        return x * Tensor(mask, shape: [n] + [Int](repeating: 1, count: x.rank - 1))
    }
}


/// Counts multiply-accumulates of convolutions, linear layers and attention products during a
/// forward pass (`adnn summary`, `adnn bench`). GFLOPs are reported as 2 × MACs.
public enum FlopCounter {
    nonisolated(unsafe) public private(set) static var isCounting = false
    nonisolated(unsafe) public private(set) static var macs = 0
    /// Convolutions seen while counting, with their input shapes (for `adnn bench-kernels`).
    nonisolated(unsafe) public internal(set) static var convCalls: [(Conv2d, [Int])] = []
    static func add(_ n: Int) { macs += n }
    /// Runs `body` and returns the multiply-accumulates it performed.
    public static func count(_ body: () -> Void) -> Int {
        macs = 0; convCalls = []; isCounting = true
        defer { isCounting = false }
        body()
        return macs
    }
}
