import ADNNKernels

/// One recorded operation: its inputs and a closure mapping the output gradient to input gradients.
///
/// Backward closures may return a gradient whose shape is the *broadcast* shape of the op;
/// the engine reduces it to the input's shape (the one place where broadcasting is undone).
final class GradNode {
    let inputs: [Tensor]
    let backward: (Tensor) -> [Tensor?]
    let name: String

    init(_ name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

/// Global gradient-recording switch (see `noGrad`).
public enum GradMode {
    nonisolated(unsafe) public internal(set) static var isEnabled = true
}

/// Runs `body` without recording operations: for inference, optimizer steps and backward passes.
@discardableResult
public func noGrad<T>(_ body: () throws -> T) rethrows -> T {
    let previous = GradMode.isEnabled
    GradMode.isEnabled = false
    defer { GradMode.isEnabled = previous }
    return try body()
}

/// True when an op on `inputs` must be recorded: recording is on and some input needs a gradient.
@inline(__always)
func needsGrad(_ inputs: Tensor...) -> Bool {
    guard GradMode.isEnabled else { return false }
    for t in inputs where t.requiresGrad { return true }
    return false
}

@inline(__always)
func needsGrad(_ inputs: [Tensor]) -> Bool {
    guard GradMode.isEnabled else { return false }
    for t in inputs where t.requiresGrad { return true }
    return false
}

extension Tensor {
    /// Marks this tensor as the output of a recorded op. Call only when `needsGrad(inputs)`.
    @discardableResult
    func record(_ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        requiresGrad = true
        node = GradNode(name, inputs: inputs, backward: backward)
        return self
    }

    /// Reverse-mode differentiation from this tensor.
    ///
    /// - Parameter seed: gradient of the final objective w.r.t. this tensor; defaults to 1 and then
    ///   this tensor must have exactly one element.
    ///
    /// One iterative topological walk orders the graph; gradients are accumulated per tensor,
    /// broadcast gradients are summed back to each input's shape, leaves receive `grad`
    /// (accumulated across calls until `zeroGrad`). The graph is freed afterwards.
    public func backward(seed: Tensor? = nil) {
        let g0: Tensor
        if let seed {
            precondition(seed.shape == shape, "backward: seed shape \(seed.shape) != tensor shape \(shape)")
            g0 = seed
        } else {
            precondition(count == 1, "backward: implicit seed needs a one-element tensor, got shape \(shape)")
            g0 = Tensor(repeating: 1, shape: shape)
        }
        guard requiresGrad else { return }
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): g0]
        noGrad {
            for t in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                if t.node == nil || t.retainGrad {
                    if let old = t.grad { t.grad = old.adding(g) } else { t.grad = g.owned(for: t) }
                }
                guard let node = t.node else { continue }
                let inputGrads = Profiler.measure(node.name + " bwd") { node.backward(g) }
                precondition(inputGrads.count == node.inputs.count,
                             "backward of \(node.name): \(inputGrads.count) grads for \(node.inputs.count) inputs")
                for (input, maybeGrad) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let raw = maybeGrad else { continue }
                    let gi = raw.reduced(toShape: input.shape)
                    let key = ObjectIdentifier(input)
                    if let acc = grads[key] { grads[key] = acc.adding(gi) } else { grads[key] = gi }
                }
            }
        }
        for t in order where t.node != nil { t.node = nil }
    }

    /// Tensors reachable from `self` through recorded nodes, inputs before outputs.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (t, i) = stack.popLast() {
            if let node = t.node, i < node.inputs.count {
                stack.append((t, i + 1))
                let child = node.inputs[i]
                if child.requiresGrad && visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(t)
            }
        }
        return order
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// A gradient tensor that is safe to store as `grad` of `t` (never aliases a live activation).
    fileprivate func owned(for t: Tensor) -> Tensor {
        storage === t.storage ? copy() : self
    }

    /// Sums a broadcast gradient back down to `target` shape (leading axes and size-1 axes).
    func reduced(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        if count == target.reduce(1, *) { return reshaped(target) }
        precondition(shape.count >= target.count, "broadcast reduction: \(shape) cannot reduce to \(target)")
        let lead = shape.count - target.count
        var axes: [Int] = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        for (i, d) in target.enumerated() where d != 1 {
            precondition(d == shape[lead + i], "broadcast reduction: \(shape) cannot reduce to \(target)")
        }
        return sum(axes: axes, keepDims: false).reshaped(target)
    }
}
