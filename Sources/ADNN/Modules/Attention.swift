import Foundation

/// A module with one tensor input and one tensor output.
public protocol UnaryLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension Conv2d: UnaryLayer {}
extension BatchNorm: UnaryLayer {}
extension Linear: UnaryLayer {}
extension LayerNorm: UnaryLayer {}
extension Dropout: UnaryLayer {}
extension DropPath: UnaryLayer {}

/// Multi-head self-attention with a packed in-projection (PyTorch `nn.MultiheadAttention`,
/// `batch_first=True`): `in_proj_weight [3d, d]` stacks q, k, v. https://arxiv.org/abs/1706.03762
public final class MultiheadAttention: Module, UnaryLayer {
    public let inProjWeight: Tensor   // [3d, d]
    public let inProjBias: Tensor     // [3d]
    public let outProj: Linear
    public let heads: Int
    public let dropout: Float

    public init(_ dModel: Int, heads: Int, dropout: Float = 0) {
        precondition(dModel % heads == 0, "MultiheadAttention: d_model \(dModel) not divisible by heads \(heads)")
        // PyTorch: xavier_uniform_ on in_proj_weight, zero biases.
        let bound = (6 / Float(dModel + 3 * dModel)).squareRoot()
        inProjWeight = Tensor.uniform([3 * dModel, dModel], low: -bound, high: bound, rng: &GlobalRNG.generator, requiresGrad: true)
        inProjBias = Tensor(zeros: [3 * dModel], requiresGrad: true)
        outProj = Linear(dModel, dModel)
        outProj.bias!.fill(0)
        self.heads = heads
        self.dropout = dropout
    }

    // x: [N, T, d] → [N, T, d]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let n = x.shape[0], t = x.shape[1], d = x.shape[2], h = heads, dh = d / heads
        if FlopCounter.isCounting { FlopCounter.add(2 * n * h * t * t * dh + n * t * inProjWeight.count) }
        let qkv = linear(x.reshaped([n * t, d]), weight: inProjWeight, bias: inProjBias)           // [N·T, 3d]
        let split = qkv.reshaped([n, t, 3, h, dh]).permuted([2, 0, 3, 1, 4])                        // [3, N, h, T, dh]
        let q = split.slice(axis: 0, range: 0..<1).reshaped([n * h, t, dh])
        let k = split.slice(axis: 0, range: 1..<2).reshaped([n * h, t, dh])
        let v = split.slice(axis: 0, range: 2..<3).reshaped([n * h, t, dh])
        var p = (Tensor.matmul(q, k, transB: true) * (1 / Float(dh).squareRoot())).softmax(axis: -1)   // [N·h, T, T]
        if training && dropout > 0 { p = ADNN.dropout(p, p: dropout, training: true, rng: &GlobalRNG.generator) }
        let o = Tensor.matmul(p, v).reshaped([n, h, t, dh]).permuted([0, 2, 1, 3]).reshaped([n, t, d])
        return outProj(o)
    }
}

/// Pre-norm Transformer encoder layer (PyTorch `nn.TransformerEncoderLayer(norm_first=True,
/// activation="gelu", batch_first=True)`).
public final class TransformerEncoderLayer: Module, UnaryLayer {
    public let selfAttn: MultiheadAttention
    public let linear1: Linear, linear2: Linear
    public let norm1: LayerNorm, norm2: LayerNorm
    public let dropoutRate: Float

    public init(dModel: Int, heads: Int, dFF: Int, dropout: Float) {
        selfAttn = MultiheadAttention(dModel, heads: heads, dropout: dropout)
        linear1 = Linear(dModel, dFF)
        linear2 = Linear(dFF, dModel)
        norm1 = LayerNorm(dModel)
        norm2 = LayerNorm(dModel)
        dropoutRate = dropout
    }

    private func drop(_ x: Tensor) -> Tensor {
        training && dropoutRate > 0 ? ADNN.dropout(x, p: dropoutRate, training: true, rng: &GlobalRNG.generator) : x
    }

