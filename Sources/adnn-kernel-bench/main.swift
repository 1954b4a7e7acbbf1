// adnn-kernel-bench: times single kernels on the shapes of the shipped models (development tool;
// `adnn bench` measures whole models). Prints the fastest of many repetitions, which stays
// meaningful on a busy machine, and the rate it implies.
//
//   swift build -c release && .build/release/adnn-kernel-bench [filter] [--threads N] [--seconds S]
import Foundation
import ADNNKernels

var args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]; args.removeSubrange(i...(i + 1)); return v
}
if let t = option("--threads"), let v = Int(t) { Threading.threads = v } else { Threading.threads = 1 }
let seconds = option("--seconds").flatMap(Double.init) ?? 0.5
let filter = args.first

func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, n))
    for i in 0..<n { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
    return p
}

/// Fastest wall time of `body` over `seconds` (at least 5 runs).
func fastest(_ body: () -> Void) -> Double {
    body()
    var best = Double.infinity, runs = 0
    let start = DispatchTime.now().uptimeNanoseconds
    while runs < 5 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        runs += 1
    }
    return best
}

func report(_ name: String, _ seconds: Double, flops: Double, bytes: Double) {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
          + String(format: "%9.1f us %7.1f GFLOP/s %6.1f GB/s", seconds * 1e6, flops / seconds / 1e9, bytes / seconds / 1e9))
}

struct Case { var name: String; var run: () -> Void; var flops: Double; var bytes: Double }
var cases: [Case] = []

