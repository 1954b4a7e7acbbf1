import XCTest
@testable import ADNNData

/// Data-parallel sharding of the loader (`LoaderOptions.shardRank/shardCount`): the parts that N ranks
/// build of every batch are, concatenated in rank order, exactly the batch one process builds —
/// the same samples, labels and augmented pixels.
final class ShardedLoaderTests: XCTestCase {
    func testPartsOfEveryBatchConcatenateToTheSingleProcessBatch() throws {
        let ds = try Dataset.load("synthetic:train=45,val=0,test=0,size=32")
        let t = TransformConfig(size: 28, channels: 1, mean: [0.5], std: [0.5])
        var aug = AugmentConfig()
        (aug.hflip, aug.crop, aug.rotate, aug.colorJitter, aug.noise, aug.cutout) = (0.5, 1, 1, 1, 1, 0.5)
        aug.mixup = 0.7          // partners of a part's samples may be on other ranks
        func batches(rank: Int, ranks: Int, dropLast: Bool) throws -> [Batch] {
            var o = LoaderOptions(batchSize: 16, shuffle: true, dropLast: dropLast, workers: 2, seed: 3)
            o.shardRank = rank; o.shardCount = ranks
            let l = try DataLoader(dataset: ds, split: "train", transform: t, augment: aug, options: o)
            return Array(l.batches(epoch: 1))
        }
        var mixed = 0
        for ranks in [2, 3] {
            for dropLast in [false, true] {
                let whole = try batches(rank: 0, ranks: 1, dropLast: dropLast)
                let parts = try (0..<ranks).map { try batches(rank: $0, ranks: ranks, dropLast: dropLast) }
                XCTAssertEqual(whole.count, dropLast ? 2 : 3)
                for (s, b) in whole.enumerated() {
                    let ps = parts.map { $0[s] }
                    // Sizes differ by at most one (16 = 8 + 8 or 5 + 5 + 6; the last batch of 13 = 6 + 7 or 4 + 4 + 5).
                    XCTAssertLessThanOrEqual(ps.map(\.count).max()! - ps.map(\.count).min()!, 1)
                    XCTAssertEqual(ps.flatMap(\.indices), b.indices, "ranks \(ranks) step \(s)")
                    XCTAssertEqual(ps.flatMap(\.labels), b.labels)
                    XCTAssertEqual(ps.flatMap(\.mixLabels), b.mixLabels)
                    XCTAssertTrue(ps.allSatisfy { $0.mixLambda == b.mixLambda })
                    if b.isMixed { mixed += 1 }
                    let joined = ps.flatMap(\.images)
                    let plane = 28 * 28
                    let bad = (0..<b.count).filter { i in joined[(i * plane)..<((i + 1) * plane)] != b.images[(i * plane)..<((i + 1) * plane)] }
                    XCTAssertEqual(bad, [], "ranks \(ranks) dropLast \(dropLast) step \(s): samples whose pixels differ; part sizes \(ps.map(\.count))")
                }
            }
        }
        XCTAssertGreaterThan(mixed, 0, "no batch was mixed")
        var bad = LoaderOptions(); bad.shardRank = 2; bad.shardCount = 2
        XCTAssertThrowsError(try DataLoader(dataset: ds, split: "train", transform: t, augment: nil, options: bad))
    }
}
