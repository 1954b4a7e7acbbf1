import ADNNKernels

extension Tensor {
    /// Matrix product with optional transposes. `a`: [..., m, k] (or [..., k, m] if `transA`),
    /// `b`: [k, n] (or [n, k]) shared across the batch, or [..., k, n] with the same batch as `a`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let m = transA ? a.dim(-1) : a.dim(-2), ka = transA ? a.dim(-2) : a.dim(-1)
        let kb = transB ? b.dim(-1) : b.dim(-2), n = transB ? b.dim(-2) : b.dim(-1)
        precondition(ka == kb, "matmul: inner dimensions differ: \(a.shape) × \(b.shape) (transA \(transA), transB \(transB))")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = batchA.reduce(1, *)
        precondition(batchB.isEmpty || batchB == batchA, "matmul: batch dims \(batchA) vs \(batchB)")
        let out = Tensor.empty(batchA + [m, n])
        Profiler.measure("matmul") {
        if batchB.isEmpty && !transA {
            // Fold the batch into the rows: one large GEMM.
            sgemm(out.ptr, a.ptr, b.ptr, m: batch * m, n: n, k: ka, transA: false, transB: transB)
        } else {
            sgemmBatched(out.ptr, a.ptr, b.ptr, batch: batch, m: m, n: n, k: ka, transA: transA, transB: transB,
                         strideA: m * ka, strideB: batchB.isEmpty ? 0 : ka * n, strideC: m * n)
        }
        }
        if needsGrad(a, b) {
            out.record("matmul", [a, b]) { g in
                var ga: Tensor? = nil, gb: Tensor? = nil
                if a.requiresGrad {
                    // dA = g · Bᵀ  (or B · gᵀ when A was transposed)
                    ga = transA ? matmul(b, g, transA: transB, transB: true) : matmul(g, b, transA: false, transB: !transB)
                }
                if b.requiresGrad {
                    if batchB.isEmpty {
                        let g2 = g.reshapedView([batch * m, n])
                        let a2 = transA ? nil : a.reshapedView([batch * m, ka])
                        if let a2 {
                            gb = transB ? matmul(g2, a2, transA: true) : matmul(a2, g2, transA: true)
                        } else {
                            // Aᵀ batched: accumulate over the batch.
                            let acc = Tensor(zeros: transB ? [n, kb] : [kb, n])
                            for i in 0..<batch {
                                let ai = a.ptr + i * m * ka, gi = g.ptr + i * m * n
                                if transB { sgemm(acc.ptr, gi, ai, m: n, n: kb, k: m, transA: true, transB: true, beta: 1) }
                                else { sgemm(acc.ptr, ai, gi, m: kb, n: n, k: m, transA: false, transB: false, beta: 1) }
                            }
                            gb = acc
                        }
                    } else {
                        gb = transB ? matmul(g, a, transA: true, transB: transA) : matmul(a, g, transA: !transA, transB: false)
                    }
                }
                return [ga, gb]
            }
        }
        return out
    }
}

/// Fully connected layer `y = x Wᵀ + b` over the last axis (PyTorch `F.linear`): `x` `[..., in]`,
/// `weight` `[out, in]`, `bias` `[out]` or nil → `[..., out]`. One GEMM; the bias is written into the
/// output first and the product accumulated onto it (no separate broadcast add), and its gradient is a
/// column sum.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
    let nIn = weight.shape[1], nOut = weight.shape[0]
    precondition(x.rank >= 1 && x.dim(-1) == nIn, "linear: input \(x.shape) does not end in \(nIn) features")
    if let bias { precondition(bias.count == nOut, "linear: bias must have \(nOut) entries, got \(bias.shape)") }
    let rows = x.count / Swift.max(1, nIn)
    let out = Tensor.empty(Array(x.shape.dropLast()) + [nOut])
    if weightsAreFrozen && rows <= PointwiseTuning.maxPixels && !needsGrad(bias.map { [x, weight, $0] } ?? [x, weight]) {
        // Large weights with long rows: dot products on W as it is, no packed second copy — unless the scope
        // releases the weight once packed (then the copy replaces it and the packed kernel, 1.1–1.3× faster on
        // the paper model's 2048-wide layers on Zen 3, costs no memory).
        if linearDotApplies(inFeatures: nIn, outFeatures: nOut) && !FrozenWeights.isReleased(weight)
            && !FrozenWeights.willRelease(weight, packedCount: packedPointwiseCount(outChannels: nOut, inChannels: nIn, width: PointwiseTuning.panelWidth)) {
            Profiler.measure("linear dot" + (Profiler.shapes ? " \(rows)×\(nIn)→\(nOut)" : "")) {
                linearDot(out.ptr, x.ptr, weight.ptr, bias: bias.map { UnsafePointer($0.ptr) }, rows: rows, inFeatures: nIn, outFeatures: nOut)
            }
            return out
        }
        // Weights constant for the scope: the direct kernel on panels packed once (see `withFrozenWeights`).
        let (packed, width, half) = FrozenWeights.panels(of: weight, outChannels: nOut, inChannels: nIn)
        Profiler.measure("linear packed" + (Profiler.shapes ? " \(rows)×\(nIn)→\(nOut)" : "")) {
            if half {
                pointwiseConvScaleShiftActivation(out.ptr, x.ptr, packed.halfPanels, scale: nil, shift: bias?.ptr, activation: nil,
                                                  pixels: rows, inChannels: nIn, outChannels: nOut, width: width)
            } else {
                pointwiseConvScaleShiftActivation(out.ptr, x.ptr, packed.pointer, scale: nil, shift: bias?.ptr, activation: nil,
                                                  pixels: rows, inChannels: nIn, outChannels: nOut, width: width)
            }
        }
        withExtendedLifetime(packed) {}
        return out
    }
    Profiler.measure("linear") {
        if let bias { fillRowsWithBias(out.ptr, bias.ptr, rows: rows, n: nOut) }
        sgemm(out.ptr, x.ptr, weight.ptr, m: rows, n: nOut, k: nIn, transB: true, beta: bias == nil ? 0 : 1)
    }
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    if needsGrad(inputs) {
        out.record("linear", inputs) { g in
            var grads: [Tensor?] = []
            if x.requiresGrad {
                let dx = Tensor.empty(x.shape)
                sgemm(dx.ptr, g.ptr, weight.ptr, m: rows, n: nIn, k: nOut)
                grads.append(dx)
            } else { grads.append(nil) }
            if weight.requiresGrad {
                let dw = Tensor.empty(weight.shape)
                sgemm(dw.ptr, g.ptr, x.ptr, m: nOut, n: nIn, k: rows, transA: true)
                grads.append(dw)
            } else { grads.append(nil) }
            if let bias {
                if bias.requiresGrad {
                    let db = Tensor.empty(bias.shape)
                    conv2dBackwardBias(db.ptr, g.ptr, pixels: rows, channels: nOut)
                    grads.append(db)
                } else { grads.append(nil) }
            }
            return grads
        }
    }
    return out
}
