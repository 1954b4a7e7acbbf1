import ADNNKernels

/// Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization", ICCV 2017, https://arxiv.org/abs/1610.02391) for `ADNNFER`.
///
/// The target layer is the last spatial feature map `A` `[1, h, w, C]` (`ADNNFER.featureMap`: the
/// backbone output, after the head CBAM when present), computed in evaluation mode. A leaf copy of
/// `A` that requires a gradient runs through the rest of the network
/// (`ADNNFER.classify(featureMap:)`) and the target class logit `y` is back-propagated to it. Then
/// `α_k = mean_{h,w} ∂y/∂A_k` and `cam = ReLU(Σ_k α_k A_k)`, bilinearly upsampled to the input size
/// (`align_corners = false`) and divided by its maximum (an all-zero map stays zero).
///
/// Model parameters receive no gradient (their `requiresGrad` is switched off during the backward
/// pass and restored), and each module's training mode is restored afterwards.
public struct GradCAM {
    /// The explained network.
    public let model: ADNNFER

    public init(model: ADNNFER) { self.model = model }

    /// A class-activation map and the prediction it explains.
    public struct Result {
        /// The normalised map, `height × width` row-major, in [0, 1].
        public var heatMap: [Float]
        /// Input height.
        public var height: Int
        /// Input width.
        public var width: Int
        /// `ReLU(Σ_k α_k A_k)` at feature resolution, `featureHeight × featureWidth` row-major, unnormalised.
        public var coarseMap: [Float]
        /// Feature-map height `h`.
        public var featureHeight: Int
        /// Feature-map width `w`.
        public var featureWidth: Int
        /// `α_k`, one per feature channel.
        public var channelWeights: [Float]
        /// The explained class.
        public var target: Int
        /// Logits of the image.
        public var logits: [Float]
        /// Softmax probabilities of the image.
        public var probabilities: [Float]
    }

    /// Explains one image.
    ///
    /// - Parameters:
    ///   - x: the normalised input `[1, H, W, C]`.
    ///   - target: the explained class; `nil` explains the predicted (arg-max) class.
    public func explain(_ x: Tensor, target: Int? = nil) -> Result {
        precondition(x.rank == 4 && x.shape[0] == 1, "GradCAM: expects one image [1, H, W, C], got shape \(x.shape)")
        return model.inEvaluationMode {
            let a = noGrad { model.featureMap(x) }
            let (weights, logits, target) = channelWeights(featureMap: a, target: target)
            let h = a.shape[1], w = a.shape[2], c = a.shape[3]
            var coarse = [Float](repeating: 0, count: h * w)
            let av = a.buffer
            for p in 0..<(h * w) {
                var s: Float = 0
                for k in 0..<c { s += weights[k] * av[p * c + k] }
                coarse[p] = max(0, s)
            }
            let height = x.shape[1], width = x.shape[2]
            let up = noGrad {
                resize(Tensor(coarse, shape: [1, h, w, 1]), height: height, width: width, mode: .bilinear).scalars
            }
            let peak = up.max() ?? 0
            let heat = peak > 0 ? up.map { max(0, $0) / peak } : [Float](repeating: 0, count: up.count)
            let probabilities = noGrad { Tensor(logits, shape: [1, logits.count]).softmax(axis: -1).scalars }
            return Result(heatMap: heat, height: height, width: width, coarseMap: coarse, featureHeight: h, featureWidth: w,
                          channelWeights: weights, target: target, logits: logits, probabilities: probabilities)
        }
    }

    /// `α_k = mean_{h,w} ∂y_target/∂A_k` for a feature map `A` `[1, h, w, C]` of the model (the
    /// model must already be in the mode the caller wants), with the logits and the target used.
    public func channelWeights(featureMap a: Tensor, target: Int?) -> (weights: [Float], logits: [Float], target: Int) {
        precondition(a.rank == 4 && a.shape[0] == 1, "GradCAM: expects a feature map [1, h, w, C], got shape \(a.shape)")
        let parameters = model.parameters()
        let flags = parameters.map(\.requiresGrad)
        for p in parameters { p.requiresGrad = false }
        defer { for (p, f) in zip(parameters, flags) { p.requiresGrad = f } }
        let previousMode = GradMode.isEnabled
        GradMode.isEnabled = true
        defer { GradMode.isEnabled = previousMode }

        let leaf = a.copy()
        leaf.requiresGrad = true
        let out = model.classify(featureMap: leaf).logits
        let logits = out.scalars
        let t = target ?? logits.indices.max { logits[$0] < logits[$1] }!
        precondition(logits.indices.contains(t), "GradCAM: target class \(t) out of range 0..<\(logits.count)")
        var seed = [Float](repeating: 0, count: logits.count)
        seed[t] = 1
        out.backward(seed: Tensor(seed, shape: out.shape))
        let h = a.shape[1], w = a.shape[2], c = a.shape[3]
        var weights = [Float](repeating: 0, count: c)
        if let g = leaf.grad {
            let gv = g.buffer
            for p in 0..<(h * w) { for k in 0..<c { weights[k] += gv[p * c + k] } }
            let inv = 1 / Float(h * w)
            for k in 0..<c { weights[k] *= inv }
        }
        return (weights, logits, t)
    }
}
