/// Splitting an epoch's sample order among ranks so that N ranks together take exactly the steps of
/// one process.
///
/// The epoch order (a permutation of the training samples, the same on every rank: it comes from the
/// run seed and the epoch) is cut into global batches of `globalBatch` samples, as one process would.
/// Each global batch is then cut into `size` contiguous, disjoint parts whose sizes differ by at most
/// one (rank r takes positions `lo + len·r/size ..< lo + len·(r+1)/size`). Step s of every rank thus
/// works on a part of global batch s, and the parts of one step are exactly that batch, in order.
/// A part can be empty (a last batch smaller than `size`): that rank still takes the step and joins
/// the allreduce with zero samples.

/// Global positions (indices into the epoch order) of rank `rank`'s part of every global batch: one
/// array per step, `ceil(count / globalBatch)` steps on every rank.
///
/// Positions rather than sample indices, because augmentation is keyed by the position in the epoch
/// order (`DataRNG(seed, epoch, position, index)`): a rank renders its samples exactly as one process would.
public func shardPositions(count: Int, rank: Int, size: Int, batchSize globalBatch: Int) -> [[Int]] {
    precondition(size > 0 && (0..<size).contains(rank) && globalBatch > 0 && count >= 0,
                 "shardPositions: rank \(rank) of \(size), batch \(globalBatch), count \(count)")
    var steps: [[Int]] = []
    steps.reserveCapacity((count + globalBatch - 1) / globalBatch)
    var lo = 0
    while lo < count {
        let len = min(globalBatch, count - lo)
        let a = lo + len * rank / size, b = lo + len * (rank + 1) / size
        steps.append(Array(a..<b))
        lo += len
    }
    return steps
}

/// Rank `rank`'s samples of an epoch: its disjoint part of every global batch of `permutation`, in
/// the global order (see `shardPositions`). The shards of all ranks are a partition of `permutation`.
public func shard(of permutation: [Int], rank: Int, size: Int, batchSize globalBatch: Int) -> [Int] {
    shardPositions(count: permutation.count, rank: rank, size: size, batchSize: globalBatch)
        .flatMap { $0.map { permutation[$0] } }
}

/// The per-step batch sizes of rank `rank` (the sizes of its parts; `globalBatch / size` for every
/// full batch when `size` divides `globalBatch`).
public func shardBatchSizes(count: Int, rank: Int, size: Int, batchSize globalBatch: Int) -> [Int] {
    shardPositions(count: count, rank: rank, size: size, batchSize: globalBatch).map(\.count)
}
