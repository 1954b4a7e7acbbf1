import Foundation

/// Kernel SHAP (Lundberg & Lee, NeurIPS 2017, https://arxiv.org/abs/1705.07874) over a grid of
/// image patches for `ADNNFER`: each of the `grid × grid` patches is a feature that is either the
/// input's pixels or the baseline's, and the explained output is the target class logit.
///
/// Baseline: by default the input blurred with a Gaussian of one patch side (σ = H / grid), so an
/// absent patch keeps its overall brightness but loses the detail (eyes, mouth corners, wrinkles)
/// that carries expression; a constant image (0 = the data-set mean after normalisation) is the
/// alternative. Coalitions are evaluated in batches without recording gradients, with the model
/// in evaluation mode (each module's mode is restored afterwards).
///
/// Efficiency holds exactly: `Σ values = fullValue − baseValue` = logit(image) − logit(baseline).
public struct ImageSHAP {
    /// What an absent patch is replaced with.
    public enum Baseline: Sendable, Equatable {
        /// The input blurred by a Gaussian with this standard deviation in pixels (`nil`: one patch
        /// side, `H / grid`); borders are clamped.
        case blurred(sigma: Float?)
        /// A constant value in normalised units (0: the data-set mean).
        case constant(Float)
    }

    /// The explained network.
    public let model: ADNNFER
    /// Patches per side (`grid²` features).
    public var grid: Int
    /// Coalition sampler and regression.
    public var sampler: KernelSHAP
    /// What an absent patch becomes.
    public var baseline: Baseline
    /// Coalitions per forward pass.
    public var batchSize: Int

    /// - Parameters:
    ///   - grid: patches per side, 1…min(H, W) of the explained images.
    ///   - samples: coalitions evaluated besides the empty and the full one.
    ///   - seed: seed of the coalition sampler.
    public init(model: ADNNFER, grid: Int = 8, samples: Int = 512, seed: UInt64 = 0,
                baseline: Baseline = .blurred(sigma: nil), batchSize: Int = 32) {
        precondition(grid >= 1, "ImageSHAP: grid must be ≥ 1, got \(grid)")
        precondition(batchSize >= 1, "ImageSHAP: batch size must be ≥ 1, got \(batchSize)")
        self.model = model; self.grid = grid; self.sampler = KernelSHAP(samples: samples, seed: seed)
        self.baseline = baseline; self.batchSize = batchSize
    }

    /// Per-patch Shapley values and the prediction they explain.
    public struct Result {
        /// `φ` per patch, `grid × grid` row-major (top-left first), in logit units.
        public var values: [Float]
        /// Patches per side.
        public var grid: Int
        /// `φ` of each pixel's patch, `height × width` row-major.
        public var heatMap: [Float]
        /// Input height.
        public var height: Int
        /// Input width.
        public var width: Int
        /// The explained class.
        public var target: Int
        /// Logits of the image.
        public var logits: [Float]
        /// Softmax probabilities of the image.
        public var probabilities: [Float]
        /// Target logit of the baseline image (`φ₀`).
        public var baseValue: Float
        /// Target logit of the image; `baseValue + Σ values` equals it.
        public var fullValue: Float
        /// Forward passes (images) evaluated.
        public var evaluations: Int
    }

    /// The patch of every pixel, `height × width` row-major: row `⌊y·grid/height⌋`, column
    /// `⌊x·grid/width⌋`, index `row · grid + column`.
    public static func patchIndices(height: Int, width: Int, grid: Int) -> [Int] {
        precondition(grid >= 1 && grid <= min(height, width), "ImageSHAP: grid \(grid) must be 1…\(min(height, width)) for \(height)×\(width) images")
        var out = [Int](repeating: 0, count: height * width)
        for y in 0..<height {
            let row = y * grid / height
            for x in 0..<width { out[y * width + x] = row * grid + x * grid / width }
        }
        return out
    }

