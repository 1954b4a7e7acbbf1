import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// `schedule.time_budget_minutes` / `--time-budget`: the schedule is fitted to the wall clock.
final class TimeBudgetTests: XCTestCase {
    func testDurationParsing() throws {
        XCTAssertEqual(try TimeBudget.minutes(parsing: "60m"), 60)
        XCTAssertEqual(try TimeBudget.minutes(parsing: "45"), 45)
        XCTAssertEqual(try TimeBudget.minutes(parsing: "1.5h"), 90)
        XCTAssertEqual(try TimeBudget.minutes(parsing: "90s"), 1.5)
        XCTAssertEqual(try TimeBudget.minutes(parsing: "1h30m"), 90)
        for bad in ["", "0", "-5m", "m", "10x", "5m3", "inf", "nan", "1..5h"] {
            XCTAssertThrowsError(try TimeBudget.minutes(parsing: bad), bad) { e in
                XCTAssertTrue("\(e)".contains("--time-budget"), "\(e)")
            }
        }
    }

    func testConfigKeyIsValidated() throws {
        let d = try makeTemporaryFolder("tb")
        defer { try? FileManager.default.removeItem(atPath: d) }
        try "schedule: {time_budget_minutes: -3}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Config.load(path: d + "/c.yaml")) { e in
            XCTAssertTrue("\(e)".contains("schedule.time_budget_minutes") && "\(e)".contains(d + "/c.yaml"), "\(e)")
        }
        try "schedule: {time_budget_minutes: 60}\n".write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Config.load(path: d + "/c.yaml").schedule.timeBudgetMinutes, 60)
    }

    /// The plan: steps and epoch ends (validations) that fit in the time left minus the reserve.
    func testPlanCountsStepsAndEpochEnds() {
        let b = TimeBudget(minutes: 10)
        XCTAssertFalse(b.canPlan)
        XCTAssertEqual(b.stepsThatFit(positionInEpoch: 0, stepsPerEpoch: 100, maxMore: 77), 77, "no measurement yet: no limit")
        for _ in 0..<11 { b.recordStep(seconds: 0.5) }
        XCTAssertTrue(b.canPlan)
        XCTAssertEqual(b.stepSeconds, 0.5)
        b.recordEpochEnd(seconds: 10)
        // 600 s − reserve (9 s final evaluation + 6 s + 5 s) = 580 s ≥ 0.5 s · R + 10 s · ⌈R / 100⌉ → R = 960.
        let r = b.stepsThatFit(positionInEpoch: 0, stepsPerEpoch: 100, maxMore: 1_000_000)
        XCTAssertTrue((955...960).contains(r), "\(r)")
        XCTAssertEqual(b.stepsThatFit(positionInEpoch: 0, stepsPerEpoch: 100, maxMore: 300), 300, "the epochs cap wins")
        // Time spent by an earlier process of the run (resume) counts.
        b.spentBefore = 590
        XCTAssertEqual(b.stepsThatFit(positionInEpoch: 0, stepsPerEpoch: 100, maxMore: 1000), 0)
    }

    /// The step-time estimate averages out the loader's bursts (a plan that jitters moves the cosine)
    /// and still follows a machine that slows down for good within a few hundred steps.
    func testStepEstimateIsSteadyUnderNoiseAndFollowsASlowdown() throws {
        let b = TimeBudget(minutes: 60)
        for _ in 0..<11 { b.recordStep(seconds: 0.4) }
        var spread = (lo: Double.infinity, hi: 0.0)
        for i in 0..<1000 {
            b.recordStep(seconds: i % 4 == 0 ? 0.7 : 0.3)   // mean 0.4, bursts of ±75 % (a 20-step average swings ±2 %)
            if i >= 100 { let e = try XCTUnwrap(b.stepSeconds); spread = (min(spread.lo, e), max(spread.hi, e)) }
        }
        XCTAssertGreaterThan(spread.lo, 0.4 * 0.99, "\(spread)")
        XCTAssertLessThan(spread.hi, 0.4 * 1.01, "\(spread)")
        for _ in 0..<300 { b.recordStep(seconds: 0.8) }
        XCTAssertGreaterThan(try XCTUnwrap(b.stepSeconds), 0.75, "a lasting 2× slowdown is followed")
    }

    /// The epoch-end estimate ignores one slow validation and follows two.
    func testEpochEndEstimateIgnoresOneSpike() throws {
        let b = TimeBudget(minutes: 120)
        for s in [10.0, 10, 10, 60, 10] { b.recordEpochEnd(seconds: s) }
        XCTAssertEqual(b.epochEndSeconds, 10, "one spike in the last three")
        b.recordEpochEnd(seconds: 60)
        XCTAssertEqual(b.epochEndSeconds, 60, "two of the last three are slow")
        let fresh = TimeBudget(minutes: 120)
        fresh.recordEpochEnd(seconds: 8); XCTAssertEqual(fresh.epochEndSeconds, 8)
        fresh.recordEpochEnd(seconds: 12); XCTAssertEqual(fresh.epochEndSeconds, 10)
    }

    /// A whole run under a 15-second budget ends on time with its cosine at `min_lr`; a resume of the
    /// finished run trains nothing more.
    func testRunEndsOnTimeWithScheduleCompleted() throws {
        let d = try makeTemporaryFolder("tb")
        defer { try? FileManager.default.removeItem(atPath: d) }
        try """
        model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null}
        optim: {lr: 1.0e-3}
        schedule: {epochs: 10000, warmup_epochs: 1, min_lr: 1.0e-5, patience: 0, time_budget_minutes: 0.25}
        data: {format: synthetic, batch_size: 16, clahe: false, mean: [0.5], std: [0.25], workers: 1}
        augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
        """.write(toFile: d + "/c.yaml", atomically: true, encoding: .utf8)
        let data = "synthetic:train=160,val=32,test=0,size=24"
        let start = Date()
        try TrainingRequest(configPath: d + "/c.yaml", dataPath: data, out: d + "/run").run()
        let wall = Date().timeIntervalSince(start)
        XCTAssertLessThanOrEqual(wall, 15 + 3, "the 15 s budget holds (training, validations and the final evaluation)")
        let lines = try String(contentsOfFile: d + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }
        let last = try XCTUnwrap(records.last)
        XCTAssertGreaterThan(records.count, 1)
        XCTAssertEqual(last.steps, last.plannedSteps, "the planned steps were all done")
        XCTAssertLessThanOrEqual(last.lr, 1e-5 + 0.01 * (1e-3 - 1e-5), "the cosine ended at min_lr")
        XCTAssertLessThanOrEqual(try XCTUnwrap(last.elapsedSeconds), 15)
        if FileManager.default.fileExists(atPath: "/proc/stat") {
            let steal = try XCTUnwrap(last.cpuStealPercent, "every epoch records the CPU steal share on Linux")
            XCTAssertTrue((0...100).contains(steal), "\(steal)")
        }
        let eval = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/run/eval.json"))) as? [String: Any])
        XCTAssertEqual(eval["planned_steps"] as? Int, last.plannedSteps)
        XCTAssertEqual(eval["time_budget_minutes"] as? Double, 0.25)
        // Resuming the finished run: the schedule is complete, nothing more is trained.
        try TrainingRequest(configPath: d + "/c.yaml", out: d + "/run", resume: true).run()
        XCTAssertEqual(try String(contentsOfFile: d + "/run/metrics.jsonl", encoding: .utf8).split(separator: "\n").count, records.count)
    }

    /// The plan made at an epoch end is the one its record and checkpoint carry: when the time runs out
    /// exactly at an epoch's last step, the run ends with `planned_steps == steps` in `metrics.jsonl`
    /// and in `last.safetensors`, and a resume of it trains nothing (the budget is exhausted here by
    /// hand, so the case does not depend on the machine's speed).
    func testBudgetSpentAtEpochEndEndsRunWithPlanRecorded() throws {
        let d = try makeTemporaryFolder("tb-end")
        defer { try? FileManager.default.removeItem(atPath: d) }
        var c = Config()
        c.model.backbone = "efficientnet_b0"; c.model.inChans = 1; c.model.inputSize = 24; c.model.numClasses = 7
        c.model.cbam = nil; c.model.transformer = nil
        c.schedule.epochs = 6; c.schedule.warmupEpochs = 1; c.schedule.timeBudgetMinutes = 10; c.schedule.patience = 0
        let ds = try Dataset.load("synthetic:train=96,val=16,test=0,size=24,seed=3")
        func provider(_ split: String, train: Bool) throws -> LoaderProvider {
            LoaderProvider(try DataLoader(dataset: ds, split: split, transform: TransformConfig(size: 24, channels: 1, mean: [0.5], std: [0.25]),
                                          augment: nil, options: LoaderOptions(batchSize: 8, shuffle: train, dropLast: train, workers: 1, seed: 5)))
        }
        let train = try provider("train", train: true), val = try provider("val", train: false)
        let spe = train.batchCount(epoch: 0)
        XCTAssertEqual(spe, 12)
        func makeTrainer() throws -> Trainer {
            try Trainer(config: c, classes: SyntheticFaces.classes, classCounts: [1, 1, 1, 1, 1, 1, 1], runDir: d, stepsPerEpoch: spe)
        }
        let t = try makeTrainer()
        t.onStep = { epoch, step, steps, _, _ in
            // The second epoch's last step: 24 steps measured, so the budget has planned; now it is spent.
            if epoch == 1 && step == steps { t.timeBudget?.spentBefore = 600 }
        }
        let records = try t.fit(train: train, val: val)
        XCTAssertEqual(records.count, 2, "no epoch starts once the budget is spent")
        let last = try XCTUnwrap(records.last)
        XCTAssertEqual(last.steps, 2 * spe)
        XCTAssertEqual(last.plannedSteps, 2 * spe, "the record carries the plan made at its epoch end")
        let lines = try String(contentsOfFile: d + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(try JSONDecoder().decode(EpochRecord.self, from: Data(lines[lines.count - 1].utf8)).plannedSteps, 2 * spe)
        let state = try XCTUnwrap(Checkpoint.read(t.lastPath).extra["train_state"])
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])
        XCTAssertEqual(obj["planned_steps"] as? Int, 2 * spe, "the checkpoint carries it too")
        let resumed = try makeTrainer()
        try resumed.resume()
        XCTAssertEqual(try resumed.fit(train: train, val: val).count, 0, "a resume of the finished run trains nothing")
    }

    /// `cpu_steal_percent`: the steal share of the `cpu` line between two readings of `/proc/stat`.
    func testCPUStealMeterReadsProcStat() throws {
        XCTAssertNil(CPUStealMeter.parse("intr 1 2 3\n"))
        XCTAssertNil(CPUStealMeter.parse("cpu  1 2 3\n"), "fewer than eight fields")
        let a = try XCTUnwrap(CPUStealMeter.parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 50 0 25 400 5 0 0 20 0 0\n"))
        XCTAssertEqual(a.total, 1000)
        XCTAssertEqual(a.steal, 40)
        let d = NSTemporaryDirectory() + "adnn-steal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let path = d + "/stat"
        try "cpu  100 0 50 800 10 0 0 40 0 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        var meter = CPUStealMeter(statPath: path)
        // 1000 more ticks, 300 of them stolen (guest fields are not added to the total).
        try "cpu  300 0 100 1250 10 0 0 340 77 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try XCTUnwrap(meter.lap()), 30, accuracy: 1e-4)
        XCTAssertNil(meter.lap(), "no ticks passed since the last lap")
        var missing = CPUStealMeter(statPath: d + "/missing")
        XCTAssertNil(missing.lap())
    }
}
