import ADNN

extension Communicator {
    /// Turns each rank's gradients of its shard's mean loss into the gradient of the whole global
    /// batch's mean loss, on every rank: `g = Σ_r (n_r / N) · g_r` with `N = Σ_r n_r`, one bucketed
    /// allreduce (exact for shards of unequal size, e.g. the last batch of an epoch). Call after
    /// `backward()`, before gradient clipping and the optimiser step.
    ///
    /// A rank with no samples in this step (`localSamples == 0`, no backward) contributes zeros. A
    /// parameter without a gradient on the ranks that have samples is left without one everywhere
    /// (the optimiser skips it, as in one process); a parameter with a gradient on some of them only
    /// means the ranks ran different graphs, and throws.
    ///
    /// - Returns: the global number of samples `N` of this step.
    @discardableResult
    public func averageGradients(_ parameters: [Tensor], localSamples: Int) throws -> Int {
        guard isDistributed else {        // one process: its gradients are the whole batch's already
            guard localSamples > 0 else { throw misuse("averageGradients", "no rank has samples in this step") }
            return localSamples
        }
        let contributes = localSamples > 0
        var header = [Int64(localSamples), contributes ? 1 : 0]
        header += parameters.map { contributes && $0.grad != nil ? 1 : 0 }
        header = try allreduceSum(header)
        let global = Int(header[0]), contributing = header[1]
        guard global > 0 else { throw misuse("averageGradients", "no rank has samples in this step") }
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        var seen = Set<UnsafeMutablePointer<Float>>()
        for (i, p) in parameters.enumerated() {
            let present = header[i + 2]
            guard present > 0 else { continue }
            guard present == contributing else {
                throw misuse("averageGradients", "parameter \(i) \(p.shape) has a gradient on \(present) of \(contributing) ranks (the ranks ran different graphs)")
            }
            if p.grad == nil {
                guard !contributes else {
                    throw misuse("averageGradients", "parameter \(i) \(p.shape) has no gradient on this rank but has one on the others")
                }
                p.grad = Tensor(zeros: p.shape)
            }
            guard let g = p.grad else { continue }
            // Two parameters may share one gradient tensor: reduce it once.
            if seen.insert(g.ptr).inserted { buffers.append(g.mutableBuffer) }
        }
        try allreduceSum(buffers, weight: Float(localSamples) / Float(global))
        return global
    }

    /// Copies rank `root`'s values of `tensors` (parameters, running statistics, centers) to every
    /// rank: call once after building the model (and after a resume) so all ranks start identical.
    public func broadcast(_ tensors: [Tensor], root: Int = 0) throws {
        try broadcast(tensors.map { $0.mutableBuffer }, root: root)
    }

    /// Replaces each tensor by its mean over the ranks, in place (one bucketed allreduce). For the
    /// batch-norm running statistics at the end of an epoch: BN is local, so each rank's running
    /// mean/variance has seen only its own shards; averaged, every rank validates and rank 0
    /// checkpoints the same model. E.g. `model.namedBuffers().filter { $0.0.contains("running_") }.map(\.1)`.
    public func average(_ tensors: [Tensor]) throws {
        try allreduceMean(tensors.map { $0.mutableBuffer })
    }

    /// Largest relative deviation of any element of `tensors` from rank 0's value, over all ranks
    /// (`|x − x₀| / max(|x₀|, 1e-6)`; 0 without MPI). A check that the replicas have not drifted.
    public func maxRelativeDeviationFromRoot(_ tensors: [Tensor]) throws -> Double {
        guard isDistributed else { return 0 }
        var worst = 0.0
        for t in tensors {
            let reference = t.copy()
            try broadcast(reference.mutableBuffer, root: 0)
            let a = t.ptr, b = reference.ptr
            for i in 0..<t.count {
                let d = Double(abs(a[i] - b[i])) / Double(max(abs(b[i]), 1e-6))
                if d > worst { worst = d }
            }
        }
        return try allreduceMax(worst)
    }

    /// Center-loss update over the global batch (Wen et al. 2016), identical on every rank:
    /// `Δc_j = Σ_{i: y_i = j} (c_j − f_i) / (1 + n_j)` with the sums and counts `n_j` taken over all
    /// ranks' samples (one allreduce of `classes·dim + classes` doubles), then `c_j ← c_j − α·Δc_j`.
    /// `CenterLoss.update(features:labels:)` split at its sums (`updateSums`, allreduce, `applyUpdate`):
    /// the same arithmetic as one process with the whole batch.
    ///
    /// - Parameters:
    ///   - center: the center loss whose `[classes, dim]` centers are the same on every rank.
    ///   - features: `[n, dim]`, this rank's samples (n may be 0).
    ///   - labels: this rank's (dominant) labels.
    public func updateCenters(_ center: CenterLoss, features: Tensor, labels: [Int]) throws {
        let k = center.centers.shape[0]
        for y in labels where !(0..<k).contains(y) { throw misuse("updateCenters", "label \(y) is not a class of \(k)") }
        var sums = center.updateSums(features: features, labels: labels)
        try sums.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        center.applyUpdate(sums)
    }
}
