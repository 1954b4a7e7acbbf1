import Foundation
import ADNNKernels

/// A parameter with its optimisation settings (PyTorch param group, per tensor).
public struct ParamGroupEntry {
    public let name: String
    public let tensor: Tensor
    /// Multiplier on the scheduled learning rate (layer-wise decay).
    public var lrScale: Float
    /// Decoupled weight decay (0 for norms, biases, pos_embed).
    public var weightDecay: Float
}

/// Base optimiser: walks the parameters and calls `update` — the one override point — for each
/// one that has a gradient. https://pytorch.org/docs/stable/optim.html
open class Optimizer {
    public var entries: [ParamGroupEntry]
    /// Scheduled base learning rate, set by the trainer every step.
    public var lr: Float
    /// Completed steps.
    public var stepCount = 0

    public init(entries: [ParamGroupEntry], lr: Float) {
        self.entries = entries
        self.lr = lr
    }

    /// Updates one parameter in place. `index` identifies its state slot.
    open func update(_ index: Int, _ p: Tensor, grad: Tensor, lr: Float, weightDecay: Float) {
        preconditionFailure("\(type(of: self)) must override update(_:_:grad:lr:weightDecay:)")
    }

    /// One optimisation step over every parameter with a gradient.
    public func step() {
        stepCount += 1
        Profiler.measure("optimizer.step") { noGrad {
            for (i, e) in entries.enumerated() {
                guard let g = e.tensor.grad else { continue }
                update(i, e.tensor, grad: g, lr: lr * e.lrScale, weightDecay: e.weightDecay)
            }
        } }
    }

    /// The optimised tensors, in entry order.
    public var parameters: [Tensor] { entries.map(\.tensor) }

    /// Clears all gradients.
    public func zeroGrad() { for e in entries { e.tensor.grad = nil } }

    /// Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public func clipGradNorm(_ maxNorm: Float) -> Float {
        var total = 0.0
        for e in entries { if let g = e.tensor.grad { total += sumOfSquares(g.ptr, n: g.count) } }
        let norm = Float(total.squareRoot())
        if maxNorm > 0 && norm > maxNorm {
            let s = maxNorm / (norm + 1e-6)
            for e in entries { if let g = e.tensor.grad { let p = g.ptr; for i in 0..<g.count { p[i] *= s } } }
        }
        return norm
    }

    /// Optimiser state tensors for checkpoints (name → tensor).
    open func stateTensors() -> [(String, Tensor)] { [] }
    /// Restores state saved by `stateTensors()`.
    open func loadState(_ tensors: [String: Tensor]) {}
}

/// AdamW with decoupled weight decay (Loshchilov & Hutter, ICLR 2019). https://arxiv.org/abs/1711.05101
public final class AdamW: Optimizer {
    public let beta1: Float, beta2: Float, eps: Float
    private var m: [Tensor?], v: [Tensor?]

    public init(entries: [ParamGroupEntry], lr: Float, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8) {
        beta1 = betas.0; beta2 = betas.1; self.eps = eps
        m = Array(repeating: nil, count: entries.count)
        v = Array(repeating: nil, count: entries.count)
        super.init(entries: entries, lr: lr)
    }

    public override func update(_ index: Int, _ p: Tensor, grad: Tensor, lr: Float, weightDecay: Float) {
        if m[index] == nil { m[index] = Tensor(zeros: p.shape); v[index] = Tensor(zeros: p.shape) }
        let t = Float(stepCount)
        adamwStep(p.ptr, m[index]!.ptr, v[index]!.ptr, grad.ptr, n: p.count, lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                  weightDecay: weightDecay, bc1: 1 - Foundation.pow(beta1, t), bc2: 1 - Foundation.pow(beta2, t))
    }

    public override func stateTensors() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("optim.step", Tensor(scalar: Float(stepCount)))]
        for (i, e) in entries.enumerated() {
            if let mi = m[i], let vi = v[i] { out.append(("optim.m.\(e.name)", mi)); out.append(("optim.v.\(e.name)", vi)) }
        }
        return out
    }

    public override func loadState(_ tensors: [String: Tensor]) {
        if let s = tensors["optim.step"] { stepCount = Int(s.item) }
        for (i, e) in entries.enumerated() {
            if let mi = tensors["optim.m.\(e.name)"], let vi = tensors["optim.v.\(e.name)"], mi.count == e.tensor.count {
                m[i] = mi.copy().reshapedView(e.tensor.shape); v[i] = vi.copy().reshapedView(e.tensor.shape)
            }
        }
    }
}

/// SGD with momentum and decoupled weight decay.
public final class SGD: Optimizer {
    public let momentum: Float
    private var buf: [Tensor?]
    public init(entries: [ParamGroupEntry], lr: Float, momentum: Float = 0.9) {
        self.momentum = momentum
        buf = Array(repeating: nil, count: entries.count)
        super.init(entries: entries, lr: lr)
    }
    public override func update(_ index: Int, _ p: Tensor, grad: Tensor, lr: Float, weightDecay: Float) {
        if buf[index] == nil { buf[index] = Tensor(zeros: p.shape) }
        let b = buf[index]!.ptr, g = grad.ptr, w = p.ptr
        for i in 0..<p.count {
            b[i] = momentum * b[i] + g[i]
            w[i] = w[i] * (1 - lr * weightDecay) - lr * b[i]
        }
    }
}

extension ADNNFER {
    /// Parameter entries with layer-wise LR decay over the backbone stages and no weight decay on
    /// norms, biases and `pos_embed` (BEiT-style layer decay: scale = decay^(top − layer)).
    public func parameterGroups(weightDecay: Float, layerDecay: Float) -> [ParamGroupEntry] {
        // Depths from the backbone's structure: stem 0, stage s → s + 1, its head stages + 1; the
        // modules after the backbone (CBAM, transformer, head) sit on top.
        let top = backbone.stages.count + 2
        let depths = backbone.layerDepths()
        return namedParameters().map { (name, t) in
            let noDecay = t.rank <= 1 || name.contains("pos_embed")
            let depth = depths[ObjectIdentifier(t)] ?? top
            let scale = layerDecay >= 1 ? 1 : Foundation.pow(layerDecay, Float(top - depth))
            return ParamGroupEntry(name: name, tensor: t, lrScale: scale, weightDecay: noDecay ? 0 : weightDecay)
        }
    }
}

/// Linear warm-up then cosine decay to `minLR`, evaluated per step (timm `CosineLRScheduler` style).
public struct WarmupCosineSchedule: Sendable {
    public let baseLR: Float, minLR: Float
    public let warmupSteps: Int, totalSteps: Int

    public init(baseLR: Float, minLR: Float, warmupSteps: Int, totalSteps: Int) {
        self.baseLR = baseLR; self.minLR = minLR; self.warmupSteps = warmupSteps; self.totalSteps = max(1, totalSteps)
    }

    /// Learning rate at a 0-based step.
    public func lr(at step: Int) -> Float {
        if step < warmupSteps { return baseLR * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Float(step - warmupSteps) / Float(span))
        return minLR + 0.5 * (baseLR - minLR) * (1 + Foundation.cos(Float.pi * t))
    }
}