// Pointwise (1×1) convolutions: (pixels, in, out, activation).
let pointwise: [(Int, Int, Int, ActivationKind?)] = [
    (82944, 16, 96, .relu6), (20736, 24, 144, .relu6), (20736, 144, 24, nil), (1600, 112, 672, .relu6),
    (576, 192, 1152, .relu6), (576, 1152, 192, nil), (9, 1152, 192, nil), (25, 480, 80, nil), (100352, 32, 16, nil),
    (100352, 16, 96, .silu), (1296, 16, 96, .relu6), (324, 24, 144, .relu6), (9, 192, 1152, .relu6),
]
for (P, K, O, act) in pointwise {
    let width = PointwiseTuning.panelWidth
    let x = buffer(P * K), w = buffer(O * K), y = buffer(P * O), scale = buffer(O), shift = buffer(O)
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedPointwiseCount(outChannels: O, inChannels: K, width: width))
    packPointwiseWeights(packed, w, outChannels: O, inChannels: K, width: width)
    cases.append(Case(name: "pointwise \(P)px \(K)→\(O) \(act.map { "\($0)" } ?? "linear")", run: {
        pointwiseConvScaleShiftActivation(y, x, packed, scale: scale, shift: shift, activation: act,
                                          pixels: P, inChannels: K, outChannels: O, width: width)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
}

// Stems (3×3 stride 2, TF "same" padding) through the packed im2col path, as frozen inference runs them:
// (batch, size, in channels, out channels, activation).
for (N, S, C, O, act) in [(1, 72, 1, 32, ActivationKind.relu6), (1, 112, 3, 32, .silu), (1, 224, 3, 48, .silu)] {
    let pad = (S + 1) / 2 * 2 - 2 + 3 - S
    let g = Conv2DGeometry(batch: N, inHeight: S, inWidth: S, inChannels: C, outChannels: O, kernelHeight: 3, kernelWidth: 3,
                           stride: 2, padTop: pad / 2, padBottom: pad - pad / 2, padLeft: pad / 2, padRight: pad - pad / 2, groups: 1)
    let width = PointwiseTuning.panelWidth, K = 9 * C
    let x = buffer(N * S * S * C), w = buffer(O * K), y = buffer(g.outputCount), scale = buffer(O), shift = buffer(O)
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedPointwiseCount(outChannels: O, inChannels: K, width: width))
    packPointwiseWeights(packed, w, outChannels: O, inChannels: K, width: width)
    let P = N * g.outHeight * g.outWidth
    cases.append(Case(name: "stem \(N)×\(S)×\(S)×\(C) → \(O) k3s2 \(act)", run: {
        conv2dPackedScaleShiftActivation(y, x, packed, scale: scale, shift: shift, activation: act, g, width: width)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(N * S * S * C + P * O)))
}

// The same 1×1 shapes through BLAS, as training runs them: forward y = x·wᵀ, backward-input
// dx = dy·w, backward-weight dw = dyᵀ·x (reduction over the pixels).
for (P, K, O, _) in pointwise {
    let x = buffer(P * K), w = buffer(O * K), y = buffer(P * O), dw = buffer(O * K)
    cases.append(Case(name: "sgemm fwd \(P)px \(K)→\(O)", run: {
        sgemm(y, x, w, m: P, n: O, k: K, transB: true)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
    cases.append(Case(name: "sgemm bwd-input \(P)px \(K)→\(O)", run: {
        sgemm(x, y, w, m: P, n: K, k: O)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
    cases.append(Case(name: "sgemm bwd-weight \(P)px \(K)→\(O)", run: {
        sgemm(dw, y, x, m: O, n: K, k: P, transA: true)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
}

// Training forward of a 1×1 convolution followed by batch norm: the product with the batch statistics summed
// block by block in cache, against the product then a statistics pass over its output.
for (P, K, O) in [(82944, 16, 96), (20736, 24, 144), (20736, 144, 24), (5184, 40, 240), (1600, 480, 80)] {
    let x = buffer(P * K), w = buffer(O * K), y = buffer(P * O), mean = buffer(O), variance = buffer(O)
    cases.append(Case(name: "conv+stats fused \(P)px \(K)→\(O)", run: {
        pointwiseConvForwardStatistics(y, mean, variance, x, w, pixels: P, inChannels: K, outChannels: O)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
    cases.append(Case(name: "conv+stats separate \(P)px \(K)→\(O)", run: {
        sgemm(y, x, w, m: P, n: O, k: K, transB: true)
        batchNormStatistics(mean, variance, y, rows: P, channels: O)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(P * (K + O))))
}

// Large linear layers (the paper model's transformer at batch 1: 49 tokens): the unpacked dot-product
// kernel against the packed panels (which hold a second copy of W).
for (P, K, O) in [(49, 2048, 2048), (49, 2048, 4096), (49, 4096, 2048), (392, 2048, 2048)] {
    let x = buffer(P * K), w = buffer(O * K), y = buffer(P * O), bias = buffer(O)
    let width = PointwiseTuning.panelWidth
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedPointwiseCount(outChannels: O, inChannels: K, width: width))
    packPointwiseWeights(packed, w, outChannels: O, inChannels: K, width: width)
    cases.append(Case(name: "linear dot \(P)×\(K)→\(O)", run: {
        linearDot(y, x, w, bias: bias, rows: P, inFeatures: K, outFeatures: O)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(O * K)))
    cases.append(Case(name: "linear sgemm \(P)×\(K)→\(O)", run: {
        sgemm(y, x, w, m: P, n: O, k: K, transB: true)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(O * K)))
    cases.append(Case(name: "linear packed \(P)×\(K)→\(O)", run: {
        pointwiseConvScaleShiftActivation(y, x, packed, scale: nil, shift: bias, activation: nil,
                                          pixels: P, inChannels: K, outChannels: O, width: width)
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(O * K)))
}

// The paper model's linear layers as a batch-1 forward meets them: weights streamed from memory (a
// different copy of W each call, 24 copies ≈ 400 MB, more than the last-level cache).
do {
    let (P, K, O, copies) = (49, 2048, 2048, 24)
    let width = PointwiseTuning.panelWidth
    let count = packedPointwiseCount(outChannels: O, inChannels: K, width: width)
    let x = buffer(P * K), y = buffer(P * O), bias = buffer(O), w = buffer(O * K)
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: count * copies)
    for i in 0..<copies { packPointwiseWeights(packed + i * count, w, outChannels: O, inChannels: K, width: width) }
    nonisolated(unsafe) var next = 0
    cases.append(Case(name: "linear packed cold \(P)×\(K)→\(O)", run: {
        pointwiseConvScaleShiftActivation(y, x, packed + next * count, scale: nil, shift: bias, activation: nil,
                                          pixels: P, inChannels: K, outChannels: O, width: width)
        next = (next + 1) % copies
    }, flops: 2.0 * Double(P * K * O), bytes: 4.0 * Double(O * K)))
}

// The FER model's small-pixel 1×1 layers at batch 1 as a forward meets them: half-precision panels
// (what shipped models hold), a different copy each call (16 copies, more than L2), so that the panel
// comes from the last-level cache as it does between layers.
for (P, K, O) in [(9, 1152, 192), (9, 192, 1152), (25, 672, 112), (25, 112, 672), (9, 320, 1280)] {
    let width = PointwiseTuning.panelWidth, copies = 16
    let count = packedPointwiseCount(outChannels: O, inChannels: K, width: width)
    let x = buffer(P * K), w = buffer(O * K), y = buffer(P * O), shift = buffer(O)
    let packed = UnsafeMutablePointer<Float16>.allocate(capacity: count * copies)
    for i in 0..<copies { packPointwiseWeights(packed + i * count, w, outChannels: O, inChannels: K, width: width) }
    nonisolated(unsafe) var next = 0
    cases.append(Case(name: "pointwise half cold \(P)px \(K)→\(O)", run: {
        pointwiseConvScaleShiftActivation(y, x, UnsafePointer(packed + next * count), scale: nil, shift: shift, activation: nil,
                                          pixels: P, inChannels: K, outChannels: O, width: width)
        next = (next + 1) % copies
    }, flops: 2.0 * Double(P * K * O), bytes: 2.0 * Double(O * K)))
    cases.append(Case(name: "pointwise half hot \(P)px \(K)→\(O)", run: {
        pointwiseConvScaleShiftActivation(y, x, UnsafePointer(packed), scale: nil, shift: shift, activation: nil,
                                          pixels: P, inChannels: K, outChannels: O, width: width)
    }, flops: 2.0 * Double(P * K * O), bytes: 2.0 * Double(O * K)))
}

// Depthwise input gradients as training runs them (stride 1: the turned kernel on the forward kernel).
for (N, H, W, C, k) in [(64, 36, 36, 96, 3), (64, 18, 18, 144, 3), (64, 9, 9, 240, 5), (64, 5, 5, 672, 5)] {
    let g = Conv2DGeometry(batch: N, inHeight: H, inWidth: W, inChannels: C, outChannels: C, kernelHeight: k, kernelWidth: k,
                           padTop: k / 2, padBottom: k / 2, padLeft: k / 2, padRight: k / 2, groups: C)
    let dy = buffer(N * H * W * C), dx = buffer(N * H * W * C), w = buffer(C * k * k)
    cases.append(Case(name: "depthwise bwd-input \(N)×\(H)×\(W)×\(C) k\(k)", run: {
        depthwiseConv2dBackwardInput(dx, dy, w, g)
    }, flops: 2.0 * Double(N * H * W * C * k * k), bytes: 8.0 * Double(N * H * W * C)))
    cases.append(Case(name: "depthwise bwd-weight \(N)×\(H)×\(W)×\(C) k\(k)", run: {
        depthwiseConv2dBackwardWeight(w, dy, dx, g)
    }, flops: 2.0 * Double(N * H * W * C * k * k), bytes: 8.0 * Double(N * H * W * C)))
}

// Training backward of depthwise convolution → batch norm → ReLU6 (the Lite0 blocks of the FER recipe at batch
// 64): the batch-norm input gradient band by band inside the convolution's backward, against the batch-norm
// input pass then the two depthwise gradient passes (the batch-norm column sums, common to both, left out).
for (N, H, W, C, k, s) in [(64, 36, 36, 96, 3, 2), (64, 18, 18, 144, 3, 1), (64, 9, 9, 240, 5, 1), (64, 5, 5, 672, 5, 1)] {
    let p = k / 2
    let g = Conv2DGeometry(batch: N, inHeight: H, inWidth: W, inChannels: C, outChannels: C, kernelHeight: k, kernelWidth: k,
                           stride: s, padTop: s == 2 ? p - 1 : p, padBottom: p, padLeft: s == 2 ? p - 1 : p, padRight: p, groups: C)
    let P = N * g.outHeight * g.outWidth
    let x = buffer(N * H * W * C), dx = buffer(N * H * W * C), w = buffer(C * k * k), dw = buffer(C * k * k)
    let gy = buffer(P * C), y = buffer(P * C), dy = buffer(P * C)
    let v = (0..<9).map { _ in buffer(C) }
    for i in 0..<C { v[3][i] = 0.5 + Float(i % 7) * 0.1 }   // invstd > 0
    cases.append(Case(name: "dw+bn bwd fused \(N)×\(H)×\(W)×\(C) k\(k)s\(s)", run: {
        depthwiseConvBatchNormActivationBackward(dx, dw, gy, y, x, w, scale: v[0], shift: v[1], mean: v[2], invstd: v[3], bnWeight: v[4],
                                                 sumG: v[5], sumGXhat: v[6], activation: .relu6, g)
    }, flops: 4.0 * Double(P * C * k * k), bytes: 4.0 * Double(3 * P * C + N * H * W * C)))
    cases.append(Case(name: "dw+bn bwd separate \(N)×\(H)×\(W)×\(C) k\(k)s\(s)", run: {
        batchNormActivationBackwardInput(dy, gy, y, scale: v[0], shift: v[1], mean: v[2], invstd: v[3], weight: v[4],
                                         sumG: v[5], sumGXhat: v[6], activation: .relu6, rows: P, channels: C)
        depthwiseConv2dBackwardInput(dx, dy, w, g)
        depthwiseConv2dBackwardWeight(dw, dy, x, g)
    }, flops: 4.0 * Double(P * C * k * k), bytes: 4.0 * Double(3 * P * C + N * H * W * C)))
}

// Depthwise convolutions + BN + activation: (batch, H, W, C, k, stride, activation).
let depthwise: [(Int, Int, Int, Int, Int, Int, ActivationKind?)] = [
    (32, 56, 56, 32, 3, 1, .silu), (32, 56, 56, 32, 3, 1, nil), (32, 56, 56, 96, 3, 2, .silu), (32, 28, 28, 144, 3, 1, .silu),
    (64, 36, 36, 32, 3, 1, .relu6), (64, 36, 36, 96, 3, 2, .relu6), (64, 5, 5, 672, 5, 1, .relu6), (1, 36, 36, 96, 3, 2, .relu6),
    (1, 3, 3, 1152, 3, 1, .relu6),
    // The FER model's last stages at batch 1 (small-image path).
    (1, 9, 9, 240, 5, 1, .relu6), (1, 5, 5, 672, 5, 1, .relu6), (1, 3, 3, 1152, 5, 1, .relu6), (1, 5, 5, 480, 3, 1, .relu6),
    (1, 9, 9, 144, 5, 2, .relu6), (1, 5, 5, 672, 5, 2, .relu6), (1, 9, 9, 240, 3, 2, .relu6),
]
for (N, H, W, C, k, s, act) in depthwise {
    let g = Conv2DGeometry(batch: N, inHeight: H, inWidth: W, inChannels: C, outChannels: C, kernelHeight: k, kernelWidth: k,
                           stride: s, padTop: k / 2, padBottom: k / 2, padLeft: k / 2, padRight: k / 2, groups: C)
    let x = buffer(N * H * W * C), w = buffer(C * k * k), y = buffer(g.outputCount), scale = buffer(C), shift = buffer(C)
    let P = N * g.outHeight * g.outWidth
    cases.append(Case(name: "depthwise \(N)×\(H)×\(W)×\(C) k\(k)s\(s) \(act.map { "\($0)" } ?? "linear")", run: {
        conv2dForwardScaleShiftActivation(y, x, w, scale: scale, shift: shift, activation: act, g)
    }, flops: 2.0 * Double(P * C * k * k), bytes: 4.0 * Double(N * H * W * C + P * C)))
    // As inference runs it: taps transposed once (a frozen-weights scope keeps them), the kernel alone.
    let taps = buffer(C * k * k)
    depthwiseTransposeTaps(taps, w, channels: C, taps: k * k)
    cases.append(Case(name: "depthwise taps \(N)×\(H)×\(W)×\(C) k\(k)s\(s) \(act.map { "\($0)" } ?? "linear")", run: {
        depthwiseConv2dDirect(y, x, taps: taps, scale: scale, shift: shift, activation: act, g)
    }, flops: 2.0 * Double(P * C * k * k), bytes: 4.0 * Double(N * H * W * C + P * C)))
}

// Pool overhead: one parallel region with (nearly) empty pieces, as many chunks as parallelFor makes.
for chunks in [2, 8] {
    let sink = UnsafeMutablePointer<Float>.allocate(capacity: 64 * 16)
    sink.initialize(repeating: 0, count: 64 * 16)
    // 1000 regions back to back per timing (the figure is per 1000 regions: ns per region), each piece
    // ~0.5 µs of work so that both threads take part.
    cases.append(Case(name: "pool 1000 regions \(chunks) chunks", run: {
        for _ in 0..<1000 {
            parallelChunks(chunks, chunks: chunks) { r in
                for i in r { var v = sink[i * 16]; for _ in 0..<(1000 / chunks) { v = v * 0.999 + 1 }; sink[i * 16] = v }
            }
        }
    }, flops: 0, bytes: 0))
}

// Epilogue alone: (rows, channels, activation).
for (rows, c, act) in [(100352, 32, ActivationKind.silu), (100352, 32, .relu6)] {
    let x = buffer(rows * c), scale = buffer(c), shift = buffer(c)
    cases.append(Case(name: "scaleShiftActivation \(rows)×\(c) \(act)", run: {
        scaleShiftActivation(x, x, scale: scale, shift: shift, activation: act, rows: rows, channels: c)
    }, flops: Double(rows * c), bytes: 8.0 * Double(rows * c)))
}

print("threads \(Threading.threads), panel width \(PointwiseTuning.panelWidth), tile rows \(PointwiseTuning.tileRows)")
for c in cases where filter.map({ c.name.contains($0) }) ?? true {
    report(c.name, fastest(c.run), flops: c.flops, bytes: c.bytes)
}
