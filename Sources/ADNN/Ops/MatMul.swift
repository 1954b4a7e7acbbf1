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
