import Foundation

/// The projection shortcut of a bottleneck (`downsample.0` conv, `downsample.1` BN).
public final class DownsampleShortcut: Module {
    public let conv: Conv2d, bn: BatchNorm
    init(_ inC: Int, _ outC: Int, stride: Int) {
        conv = Conv2d(inC, outC, kernelSize: 1, stride: stride, bias: false); bn = BatchNorm(outC)
    }
    public override var nameOverrides: [String: String] { ["conv": "0", "bn": "1"] }
    public func callAsFunction(_ x: Tensor) -> Tensor { bn(conv(x)) }
}

/// ResNet bottleneck block (torchvision v1.5: stride on the 3×3 conv), names `conv1..3`, `bn1..3`,
/// `downsample.0/1`. https://arxiv.org/abs/1512.03385
public final class Bottleneck: Module, UnaryLayer {
    public let conv1: Conv2d, bn1: BatchNorm
    public let conv2: Conv2d, bn2: BatchNorm
    public let conv3: Conv2d, bn3: BatchNorm
    public let downsample: DownsampleShortcut?
    public let dropPath: DropPath

    init(_ inC: Int, planes: Int, stride: Int, dropPath p: Float) {
        conv1 = Conv2d(inC, planes, kernelSize: 1, bias: false); bn1 = BatchNorm(planes)
        conv2 = Conv2d(planes, planes, kernelSize: 3, stride: stride, padding: .symmetric(1), bias: false); bn2 = BatchNorm(planes)
        conv3 = Conv2d(planes, planes * 4, kernelSize: 1, bias: false); bn3 = BatchNorm(planes * 4)
        downsample = (stride != 1 || inC != planes * 4)
            ? DownsampleShortcut(inC, planes * 4, stride: stride) : nil
        dropPath = DropPath(p)
    }


    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = bn1(conv1(x)).relu()
        y = bn2(conv2(y)).relu()
        y = bn3(conv3(y))
        let shortcut = downsample.map { $0(x) } ?? x
        return (dropPath(y) + shortcut).relu()
    }
}

/// ResNet-50 (torchvision/timm names: `conv1`, `bn1`, `layer1..4`, `fc`), the ablation baseline.
public final class ResNet: Module, Backbone {
    public let conv1: Conv2d, bn1: BatchNorm
    public let layer1: [Bottleneck], layer2: [Bottleneck], layer3: [Bottleneck], layer4: [Bottleneck]
    public let fc: Linear?
    /// `layer1…4`: 256, 512, 1024, 2048 channels at output strides 4, 8, 16, 32.
    public var stages: [BackboneStage] {
        zip([layer1, layer2, layer3, layer4], [(256, 4), (512, 8), (1024, 16), (2048, 32)]).map {
            BackboneStage(blocks: $0.0, channels: $0.1.0, outputStride: $0.1.1)
        }
    }
    public var stemModules: [Module] { [conv1, bn1] }
    public var headModules: [Module] { [] }
    public var featureChannels: Int { 2048 }

    /// ResNet-50; `numClasses == 0` gives a feature extractor without `fc`.
    public init(layers: [Int] = [3, 4, 6, 3], inChannels: Int = 3, numClasses: Int = 1000, dropPathRate: Float = 0) {
        conv1 = Conv2d(inChannels, 64, kernelSize: 7, stride: 2, padding: .symmetric(3), bias: false)
        bn1 = BatchNorm(64)
        var c = 64
        let total = layers.reduce(0, +)
        var idx = 0
        func make(_ planes: Int, _ n: Int, _ stride: Int) -> [Bottleneck] {
            (0..<n).map { i in
                let b = Bottleneck(c, planes: planes, stride: i == 0 ? stride : 1, dropPath: dropPathRate * Float(idx) / Float(max(1, total - 1)))
                c = planes * 4; idx += 1
                return b
            }
        }
        layer1 = make(64, layers[0], 1); layer2 = make(128, layers[1], 2)
        layer3 = make(256, layers[2], 2); layer4 = make(512, layers[3], 2)
        fc = numClasses > 0 ? Linear(2048, numClasses) : nil
        super.init()
        // torchvision: kaiming_normal_(fan_out, relu) for convs.
        for (_, m) in namedModules() {
            if let conv = m as? Conv2d {
                let fanOut = Float(conv.kernelSize * conv.kernelSize * conv.outChannels)
                conv.weight.assign(Tensor.normal(conv.weight.shape, std: (2 / fanOut).squareRoot(), rng: &GlobalRNG.generator))
            }
        }
    }

    public func features(_ x: Tensor, hook: (Int, Tensor) -> Tensor) -> Tensor {
        var y = maxPool2d(bn1(conv1(x)).relu(), kernel: 3, stride: 2, padding: 1)
        for (s, layer) in [layer1, layer2, layer3, layer4].enumerated() {
            for b in layer { y = b(y) }
            y = hook(s, y)
        }
        return y
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(fc != nil, "ResNet: built without a classifier")
        return fc!(globalAvgPool(features(x) { $1 }))
    }
}
