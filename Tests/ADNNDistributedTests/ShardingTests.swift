import XCTest
@testable import ADNNDistributed

/// Epoch sharding: N ranks with per-rank batches B/N take exactly the steps of one process with B.
final class ShardingTests: XCTestCase {
    func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var s = seed, p = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            p.swapAt(i, Int((s >> 33) % UInt64(i + 1)))
        }
        return p
    }

    func testShardsOfEveryStepConcatenateToTheSingleProcessBatch() {
        for (n, batch, size) in [(21, 8, 2), (64, 16, 4), (10, 4, 3), (5, 8, 2), (7, 3, 5), (0, 4, 2), (100, 7, 1)] {
            let perm = permutation(n, seed: UInt64(n * 31 + batch))
            let parts = (0..<size).map { shardPositions(count: n, rank: $0, size: size, batchSize: batch) }
            let steps = (n + batch - 1) / batch
            for r in 0..<size { XCTAssertEqual(parts[r].count, steps, "every rank takes every step (n \(n), B \(batch), N \(size))") }
            for s in 0..<steps {
                let joined = (0..<size).flatMap { parts[$0][s] }.map { perm[$0] }
                let single = Array(perm[(s * batch)..<min(n, (s + 1) * batch)])
                XCTAssertEqual(joined, single, "step \(s) of n \(n), B \(batch), N \(size)")
                let sizes = (0..<size).map { parts[$0][s].count }
                XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "balanced parts \(sizes)")
            }
        }
    }

    func testShardsArePairwiseDisjointAndCoverThePermutation() {
        let perm = permutation(203, seed: 5)
        let shards = (0..<4).map { shard(of: perm, rank: $0, size: 4, batchSize: 32) }
        for a in 0..<4 { for b in (a + 1)..<4 { XCTAssertTrue(Set(shards[a]).isDisjoint(with: shards[b]), "ranks \(a), \(b)") } }
        XCTAssertEqual(shards.flatMap { $0 }.sorted(), Array(0..<203))
        // Within a rank the samples keep the global order of the permutation.
        let position = Dictionary(uniqueKeysWithValues: perm.enumerated().map { ($1, $0) })
        for s in shards { XCTAssertEqual(s.map { position[$0]! }, s.map { position[$0]! }.sorted()) }
    }

    func testPerRankBatchIsGlobalBatchDividedByRanks() {
        // 100 samples, B = 16, 2 ranks: six full batches of 8 per rank, then the last 4 split 2 + 2.
        XCTAssertEqual(shardBatchSizes(count: 100, rank: 0, size: 2, batchSize: 16), [8, 8, 8, 8, 8, 8, 2])
        XCTAssertEqual(shardBatchSizes(count: 100, rank: 1, size: 2, batchSize: 16), [8, 8, 8, 8, 8, 8, 2])
        // A last batch smaller than the number of ranks leaves some ranks empty for that step.
        XCTAssertEqual((0..<3).map { shardBatchSizes(count: 9, rank: $0, size: 3, batchSize: 8).last }, [0, 0, 1])
    }
}
