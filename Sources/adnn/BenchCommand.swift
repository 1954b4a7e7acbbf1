import Foundation
import ArgumentParser
import ADNN
import ADNNKernels

/// `adnn bench`: images per second for inference or training steps on random input.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Measure inference or training throughput of a config's model on random input.")

    @Option(help: "YAML config file.") var config: String
    @Option(help: "infer or train.") var mode: String = "infer"
    @Option(help: "Batch size.") var batch: Int = 1
    @Option(help: "Measurement window in seconds (after warm-up).") var seconds: Double = 10
    @Option(help: "Warm-up iterations.") var warmup: Int = 2
    @OptionGroup var threads: ThreadOptions
    @Flag(help: "Print one JSON line.") var json = false

    func run() throws {
        try guarded {
            guard mode == "infer" || mode == "train" else { throw ADNNError.invalid("--mode must be infer or train, got '\(mode)'") }
            guard batch >= 1 else { throw ADNNError.invalid("--batch must be positive") }
            threads.apply()
            let cfg = try loadConfig(config)
            GlobalRNG.seed(UInt64(cfg.seed))
            let model = try ADNNFER(cfg.model)
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
                model.train()
                let loss = CompoundLoss(config: cfg.loss, numClasses: cfg.model.numClasses, featureDim: model.featureDim,
                                        classCounts: Array(repeating: 1, count: cfg.model.numClasses))
                let opt = AdamW(entries: model.parameterGroups(weightDecay: cfg.optim.weightDecay, layerDecay: cfg.optim.layerDecay),
                                lr: cfg.optim.lr)
                step = {
                    let out = model.forward(x)
                    let l = loss(logits: out.logits, features: out.features, targets: BatchTargets(labels: labels))
                    opt.zeroGrad()
                    l.total.backward()
                    opt.clipGradNorm(cfg.optim.gradClip)
                    opt.step()
                    loss.center.update(features: out.features, labels: labels)
                }
            }
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
                                         "gflops": Double(2 * macs) / 1e9, "peak_rss_mib": peakRSSMiB(), "threads": Threading.threads,
                                         "iterations": iters, "seconds": elapsed, "cpu_seconds": cpu, "config": config,
                                         "iteration_ms_min": times[0], "iteration_ms_median": times[times.count / 2]]
            if json { print(jsonLine(result)) } else {
                print(String(format: "%@ batch %d: %.2f images/s (%d iterations in %.1f s), %d params, %.2f GFLOPs/image, peak RSS %.0f MiB",
                             mode, batch, ips, iters, elapsed, model.parameterCount, Double(2 * macs) / 1e9, peakRSSMiB()))
            }
        }
    }
}

/// User + system CPU time of the process so far, in seconds (all threads).
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}
