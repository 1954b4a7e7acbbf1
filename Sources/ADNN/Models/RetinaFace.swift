import Foundation

/// A face found by `RetinaFace.detect`, in input-pixel coordinates.
public struct FaceDetection: Sendable, Equatable {
    /// `[x1, y1, x2, y2]`.
    public var box: [Float]
    /// Softmax probability of the face class.
    public var score: Float
    /// Five points `[x, y] × (left eye, right eye, nose, left mouth corner, right mouth corner)`, flattened.
    public var landmarks: [Float]

    public init(box: [Float], score: Float, landmarks: [Float]) {
        self.box = box
        self.score = score
        self.landmarks = landmarks
    }

    /// Box width and height.
    public var width: Float { box[2] - box[0] }
    public var height: Float { box[3] - box[1] }
}

/// Conv → BatchNorm → optional LeakyReLU: RetinaFace's `conv_bn`, `conv_bn_no_relu` and
/// `conv_bn1X1` Sequentials (checkpoint names `0` conv, `1` BN).
/// A layer of the RetinaFace MobileNet body (`RetinaConvBN` or `RetinaDepthwiseBlock`), so a stage is
/// a typed array.
public class RetinaBodyLayer: Module {
    /// Forward pass; each subclass overrides it.
    public func callAsFunction(_ x: Tensor) -> Tensor { x }
}

public final class RetinaConvBN: RetinaBodyLayer {
    public let conv: Conv2d, bn: BatchNorm
    /// LeakyReLU slope, applied when `activated`.
    public let slope: Float
    public let activated: Bool

    public init(_ inC: Int, _ outC: Int, kernelSize: Int = 3, stride: Int = 1, slope: Float? = nil) {
        conv = Conv2d(inC, outC, kernelSize: kernelSize, stride: stride, padding: .symmetric(kernelSize / 2), bias: false)
        bn = BatchNorm(outC)
        self.slope = slope ?? 0
        activated = slope != nil
    }

    public override var nameOverrides: [String: String] { ["conv": "0", "bn": "1"] }

    // x: [N, H, W, inC] → [N, H', W', outC]
    public override func callAsFunction(_ x: Tensor) -> Tensor {
        let y = bn(conv(x))
        return activated ? y.leakyRelu(slope) : y
    }
}

/// MobileNet-V1 depthwise-separable block (`conv_dw`): 3×3 depthwise conv → BN → LeakyReLU
/// → 1×1 conv → BN → LeakyReLU; checkpoint names `0`, `1`, `3`, `4`.
public final class RetinaDepthwiseBlock: RetinaBodyLayer {
    public let dwConv: Conv2d, dwBn: BatchNorm
    public let pwConv: Conv2d, pwBn: BatchNorm
    public let slope: Float

    public init(_ inC: Int, _ outC: Int, stride: Int, slope: Float) {
        self.slope = slope
        dwConv = Conv2d(inC, inC, kernelSize: 3, stride: stride, padding: .symmetric(1), groups: inC, bias: false)
        dwBn = BatchNorm(inC)
        pwConv = Conv2d(inC, outC, kernelSize: 1, bias: false)
        pwBn = BatchNorm(outC)
    }

    public override var nameOverrides: [String: String] { ["dwConv": "0", "dwBn": "1", "pwConv": "3", "pwBn": "4"] }

    // x: [N, H, W, inC] → [N, H/stride, W/stride, outC]
    public override func callAsFunction(_ x: Tensor) -> Tensor {
        pwBn(pwConv(dwBn(dwConv(x)).leakyRelu(slope))).leakyRelu(slope)
    }
}

/// MobileNet-V1 ×0.25 body with three outputs (strides 8, 16, 32; 64, 128, 256 channels).
public final class RetinaMobileNetBody: Module {
    public let stage1: [RetinaBodyLayer], stage2: [RetinaBodyLayer], stage3: [RetinaBodyLayer]