    /// A Gaussian blur of a channels-last `height × width × channels` image (separable, borders clamped).
    public static func gaussianBlur(_ image: [Float], height: Int, width: Int, channels: Int, sigma: Float) -> [Float] {
        precondition(image.count == height * width * channels, "gaussianBlur: \(image.count) values for \(height)×\(width)×\(channels)")
        precondition(sigma > 0, "gaussianBlur: sigma must be positive, got \(sigma)")
        let radius = Int((3 * sigma).rounded(.up))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * Double(sigma * sigma)))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        func pass(_ src: [Float], alongRows: Bool) -> [Float] {
            var dst = [Float](repeating: 0, count: src.count)
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<channels {
                        var s: Float = 0
                        for (i, k) in kernel.enumerated() {
                            let d = i - radius
                            let yy = alongRows ? min(max(y + d, 0), height - 1) : y
                            let xx = alongRows ? x : min(max(x + d, 0), width - 1)
                            s += k * src[(yy * width + xx) * channels + c]
                        }
                        dst[(y * width + x) * channels + c] = s
                    }
                }
            }
            return dst
        }
        return pass(pass(image, alongRows: false), alongRows: true)
    }

    /// The baseline image of `x` (`[H, W, C]` values).
    func baselineImage(_ x: [Float], height: Int, width: Int, channels: Int) -> [Float] {
        switch baseline {
        case .constant(let v):
            return [Float](repeating: v, count: x.count)
        case .blurred(let sigma):
            return Self.gaussianBlur(x, height: height, width: width, channels: channels,
                                     sigma: sigma ?? Float(min(height, width)) / Float(grid))
        }
    }

    /// Explains one image.
    ///
    /// - Parameters:
    ///   - x: the normalised input `[1, H, W, C]`.
    ///   - target: the explained class; `nil` explains the predicted (arg-max) class.
    public func explain(_ x: Tensor, target: Int? = nil) -> Result {
        precondition(x.rank == 4 && x.shape[0] == 1, "ImageSHAP: expects one image [1, H, W, C], got shape \(x.shape)")
        let height = x.shape[1], width = x.shape[2], channels = x.shape[3]
        let patch = Self.patchIndices(height: height, width: width, grid: grid)
        let pixels = x.scalars
        let base = baselineImage(pixels, height: height, width: width, channels: channels)
        return model.inEvaluationMode {
            let logits = noGrad { model(x) }.scalars
            let t = target ?? logits.indices.max { logits[$0] < logits[$1] }!
            precondition(logits.indices.contains(t), "ImageSHAP: target class \(t) out of range 0..<\(logits.count)")
            let probabilities = noGrad { Tensor(logits, shape: [1, logits.count]).softmax(axis: -1).scalars }
            let plane = height * width
            let shap = sampler.explain(featureCount: grid * grid) { masks in
                var out: [Float] = []
                out.reserveCapacity(masks.count)
                var start = 0
                while start < masks.count {
                    let end = min(start + batchSize, masks.count)
                    let batch = Tensor(zeros: [end - start, height, width, channels])
                    let dst = batch.mutableBuffer
                    for (b, mask) in masks[start..<end].enumerated() {
                        for p in 0..<plane {
                            let o = (b * plane + p) * channels, i = p * channels
                            if mask[patch[p]] {
                                for k in 0..<channels { dst[o + k] = pixels[i + k] }
                            } else {
                                for k in 0..<channels { dst[o + k] = base[i + k] }
                            }
                        }
                    }
                    let y = noGrad { model(batch) }
                    let classes = y.shape[1], yv = y.buffer
                    for b in 0..<(end - start) { out.append(yv[b * classes + t]) }
                    start = end
                }
                return out
            }
            return Result(values: shap.values, grid: grid, heatMap: patch.map { shap.values[$0] }, height: height, width: width,
                          target: t, logits: logits, probabilities: probabilities, baseValue: shap.baseValue,
                          fullValue: shap.fullValue, evaluations: shap.evaluations)
        }
    }
}
