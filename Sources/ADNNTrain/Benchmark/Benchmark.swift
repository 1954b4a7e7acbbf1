import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn bench`: images per second for inference or training steps (`Trainer.step`) on random input.
public struct BenchmarkRequest {
    public var config: String
    public var mode: String
    public var batch: Int
    public var seconds: Double
    public var warmup: Int
    public var json: Bool
    /// Round the model's weights to half precision first (`Module.roundToHalfPrecision`), as a model exported with
    /// `adnn export --half` holds them: inference then runs on half-precision weight panels.
    public var halfWeights: Bool

    public init(config: String, mode: String = "infer", batch: Int = 1, seconds: Double = 10, warmup: Int = 2, json: Bool = false,
                halfWeights: Bool = false) {
        self.config = config; self.mode = mode; self.batch = batch; self.seconds = seconds; self.warmup = warmup; self.json = json
        self.halfWeights = halfWeights
    }


    @discardableResult
    public func run() throws -> [String: Any] {
        do {
            guard mode == "infer" || mode == "train" else { throw ADNNError.invalid("--mode must be infer or train, got '\(mode)'") }
            guard batch >= 1 else { throw ADNNError.invalid("--batch must be positive") }
            guard seconds.isFinite && seconds > 0 && seconds <= 86_400 else { throw ADNNError.invalid("--seconds \(seconds): must be in (0, 86400]") }
            guard warmup >= 0 else { throw ADNNError.invalid("--warmup \(warmup): must not be negative") }
            let cfg = try loadConfig(config)
            GlobalRNG.seed(UInt64(cfg.seed))
            let model = try ADNNFER(cfg.model)
            if halfWeights { model.roundToHalfPrecision() }
            let s = cfg.model.inputSize
            var rng = SeededRNG(seed: 1)
            let x = Tensor.normal([batch, s, s, cfg.model.inChans], rng: &rng)
            let labels = (0..<batch).map { $0 % cfg.model.numClasses }
            let macs = FlopCounter.count { model.eval(); _ = noGrad { model(Tensor(zeros: [1, s, s, cfg.model.inChans])) } }
            let step: () -> Void
            if mode == "infer" {
                model.eval()
                step = { _ = noGrad { model(x) } }
            } else {
                // The training step of `adnn train` itself (schedule, compound loss, clipping, center and
                // EMA updates), on a run folder that is never written.
                let trainer = try Trainer(config: cfg, classes: (0..<cfg.model.numClasses).map { "class\($0)" },
                                          classCounts: Array(repeating: 1, count: cfg.model.numClasses),
                                          runDir: NSTemporaryDirectory() + "adnn-bench-unused", stepsPerEpoch: 1000, model: model)
                trainer.model.train()
                let batchData = TrainBatch(images: x, targets: BatchTargets(labels: labels))
                var stepIndex = 0
                step = {
                    _ = try? trainer.step(batchData, globalStep: stepIndex)
                    stepIndex += 1
                }
            }
            func measure() -> [String: Any] {
                for _ in 0..<warmup { step() }
                Profiler.reset()
                let cpu0 = processCPUSeconds()
                let start = Date()
                var iters = 0
                var times: [Double] = []
                repeat {
                    let t0 = Date()
                    step(); iters += 1
                    times.append(Date().timeIntervalSince(t0) * 1000)
                } while Date().timeIntervalSince(start) < seconds
                times.sort()
                let elapsed = Date().timeIntervalSince(start)
                let cpu = processCPUSeconds() - cpu0
                let ips = Double(iters * batch) / elapsed
                let result: [String: Any] = ["mode": mode, "batch": batch, "images_per_second": ips, "params": model.parameterCount,
                                             "gflops": Double(2 * macs) / 1e9, "threads": Threading.threads,
                                             "iterations": iters, "seconds": elapsed, "cpu_seconds": cpu, "config": config,
                                             "iteration_ms_min": times[0], "iteration_ms_median": times[times.count / 2],
                                             "kernel_path": kernelPathDescription, "half_weights": halfWeights]
                return result
            }
            // Inference keeps the weights frozen for the whole measurement, as a deployed session does, and
            // keeps only the packed copy of each packed weight resident (ONNX Runtime frees pre-packed initializers).
            var result = mode == "infer" ? withFrozenWeights(releasingWeights: true, measure) : measure()
            // The process's peak, read after the scope has written the released weights back.
            let peak = peakRSSMiB()
            result["peak_rss_mib"] = peak
            if json { print(jsonLine(result)) } else {
                print(String(format: "%@ batch %d: %.2f images/s (%d iterations in %.1f s), %d params, %.2f GFLOPs/image, peak RSS %.0f MiB",
                             mode, batch, result["images_per_second"] as? Double ?? 0, result["iterations"] as? Int ?? 0,
                             result["seconds"] as? Double ?? 0, model.parameterCount, Double(2 * macs) / 1e9, peak)
                      + "; kernels: " + kernelPathDescription + (halfWeights ? "; half-precision weights" : ""))
            }
            return result
        }
    }
}

/// Which vector path the kernels run on this machine, e.g. "AVX-512, packed 1×1/linear panels 32 wide"
/// (the build itself targets the building CPU, `-march=native`, unless `ADNN_MARCH` says otherwise).
public var kernelPathDescription: String {
    (cpuHasAVX512 ? "AVX-512" : "AVX2 (no AVX-512)") + ", packed 1×1/linear panels \(PointwiseTuning.panelWidth) wide × \(PointwiseTuning.tileRows)-pixel tiles, " + GEMMTuning.description
}