    /// - Parameter slope: LeakyReLU slope after every BN.
    public init(slope: Float) {
        func dw(_ i: Int, _ o: Int, _ s: Int) -> RetinaDepthwiseBlock { RetinaDepthwiseBlock(i, o, stride: s, slope: slope) }
        stage1 = [RetinaConvBN(3, 8, stride: 2, slope: slope), dw(8, 16, 1), dw(16, 32, 2), dw(32, 32, 1), dw(32, 64, 2), dw(64, 64, 1)]
        stage2 = [dw(64, 128, 2)] + (0..<5).map { _ in dw(128, 128, 1) }
        stage3 = [dw(128, 256, 2), dw(256, 256, 1)]
    }

    private func run(_ stage: [RetinaBodyLayer], _ x: Tensor) -> Tensor {
        stage.reduce(x) { $1($0) }
    }

    // x: [N, H, W, 3] → ([N, H/8, W/8, 64], [N, H/16, W/16, 128], [N, H/32, W/32, 256]) (sizes rounded up)
    public func callAsFunction(_ x: Tensor) -> [Tensor] {
        let c1 = run(stage1, x)
        let c2 = run(stage2, c1)
        return [c1, c2, run(stage3, c2)]
    }
}

/// Feature pyramid: 1×1 lateral conv-BN-LeakyReLU per level, nearest upsampling top-down, 3×3 merges.
public final class RetinaFPN: Module {
    public let output1: RetinaConvBN, output2: RetinaConvBN, output3: RetinaConvBN
    public let merge1: RetinaConvBN, merge2: RetinaConvBN

    public init(inChannels: [Int], outChannels: Int, slope: Float) {
        output1 = RetinaConvBN(inChannels[0], outChannels, kernelSize: 1, slope: slope)
        output2 = RetinaConvBN(inChannels[1], outChannels, kernelSize: 1, slope: slope)
        output3 = RetinaConvBN(inChannels[2], outChannels, kernelSize: 1, slope: slope)
        merge1 = RetinaConvBN(outChannels, outChannels, slope: slope)
        merge2 = RetinaConvBN(outChannels, outChannels, slope: slope)
    }

    public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
        let o1 = output1(features[0])
        var o2 = output2(features[1])
        let o3 = output3(features[2])
        o2 = merge2(o2 + nearestResize(o3, like: o2))
        let m1 = merge1(o1 + nearestResize(o2, like: o1))
        return [m1, o2, o3]
    }
}

/// `F.interpolate(x, size=like.size, mode="nearest")` on NHWC: source index `floor(i · in/out)`
/// computed in Float32 as PyTorch does.
func nearestResize(_ x: Tensor, like target: Tensor) -> Tensor {
    func indices(_ inSize: Int, _ outSize: Int) -> [Int] {
        if inSize == outSize { return Array(0..<outSize) }
        if outSize == 2 * inSize { return (0..<outSize).map { $0 >> 1 } }
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { min(Int((Float($0) * scale).rounded(.down)), inSize - 1) }
    }
    var y = x
    if x.shape[1] != target.shape[1] { y = y.indexSelect(axis: 1, indices: indices(x.shape[1], target.shape[1])) }
    if x.shape[2] != target.shape[2] { y = y.indexSelect(axis: 2, indices: indices(x.shape[2], target.shape[2])) }
    return y
}

/// SSH context module: a 3×3 branch (C/2) and 5×5 / 7×7 receptive-field branches (C/4 each) built
/// from stacked 3×3 convs, concatenated and ReLU'd.
public final class RetinaSSH: Module {
    public let conv3X3: RetinaConvBN
    public let conv5X5_1: RetinaConvBN, conv5X5_2: RetinaConvBN
    public let conv7X7_2: RetinaConvBN, conv7x7_3: RetinaConvBN