    // x: [N, T, d]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let a = x + drop(selfAttn(norm1(x)))
        return a + drop(linear2(drop(linear1(norm2(a)).gelu())))
    }
}

/// Stack of encoder layers with a final LayerNorm (PyTorch `nn.TransformerEncoder(..., norm=LayerNorm)`).
public final class TransformerEncoder: Module, UnaryLayer {
    public let layers: [TransformerEncoderLayer]
    public let norm: LayerNorm

    public init(layers count: Int, dModel: Int, heads: Int, dFF: Int, dropout: Float) {
        layers = (0..<count).map { _ in TransformerEncoderLayer(dModel: dModel, heads: heads, dFF: dFF, dropout: dropout) }
        norm = LayerNorm(dModel)
    }

    // x: [N, T, d]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        norm(layers.reduce(x) { $1($0) })
    }
}

/// Squeeze-and-excitation gate with 1×1 convs (timm `SqueezeExcite`: `conv_reduce`, `conv_expand`).
/// https://arxiv.org/abs/1709.01507
public final class SqueezeExcite: Module, UnaryLayer {
    public let convReduce: Conv2d, convExpand: Conv2d
    public let act: Activation

    public init(_ channels: Int, reducedChannels: Int, act: Activation) {
        convReduce = Conv2d(channels, reducedChannels, kernelSize: 1)
        convExpand = Conv2d(reducedChannels, channels, kernelSize: 1)
        self.act = act
    }

    // x: [N, H, W, C]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x * gate(x)
    }

    /// The per-image, per-channel factors the block multiplies `x` by ([N, 1, 1, C]); blocks whose next op
    /// is a 1×1 convolution hand it to that convolution as its input scale.
    // x: [N, H, W, C] → [N, 1, 1, C]
    public func gate(_ x: Tensor) -> Tensor {
        let s = globalAvgPool(x).reshaped([x.shape[0], 1, 1, x.shape[3]])
        return convExpand(act(convReduce(s))).sigmoid()
    }
}

/// Convolutional Block Attention Module (Woo et al., ECCV 2018; official code semantics, SPEC §1.2).
/// https://arxiv.org/abs/1807.06521
public final class CBAM: Module, UnaryLayer {
    /// Channel gate: shared MLP over avg- and max-pooled descriptors.
    public final class ChannelGate: Module {
        public let fc1: Linear, fc2: Linear
        init(_ c: Int, reduction: Int) {
            let hidden = max(1, c / reduction)
            fc1 = Linear(c, hidden); fc2 = Linear(hidden, c)
        }
        // x: [N, H, W, C] → gate [N, 1, 1, C]
        func gate(_ x: Tensor) -> Tensor {
            let n = x.shape[0], c = x.shape[3]
            let avg = globalAvgPool(x), mx = x.max(axes: [1, 2])
            let s = fc2(fc1(avg).relu()) + fc2(fc1(mx).relu())
            return s.sigmoid().reshaped([n, 1, 1, c])
        }
    }

    /// Spatial gate: 7×7 conv + BN over [max over C, mean over C].
    public final class SpatialGate: Module {
        public let conv: Conv2d, bn: BatchNorm
        init(kernelSize: Int) {
            conv = Conv2d(2, 1, kernelSize: kernelSize, padding: .symmetric(kernelSize / 2), bias: false)
            bn = BatchNorm(1, eps: 1e-5, momentum: 0.01)
        }
        // x: [N, H, W, C] → gate [N, H, W, 1]
        func gate(_ x: Tensor) -> Tensor {
            let pooled = Tensor.concat([x.max(axes: [3], keepDims: true), x.mean(axes: [3], keepDims: true)], axis: 3)
            return conv(pooled, batchNorm: bn, activation: .sigmoid)
        }
    }

    public let channel: ChannelGate
    public let spatial: SpatialGate

    public init(_ channels: Int, reduction: Int = 16, kernelSize: Int = 7) {
        channel = ChannelGate(channels, reduction: reduction)
        spatial = SpatialGate(kernelSize: kernelSize)
    }

    // x: [N, H, W, C]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = x * channel.gate(x)
        return y * spatial.gate(y)
    }
}
