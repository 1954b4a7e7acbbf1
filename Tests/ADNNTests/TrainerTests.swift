import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// A tiny deterministic batch source: synthetic faces through the real loader and the app layer's
/// loader adapter (`LoaderProvider`).
func syntheticProvider(split: String, train: Bool) throws -> LoaderProvider {
    let ds = try Dataset.load("synthetic:train=96,val=48,test=16,size=24,seed=3")
    let loader = try DataLoader(dataset: ds, split: split, transform: TransformConfig(size: 24, channels: 1, mean: [0.5], std: [0.25]),
                                augment: train ? AugmentConfig(mixup: 0.5) : nil,
                                options: LoaderOptions(batchSize: 16, shuffle: train, dropLast: train, workers: 2, seed: 5))
    return LoaderProvider(loader)
}

final class TrainerTests: XCTestCase {
    func config() -> Config {
        var c = Config()
        c.model.backbone = "efficientnet_b0"; c.model.inChans = 1; c.model.inputSize = 24; c.model.numClasses = 7
        c.model.transformer = Config.TransformerConfig(layers: 1, heads: 2, dModel: 16, dFF: 32, dropout: 0.1)
        c.model.dropRate = 0.2; c.model.dropPathRate = 0.1
        c.schedule.epochs = 3; c.schedule.warmupEpochs = 1
        c.optim.lr = 1e-3
        return c
    }

    func tempDir(_ name: String) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-\(name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: d)
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Resuming from the checkpoint of a completed epoch reproduces the uninterrupted run exactly.
    func testResumeReproducesUninterruptedRun() throws {
        let train = try syntheticProvider(split: "train", train: true), val = try syntheticProvider(split: "val", train: false)
        let classes = SyntheticFaces.classes
        let dirA = try tempDir("a"), dirB = try tempDir("b")
        defer { try? FileManager.default.removeItem(atPath: dirA); try? FileManager.default.removeItem(atPath: dirB) }
        let full = try Trainer(config: config(), classes: classes, classCounts: [1, 1, 1, 1, 1, 1, 1], runDir: dirA,
                               stepsPerEpoch: train.batchCount(epoch: 0))
        let a = try full.fit(train: train, val: val)
        XCTAssertEqual(a.count, 3)

        var short = config(); short.schedule.epochs = 3
        let first = try Trainer(config: short, classes: classes, classCounts: [1, 1, 1, 1, 1, 1, 1], runDir: dirB,
                                stepsPerEpoch: train.batchCount(epoch: 0))
        // Stop after the first epoch, as a kill would.
        var seen = 0
        first.onEpoch = { _ in seen += 1; if seen == 1 { Trainer.stopRequested = true } }
        _ = try first.fit(train: train, val: val)
        Trainer.stopRequested = false
        let resumed = try Trainer(config: short, classes: classes, classCounts: [1, 1, 1, 1, 1, 1, 1], runDir: dirB,
                                  stepsPerEpoch: train.batchCount(epoch: 0))
        try resumed.resume()
        XCTAssertEqual(resumed.startEpoch, 1)
        let b = try resumed.fit(train: train, val: val)
        XCTAssertEqual(b.count, 2)
        for (x, y) in zip(a.suffix(2), b) {
            XCTAssertEqual(x.loss, y.loss); XCTAssertEqual(x.valAccuracy, y.valAccuracy); XCTAssertEqual(x.valLoss, y.valLoss)
            XCTAssertEqual(x.trainAccuracy, y.trainAccuracy)
        }
        let lines = try String(contentsOfFile: dirB + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, "metrics.jsonl has one line per epoch after resume")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dirB + "/best.safetensors"))
    }

    func testNonFiniteLossStopsWithStepAndKeepsCheckpoint() throws {
        var c = config(); c.optim.lr = 1e30; c.optim.gradClip = 0; c.schedule.warmupEpochs = 0
        let train = try syntheticProvider(split: "train", train: true), val = try syntheticProvider(split: "val", train: false)
        let dir = try tempDir("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = try Trainer(config: c, classes: SyntheticFaces.classes, classCounts: [1, 1, 1, 1, 1, 1, 1], runDir: dir, stepsPerEpoch: 6)
        XCTAssertThrowsError(try t.fit(train: train, val: val)) { e in
            XCTAssertTrue(e is NonFiniteLossError, "\(e)")
            XCTAssertTrue("\(e)".contains("step"), "\(e)")
        }
    }
}