    public init(_ inC: Int, _ outC: Int, slope: Float) {
        precondition(outC % 4 == 0, "RetinaSSH: output channels \(outC) not divisible by 4")
        conv3X3 = RetinaConvBN(inC, outC / 2)
        conv5X5_1 = RetinaConvBN(inC, outC / 4, slope: slope)
        conv5X5_2 = RetinaConvBN(outC / 4, outC / 4)
        conv7X7_2 = RetinaConvBN(outC / 4, outC / 4, slope: slope)
        conv7x7_3 = RetinaConvBN(outC / 4, outC / 4)
    }

    public override var nameOverrides: [String: String] {
        ["conv3X3": "conv3X3", "conv5X5_1": "conv5X5_1", "conv5X5_2": "conv5X5_2",
         "conv7X7_2": "conv7X7_2", "conv7x7_3": "conv7x7_3"]
    }

    // x: [N, H, W, inC] → [N, H, W, outC]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let a = conv3X3(x)
        let b1 = conv5X5_1(x)
        let b = conv5X5_2(b1)
        let c = conv7x7_3(conv7X7_2(b1))
        return Tensor.concat([a, b, c], axis: 3).relu()
    }
}

/// A 1×1 prediction conv whose `anchors × values` channels are read as `values` per anchor.
public final class RetinaHead: Module {
    public let conv1x1: Conv2d
    public let values: Int

    public init(_ inC: Int, anchors: Int, values: Int) {
        conv1x1 = Conv2d(inC, anchors * values, kernelSize: 1)
        self.values = values
    }

    // x: [N, H, W, C] → [N, H·W·anchors, values] (cell-major, then anchor: PyTorch's permute + view)
    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv1x1(x).reshaped([x.shape[0], -1, values])
    }
}

/// RetinaFace with a MobileNet-0.25 backbone (https://arxiv.org/abs/1905.00641), the face
/// detector of SPEC §6, with the state-dict names of the public `mobilenet0.25_Final.pth`
/// (`body.stage1.0.0.weight`, `fpn.output1.0.weight`, `ssh1.conv3X3.0.weight`,
/// `ClassHead.0.conv1x1.weight`, …). Settings are those of `shared/models/README.md`.
public final class RetinaFace: Module {
    public let body: RetinaMobileNetBody
    public let fpn: RetinaFPN
    public let ssh1: RetinaSSH, ssh2: RetinaSSH, ssh3: RetinaSSH
    public let classHead: [RetinaHead], bboxHead: [RetinaHead], landmarkHead: [RetinaHead]

    /// Feature strides of the three levels.
    public static let steps = [8, 16, 32]
    /// Square anchor sizes (pixels) per level, two per cell.
    public static let minSizes = [[10, 20], [32, 64], [128, 256]]
    /// SSD box-coding variances (centre, size).
    public static let variances: (Float, Float) = (0.1, 0.2)
    /// Per-channel means subtracted from the BGR input.
    public static let bgrMean: [Float] = [104, 117, 123]

    /// An untrained detector (load weights with `RetinaFace.load(_:)` or `load(stateDict:)`).
    ///
    /// - Parameter slope: negative slope of every LeakyReLU in the body, FPN and SSH modules. The
    ///   upstream training code uses 0.1, but the reference detections that `adnn` is checked
    ///   against (`shared/data/faces/retinaface_expected.jsonl`) come from the same weights run with
    ///   plain ReLU (slope 0): with 0.1 the first portrait scores 0.618 instead of 0.9994 and several
    ///   portraits are missed, with 0 every reference face is reproduced. Hence the default 0.
    public init(slope: Float = 0) {
        body = RetinaMobileNetBody(slope: slope)
        fpn = RetinaFPN(inChannels: [64, 128, 256], outChannels: 64, slope: slope)
        ssh1 = RetinaSSH(64, 64, slope: slope); ssh2 = RetinaSSH(64, 64, slope: slope); ssh3 = RetinaSSH(64, 64, slope: slope)
        classHead = (0..<3).map { _ in RetinaHead(64, anchors: 2, values: 2) }
        bboxHead = (0..<3).map { _ in RetinaHead(64, anchors: 2, values: 4) }
        landmarkHead = (0..<3).map { _ in RetinaHead(64, anchors: 2, values: 10) }
        super.init()
        eval()
    }

