import ADNNKernels

// Softmax cross-entropy with a fused backward pass (softmax − target) / N.

/// Mean softmax cross-entropy of `logits` `[N, K]` against integer class labels (each in 0..<K):
/// `mean_i (logsumexp(x_i) − x_i[y_i])`, a scalar (shape `[]`), like `F.cross_entropy(logits, labels)`.
/// Gradient w.r.t. the logits: (softmax − onehot) / N.
public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
    precondition(logits.rank == 2, "softmaxCrossEntropy: logits must be [N, K], got \(logits.shape)")
    let n = logits.shape[0], k = logits.shape[1]
    precondition(n > 0 && k > 0, "softmaxCrossEntropy: empty logits \(logits.shape)")
    precondition(labels.count == n, "softmaxCrossEntropy: \(labels.count) labels for \(n) rows")
    for (i, y) in labels.enumerated() {
        precondition(y >= 0 && y < k, "softmaxCrossEntropy: label \(y) at row \(i) is outside 0..<\(k)")
    }
    let probs = Tensor.empty([n, k]), losses = Tensor.empty([n])
    labels.withUnsafeBufferPointer { lp in
        softmaxCrossEntropyLabels(losses.ptr, probs.ptr, logits.ptr, lp.baseAddress!, rows: n, classes: k)
    }
    let out = Tensor(scalar: meanOf(losses))
    if needsGrad(logits) {
        out.record("softmaxCrossEntropy", [logits]) { g in
            let dx = Tensor.empty([n, k])
            labels.withUnsafeBufferPointer { lp in
                softmaxCrossEntropyLabelsBackward(dx.ptr, probs.ptr, lp.baseAddress!, scale: g.item / Float(n),
                                                  rows: n, classes: k)
            }
            return [dx]
        }
    }
    return out
}

/// Mean softmax cross-entropy of `logits` `[N, K]` against soft targets `[N, K]` (mixup, label
/// smoothing, DLS): `mean_i (−Σ_k t_ik · log softmax(x_i)_k)`, a scalar (shape `[]`).
/// Gradient w.r.t. the logits: (softmax · Σ_k t_k − t) / N (= (softmax − t)/N for rows summing to 1);
/// w.r.t. the targets (when they require it): −log softmax / N.
public func softmaxCrossEntropy(_ logits: Tensor, softTargets: Tensor) -> Tensor {
    precondition(logits.rank == 2, "softmaxCrossEntropy: logits must be [N, K], got \(logits.shape)")
    precondition(softTargets.shape == logits.shape,
                 "softmaxCrossEntropy: targets \(softTargets.shape) do not match logits \(logits.shape)")
    let n = logits.shape[0], k = logits.shape[1]
    precondition(n > 0 && k > 0, "softmaxCrossEntropy: empty logits \(logits.shape)")
    let probs = Tensor.empty([n, k]), losses = Tensor.empty([n])
    softmaxCrossEntropySoft(losses.ptr, probs.ptr, logits.ptr, softTargets.ptr, rows: n, classes: k)
    let out = Tensor(scalar: meanOf(losses))
    if needsGrad(logits, softTargets) {
        out.record("softmaxCrossEntropySoft", [logits, softTargets]) { g in
            let scale = g.item / Float(n)
            var dx: Tensor? = nil, dt: Tensor? = nil
            if logits.requiresGrad {
                let d = Tensor.empty([n, k])
                softmaxCrossEntropySoftBackward(d.ptr, probs.ptr, softTargets.ptr, scale: scale, rows: n, classes: k)
                dx = d
            }
            if softTargets.requiresGrad {
                let d = Tensor.empty([n, k])
                softmaxForward(d.ptr, logits.ptr, outer: n, n: k, inner: 1, log: true)
                for i in 0..<(n * k) { d.ptr[i] *= -scale }
                dt = d
            }
            return [dx, dt]
        }
    }
    return out
}

/// Mean of a tensor's elements accumulated in Double.
private func meanOf(_ t: Tensor) -> Float {
    var s = 0.0
    for i in 0..<t.count { s += Double(t.ptr[i]) }
    return Float(s / Double(Swift.max(t.count, 1)))
}
