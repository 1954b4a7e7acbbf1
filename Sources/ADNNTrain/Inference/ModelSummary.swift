import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn summary`: per-module parameter table, total parameters and forward GFLOPs at the input size.
public struct ModelSummaryRequest {
    public var config: String
    public var json: Bool
    public var noFlops: Bool

    public init(config: String, json: Bool = false, noFlops: Bool = false) {
        self.config = config; self.json = json; self.noFlops = noFlops
    }


    public func run() throws {
        do {
            let cfg = try loadConfig(config)
            let model = try ADNNFER(cfg.model)
            model.eval()
            var rows: [(String, Int)] = []
            for (name, module) in model.namedModules() where !name.isEmpty && !name.contains(".") {
                rows.append((name, module.parameterCount))
            }
            if let bb = model.backbone as? EfficientNet {
                rows.removeAll { $0.0 == "backbone" }
                let stem = bb.convStem.parameterCount + bb.bn1.parameterCount
                var expanded: [(String, Int)] = [("backbone.stem", stem)]
                for (s, stage) in bb.blocks.enumerated() {
                    expanded.append(("backbone.blocks.\(s) (\(stage.count)× → \(bb.stageChannels[s]) ch)", stage.reduce(0) { $0 + $1.parameterCount }))
                }
                expanded.append(("backbone.head (\(bb.featureChannels) ch)", bb.convHead.parameterCount + bb.bn2.parameterCount))
                rows.insert(contentsOf: expanded, at: 0)
            }
            if let pe = model.posEmbed { rows.append(("pos_embed", pe.count)) }
            let total = model.parameterCount
            var macs = 0
            if !noFlops {
                let s = cfg.model.inputSize
                let x = Tensor(zeros: [1, s, s, cfg.model.inChans])
                macs = FlopCounter.count { _ = noGrad { model(x) } }
            }
            if json {
                print(jsonLine(["params": total, "gflops": Double(2 * macs) / 1e9, "gmacs": Double(macs) / 1e9,
                                "modules": rows.map { ["name": $0.0, "params": $0.1] }]))
                return
            }
            print("model: \(cfg.model.backbone), input \(cfg.model.inChans)×\(cfg.model.inputSize)×\(cfg.model.inputSize), \(cfg.model.numClasses) classes")
            print("| module | params |")
            print("|---|---:|")
            for (n, p) in rows { print("| \(n) | \(p.formatted(.number)) |") }
            print("| **total** | **\(total.formatted(.number))** |")
            if !noFlops {
                print(String(format: "forward: %.3f GFLOPs (%.3f GMACs) per image at %d×%d", Double(2 * macs) / 1e9, Double(macs) / 1e9,
                             cfg.model.inputSize, cfg.model.inputSize))
            }
        }
    }
}