    public override var nameOverrides: [String: String] {
        ["classHead": "ClassHead", "bboxHead": "BboxHead", "landmarkHead": "LandmarkHead"]
    }

    /// A detector in evaluation mode with weights from a `.pth` state dict or a `.safetensors` file
    /// (a `module.` prefix left by `DataParallel` is removed).
    /// - Throws: an error naming `path` when the file is unreadable or holds other weights.
    public static func load(_ path: String) throws -> RetinaFace {
        var stateDict: [String: Tensor] = [:]
        for (key, value) in try loadWeights(path) {
            stateDict[key.hasPrefix("module.") ? String(key.dropFirst("module.".count)) : key] = value
        }
        let model = RetinaFace()
        do {
            try model.load(stateDict: stateDict, strict: true)
        } catch {
            throw ADNNError.invalid("\(path): not RetinaFace MobileNet-0.25 weights (\(error))")
        }
        model.eval()
        return model
    }

    /// Raw predictions for every anchor.
    public struct Output {
        /// `[N, A, 4]` box offsets (SSD coding).
        public var loc: Tensor
        /// `[N, A, 2]` softmax probabilities (background, face).
        public var conf: Tensor
        /// `[N, A, 10]` landmark offsets.
        public var landmarks: Tensor
    }

    /// Network forward pass. `x`: `[N, H, W, 3]` BGR minus `bgrMean` (see `preprocess`).
    public func callAsFunction(_ x: Tensor) -> Output {
        precondition(x.rank == 4 && x.shape[3] == 3, "RetinaFace: input must be [N, H, W, 3] BGR, got \(x.shape)")
        let pyramid = fpn(body(x))
        let features = [ssh1(pyramid[0]), ssh2(pyramid[1]), ssh3(pyramid[2])]
        func heads(_ hs: [RetinaHead]) -> Tensor {
            Tensor.concat(zip(hs, features).map { $0.0($0.1) }, axis: 1)
        }
        return Output(loc: heads(bboxHead), conf: heads(classHead).softmax(axis: -1), landmarks: heads(landmarkHead))
    }

    /// `[1, H, W, 3]` network input from 8-bit pixels: gray (1 channel, replicated), RGB (3) or
    /// RGBA (4, alpha ignored), row-major; converted to BGR minus `bgrMean`, no scaling.
    public static func preprocess(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int) -> Tensor {
        precondition([1, 3, 4].contains(channels), "RetinaFace.preprocess: \(channels) channels (expected 1, 3 or 4)")
        precondition(pixels.count == width * height * channels,
                     "RetinaFace.preprocess: \(pixels.count) bytes for \(width)×\(height)×\(channels)")
        let t = Tensor.empty([1, height, width, 3])
        let out = t.ptr
        let (mb, mg, mr) = (bgrMean[0], bgrMean[1], bgrMean[2])
        for p in 0..<(width * height) {
            let s = p * channels
            let r = Float(pixels[s]), g = channels == 1 ? r : Float(pixels[s + 1]), b = channels == 1 ? r : Float(pixels[s + 2])
            out[3 * p] = b - mb
            out[3 * p + 1] = g - mg
            out[3 * p + 2] = r - mr
        }
        return t
    }

    /// Anchors `[cx, cy, w, h]` (normalised by the image size) for an input size, in the order of
    /// the network's predictions: level, row, column, anchor size.
    public static func priors(height: Int, width: Int) -> [Float] {
        var out: [Float] = []
        for (k, step) in steps.enumerated() {
            let fh = (height + step - 1) / step, fw = (width + step - 1) / step
            out.reserveCapacity(out.count + fh * fw * minSizes[k].count * 4)
            for i in 0..<fh {
                for j in 0..<fw {
                    for size in minSizes[k] {
                        out.append(Float((Double(j) + 0.5) * Double(step) / Double(width)))
                        out.append(Float((Double(i) + 0.5) * Double(step) / Double(height)))
                        out.append(Float(Double(size) / Double(width)))
                        out.append(Float(Double(size) / Double(height)))
                    }
                }
            }
        }
        return out
    }

