import Foundation
import ADNN
import ADNNData
import ADNNKernels

/// `adnn bench-kernels`: GFLOP/s of sgemm 1024³ and of every distinct EfficientNet convolution.
public struct KernelBenchmarkRequest {
    public var batch: Int
    public var size: Int
    public var backbone: String
    public var seconds: Double
    public var json: Bool

    public init(batch: Int = 16, size: Int = 112, backbone: String = "efficientnet_b0", seconds: Double = 0.3, json: Bool = false) {
        self.batch = batch; self.size = size; self.backbone = backbone; self.seconds = seconds; self.json = json
    }


    /// Best-of timing: runs `body` until `seconds` have passed (at least 3 times); returns the fastest run.
    func time(_ body: () -> Void) -> Double {
        body()
        var best = Double.infinity, total = 0.0, runs = 0
        while total < seconds || runs < 3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = min(best, dt); total += dt; runs += 1
        }
        return best
    }

    public func run() throws {
        do {
            guard (1...1024).contains(batch) else { throw ADNNError.invalid("--batch \(batch): must be 1…1024") }
            guard (16...1024).contains(size) else { throw ADNNError.invalid("--size \(size): must be 16…1024") }
            guard seconds.isFinite && seconds > 0 && seconds <= 3600 else { throw ADNNError.invalid("--seconds \(seconds): must be in (0, 3600]") }
            var rng = SeededRNG(seed: 1)
            let n = 1024
            let a = Tensor.normal([n, n], rng: &rng), b = Tensor.normal([n, n], rng: &rng), c = Tensor(zeros: [n, n])
            let tg = time { sgemm(c.ptr, a.ptr, b.ptr, m: n, n: n, k: n) }
            let gemmFlops = 2 * Double(n * n * n) / tg / 1e9
            if json { print(jsonLine(["kernel": "sgemm", "shape": "1024x1024x1024", "gflops_per_s": gemmFlops])) } else {
                print("threads: \(Threading.threads)")
                print(String(format: "sgemm 1024³: %.1f GFLOP/s (%.2f ms)\n", gemmFlops, tg * 1000))
                print("\(backbone) convolutions at \(size)×\(size), batch \(batch) (GFLOP/s; fwd = forward, dx/dw = backward):")
                print("| conv | in (H×W×C) | out C | k | s | groups | GFLOP | fwd | dx | dw |")
                print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            }
            guard let spec = EfficientNetSpec.named(backbone) else { throw ADNNError.invalid("unknown backbone '\(backbone)'") }
            let net = try EfficientNet(spec, numClasses: 0)
            net.eval()
            _ = FlopCounter.count { _ = noGrad { net.features(Tensor(zeros: [1, size, size, 3])) { $1 } } }
            var seen = Set<String>()
            var totalFlop = 0.0, totalTime = 0.0
            for (conv, shape) in FlopCounter.convCalls {
                let p = conv.padding(height: shape[1], width: shape[2])
                let g = Conv2DGeometry(batch: batch, inHeight: shape[1], inWidth: shape[2], inChannels: conv.inChannels,
                                       outChannels: conv.outChannels, kernelHeight: conv.kernelSize, kernelWidth: conv.kernelSize,
                                       stride: conv.stride, dilation: conv.dilation, padTop: p.top, padBottom: p.bottom,
                                       padLeft: p.left, padRight: p.right, groups: conv.groups)
                let key = "\(shape[1])x\(shape[2])x\(conv.inChannels)-\(conv.outChannels)-k\(conv.kernelSize)s\(conv.stride)g\(conv.groups)"
                guard seen.insert(key).inserted else { continue }
                let x = Tensor.normal([g.batch, g.inHeight, g.inWidth, g.inChannels], rng: &rng)
                let y = Tensor(zeros: [g.batch, g.outHeight, g.outWidth, g.outChannels])
                let dx = Tensor(zeros: x.shape), dw = Tensor(zeros: conv.weight.shape)
                let flop = 2 * Double(g.batch * g.outHeight * g.outWidth * g.outChannels * g.patchSize)
                let w = conv.weight
                let tf = time { conv2dForward(y.ptr, x.ptr, w.ptr, nil, g) }
                let tdx = time { conv2dBackwardInput(dx.ptr, y.ptr, w.ptr, g) }
                let tdw = time { conv2dBackwardWeight(dw.ptr, y.ptr, x.ptr, g) }
                totalFlop += flop; totalTime += tf
                let kind = g.groups == 1 ? (conv.kernelSize == 1 ? "1×1" : "full") : "depthwise"
                if json {
                    print(jsonLine(["kernel": "conv2d", "kind": kind, "input": [g.inHeight, g.inWidth, g.inChannels], "out_channels": g.outChannels,
                                    "kernel_size": conv.kernelSize, "stride": conv.stride, "groups": conv.groups,
                                    "forward_gflops_per_s": flop / tf / 1e9, "backward_input_gflops_per_s": flop / tdx / 1e9,
                                    "backward_weight_gflops_per_s": flop / tdw / 1e9]))
                } else {
                    print(String(format: "| %@ | %d×%d×%d | %d | %d | %d | %d | %.3f | %.1f | %.1f | %.1f |", kind, g.inHeight, g.inWidth,
                                 g.inChannels, g.outChannels, conv.kernelSize, conv.stride, conv.groups, flop / 1e9,
                                 flop / tf / 1e9, flop / tdx / 1e9, flop / tdw / 1e9))
                }
            }
            if !json {
                print(String(format: "\nall distinct convolutions, forward: %.3f GFLOP in %.1f ms = %.1f GFLOP/s", totalFlop / 1e9,
                             totalTime * 1000, totalFlop / totalTime / 1e9))
            }
        }
    }
}