    /// Faces in an image of 8-bit pixels (see `preprocess`): face-class probability above
    /// `threshold`, greedy NMS at IoU `nmsThreshold`, sorted by decreasing score.
    public func detect(pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int,
                       threshold: Float = 0.5, nmsThreshold: Float = 0.4) -> [FaceDetection] {
        let input = Self.preprocess(pixels: pixels, width: width, height: height, channels: channels)
        return detect(input, threshold: threshold, nmsThreshold: nmsThreshold)
    }

    /// Faces in a preprocessed `[1, H, W, 3]` input, in its pixel coordinates.
    public func detect(_ input: Tensor, threshold: Float = 0.5, nmsThreshold: Float = 0.4) -> [FaceDetection] {
        precondition(input.rank == 4 && input.shape[0] == 1, "RetinaFace.detect: input must be [1, H, W, 3], got \(input.shape)")
        let height = input.shape[1], width = input.shape[2]
        let out = noGrad { self(input) }
        let priors = Self.priors(height: height, width: width)
        let anchors = priors.count / 4
        precondition(out.conf.shape[1] == anchors,
                     "RetinaFace.detect: \(out.conf.shape[1]) predictions for \(anchors) anchors at \(width)×\(height)")
        let (v0, v1) = Self.variances
        let w = Float(width), h = Float(height)
        let loc = out.loc.ptr, conf = out.conf.ptr, lm = out.landmarks.ptr
        var candidates: [FaceDetection] = []
        for a in 0..<anchors where conf[2 * a + 1] > threshold {
            let (pcx, pcy, pw, ph) = (priors[4 * a], priors[4 * a + 1], priors[4 * a + 2], priors[4 * a + 3])
            let l = loc + 4 * a
            let cx = pcx + l[0] * v0 * pw, cy = pcy + l[1] * v0 * ph
            let bw = pw * Foundation.exp(l[2] * v1), bh = ph * Foundation.exp(l[3] * v1)
            let x1 = cx - bw / 2, y1 = cy - bh / 2
            let box = [x1 * w, y1 * h, (bw + x1) * w, (bh + y1) * h]
            var points = [Float](repeating: 0, count: 10)
            for p in 0..<5 {
                points[2 * p] = (pcx + lm[10 * a + 2 * p] * v0 * pw) * w
                points[2 * p + 1] = (pcy + lm[10 * a + 2 * p + 1] * v0 * ph) * h
            }
            candidates.append(FaceDetection(box: box, score: conf[2 * a + 1], landmarks: points))
        }
        return Self.nonMaximumSuppression(candidates, iouThreshold: nmsThreshold)
    }

    /// Greedy NMS: keeps the highest-scoring box, drops boxes overlapping it with IoU above
    /// `iouThreshold`, repeats. Areas use the reference implementation's inclusive-pixel convention
    /// (`(x2 − x1 + 1)·(y2 − y1 + 1)`).
    public static func nonMaximumSuppression(_ faces: [FaceDetection], iouThreshold: Float) -> [FaceDetection] {
        let order = faces.indices.sorted { faces[$0].score != faces[$1].score ? faces[$0].score > faces[$1].score : $0 < $1 }
        let area = faces.map { ($0.box[2] - $0.box[0] + 1) * ($0.box[3] - $0.box[1] + 1) }
        var suppressed = [Bool](repeating: false, count: faces.count)
        var kept: [FaceDetection] = []
        for (n, i) in order.enumerated() where !suppressed[i] {
            kept.append(faces[i])
            let a = faces[i].box
            for j in order[(n + 1)...] where !suppressed[j] {
                let b = faces[j].box
                let iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
                let ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
                let inter = iw * ih
                if inter / (area[i] + area[j] - inter) > iouThreshold { suppressed[j] = true }
            }
        }
        return kept
    }
}
