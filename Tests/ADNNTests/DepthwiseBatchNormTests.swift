import XCTest
@testable import ADNN
@testable import ADNNKernels

/// The training node for depthwise convolution → batch norm → activation: its backward kernel against the naive
/// batch-norm input gradient and naive depthwise gradients, the op against the composition it stands for, and
/// finite differences.
final class DepthwiseBatchNormTests: XCTestCase {
    /// (batch, H, W, C, kernel, stride, padding top/bottom/left/right): TF-same asymmetric, PyTorch symmetric,
    /// channel counts with and without a SIMD tail, images smaller than the kernel's reach.
    static let shapes: [(Int, Int, Int, Int, Int, Int, (Int, Int, Int, Int))] = [
        (2, 17, 13, 20, 3, 1, (1, 1, 1, 1)), (1, 16, 15, 16, 3, 2, (0, 1, 1, 1)), (3, 9, 11, 5, 5, 2, (1, 2, 2, 2)),
        (2, 12, 7, 33, 5, 1, (2, 2, 2, 2)), (1, 2, 3, 7, 3, 1, (1, 1, 1, 1)), (2, 1, 1, 17, 3, 2, (1, 1, 1, 1)),
        // Stride 1, C a multiple of 16: dx on the direct row kernel (runs of 8 pixels, borders, valid padding).
        (2, 17, 21, 32, 3, 1, (1, 1, 1, 1)), (1, 12, 9, 16, 5, 1, (2, 2, 2, 2)), (1, 9, 11, 16, 3, 1, (0, 0, 0, 0)),
        (2, 3, 3, 16, 3, 1, (1, 1, 1, 1)), (2, 11, 9, 16, 5, 2, (1, 2, 1, 2)), (1, 4, 2, 32, 5, 2, (2, 2, 2, 2)),
    ]

    static func geometry(_ s: (Int, Int, Int, Int, Int, Int, (Int, Int, Int, Int))) -> Conv2DGeometry {
        let (n, h, w, c, k, st, p) = s
        return Conv2DGeometry(batch: n, inHeight: h, inWidth: w, inChannels: c, outChannels: c, kernelHeight: k, kernelWidth: k,
                              stride: st, dilation: 1, padTop: p.0, padBottom: p.1, padLeft: p.2, padRight: p.3, groups: c)
    }

    func testBackwardMatchesNaive() {
        let savedThreads = Threading.threads, savedBytes = DepthwiseBackwardTuning.bandBytes
        defer { Threading.threads = savedThreads; DepthwiseBackwardTuning.bandBytes = savedBytes }
        for (si, shape) in Self.shapes.enumerated() {
            let geo = Self.geometry(shape)
            let (n, h, w, c) = (shape.0, shape.1, shape.2, shape.3)
            let (ho, wo) = (geo.outHeight, geo.outWidth)
            let P = n * ho * wo
            let x = randn([n, h, w, c], seed: 5), wt = randn([c, shape.4, shape.4, 1], seed: 6), g = randn([n, ho, wo, c], seed: 7)
            let y = randn([n, ho, wo, c], seed: 8, scale: 2)
            let s = randn([c], seed: 1), t = randn([c], seed: 2), m = randn([c], seed: 3), inv = randn([c], seed: 4).abs() + 0.2
            let bw = randn([c], seed: 9)
            let sumG = Tensor.empty([c]), sumGXhat = Tensor.empty([c])
            for (ki, weight) in [bw, nil].enumerated() {
                let kind = FusedTests.kinds[(si * 2 + ki) % FusedTests.kinds.count]
                batchNormActivationBackwardReduceNaive(sumG.ptr, sumGXhat.ptr, g.ptr, y.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                       invstd: inv.ptr, activation: kind, rows: P, channels: c)
                let dy = Tensor.empty(y.shape), dxS = Tensor.empty(x.shape), dwS = Tensor.empty(wt.shape)
                batchNormActivationBackwardInputNaive(dy.ptr, g.ptr, y.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr, invstd: inv.ptr,
                                                      weight: weight?.ptr, sumG: sumG.ptr, sumGXhat: sumGXhat.ptr, activation: kind,
                                                      rows: P, channels: c)
                depthwiseConv2dBackwardInputNaive(dxS.ptr, dy.ptr, wt.ptr, geo)
                depthwiseConv2dBackwardWeightNaive(dwS.ptr, dy.ptr, x.ptr, geo)
                // One output row per band (the halo largest against the band), a few rows, whole images.
                for bandBytes in [1, 4 * wo * c * 6, 1 << 22] {
                    DepthwiseBackwardTuning.bandBytes = bandBytes
                    for threads in [1, 2, 3] {
                        Threading.threads = threads
                        let dx = Tensor(repeating: .nan, shape: x.shape), dw = Tensor(repeating: .nan, shape: wt.shape)
                        depthwiseConvBatchNormActivationBackward(dx.ptr, dw.ptr, g.ptr, y.ptr, x.ptr, wt.ptr, scale: s.ptr, shift: t.ptr,
                                                                 mean: m.ptr, invstd: inv.ptr, bnWeight: weight?.ptr, sumG: sumG.ptr,
                                                                 sumGXhat: sumGXhat.ptr, activation: kind, geo)
                        let tag = "shape \(si) \(String(describing: kind)) weight \(weight != nil) band bytes \(bandBytes) threads \(threads)"
                        assertClose(dx, dxS, atol: 1e-3, rtol: 1e-3, tag + " dx")
                        assertClose(dw, dwS, atol: 1e-2, rtol: 1e-3, tag + " dw")
                    }
                }
            }
        }
    }

    /// The depthwise weight gradient (register-blocked rows on the direct kernel's geometries, the pixel loop
    /// elsewhere) against its naive twin, 1–3 threads.
    func testWeightGradientMatchesNaive() {
        let savedThreads = Threading.threads
        defer { Threading.threads = savedThreads }
        for (si, shape) in Self.shapes.enumerated() {
            let geo = Self.geometry(shape)
            let x = randn([shape.0, shape.1, shape.2, shape.3], seed: 41)
            let dy = randn([shape.0, geo.outHeight, geo.outWidth, shape.3], seed: 42)
            let expected = Tensor.empty([shape.3, shape.4, shape.4, 1])
            depthwiseConv2dBackwardWeightNaive(expected.ptr, dy.ptr, x.ptr, geo)
            for threads in [1, 2, 3] {
                Threading.threads = threads
                let dw = Tensor(repeating: .nan, shape: expected.shape)
                depthwiseConv2dBackwardWeight(dw.ptr, dy.ptr, x.ptr, geo)
                assertClose(dw, expected, atol: 1e-3, rtol: 1e-4, "shape \(si) threads \(threads)")
            }
        }
    }

    /// The bands of one image split its input rows exactly once, and each band's dy rows cover what its
    /// output rows and input rows read.
    func testBandsPartitionInputRows() {
        for shape in Self.shapes {
            let geo = Self.geometry(shape)
            for rows in 1...geo.outHeight {
                let count = (geo.outHeight + rows - 1) / rows
                var next = 0
                for b in 0..<count {
                    let band = DepthwiseBand(b, count: count, rows: rows, geo)
                    XCTAssertEqual(band.inputs.lowerBound, next, "input rows continue where the last band stopped")
                    next = band.inputs.upperBound
                    XCTAssertTrue(band.needed.contains(band.band.lowerBound) && band.needed.upperBound >= band.band.upperBound)
                    for iy in band.inputs {
                        for ky in 0..<geo.kernelHeight {
                            let t = iy + geo.padTop - ky
                            if t >= 0 && t % geo.stride == 0 && t / geo.stride < geo.outHeight {
                                XCTAssertTrue(band.needed.contains(t / geo.stride), "input row \(iy) reads output row \(t / geo.stride)")
                            }
                        }
                    }
                }
                XCTAssertEqual(next, geo.inHeight, "the bands cover every input row")
            }
        }
    }

    /// The fused training op against `batchNormActivation(conv2d(...))`: outputs, running statistics and the
    /// gradients of input, weight and batch-norm affine.
    func testOpMatchesComposition() {
        let savedFused = DepthwiseBackwardTuning.batchNormFused, savedThreads = Threading.threads
        let savedBytes = DepthwiseBackwardTuning.bandBytes
        defer {
            DepthwiseBackwardTuning.batchNormFused = savedFused; Threading.threads = savedThreads
            DepthwiseBackwardTuning.bandBytes = savedBytes
        }
        let savedMin = DepthwiseBackwardTuning.minImageOutput
        defer { DepthwiseBackwardTuning.minImageOutput = savedMin }
        DepthwiseBackwardTuning.minImageOutput = 0
        Threading.threads = 2
        DepthwiseBackwardTuning.bandBytes = 4 * 20 * 24 * 5  // bands of a few rows
        for (kind, stride, pad) in [(ActivationKind?.none, 1, Padding2D.symmetric(1)), (.relu6, 2, Padding2D(top: 0, bottom: 1, left: 0, right: 1)),
                                    (.silu, 1, .symmetric(1))] {
            var results: [[Float]] = []
            for fused in [true, false] {
                DepthwiseBackwardTuning.batchNormFused = fused
                let x = randn([3, 20, 20, 24], seed: 8), w = randn([24, 3, 3, 1], seed: 9)
                let bw = randn([24], seed: 10), bb = randn([24], seed: 11)
                let rm = randn([24], seed: 12), rv = randn([24], seed: 13).abs() + 0.5
                for t in [x, w, bw, bb] { t.requiresGrad = true }
                let y = depthwiseConvBatchNormActivation(x, w, stride: stride, padding: pad, bnWeight: bw, bnBias: bb, runningMean: rm,
                                                         runningVar: rv, momentum: 0.1, eps: 1e-5, activation: kind)
                XCTAssertEqual(y.node?.name, fused ? "conv2d.dw+batchNormActivation" : "batchNormActivation", "node recorded")
                XCTAssertEqual(y.shape, [3, 20 / stride, 20 / stride, 24])
                (y * randn(y.shape, seed: 14)).sum().backward()
                results.append(y.scalars + rm.scalars + rv.scalars + x.grad!.scalars + w.grad!.scalars + bw.grad!.scalars + bb.grad!.scalars)
            }
            assertClose(results[0], results[1], atol: 1e-3, rtol: 1e-3, "fused vs composed \(String(describing: kind)) stride \(stride)")
        }
    }

    /// The layer takes the fused node in training: same outputs and gradients as the composition.
    func testConv2dLayerTakesFusedNode() {
        let savedFused = DepthwiseBackwardTuning.batchNormFused, savedMin = DepthwiseBackwardTuning.minImageOutput
        defer { DepthwiseBackwardTuning.batchNormFused = savedFused; DepthwiseBackwardTuning.minImageOutput = savedMin }
        DepthwiseBackwardTuning.minImageOutput = 6 * 6 * 16  // this test's output per image, exactly
        var results: [[Float]] = []
        for fused in [true, false] {
            DepthwiseBackwardTuning.batchNormFused = fused
            GlobalRNG.seed(3)
            let conv = Conv2d(16, 16, kernelSize: 5, stride: 2, padding: .same, groups: 16, bias: false)
            let bn = BatchNorm(16)
            let x = randn([2, 11, 11, 16], seed: 4)
            x.requiresGrad = true
            let y = conv(x, batchNorm: bn, activation: .relu6)
            XCTAssertEqual(y.node?.name, fused ? "conv2d.dw+batchNormActivation" : "batchNormActivation", "node recorded")
            (y * randn(y.shape, seed: 5)).sum().backward()
            XCTAssertEqual(bn.numBatchesTracked.scalars, [1])
            results.append(y.scalars + x.grad!.scalars + conv.weight.grad!.scalars + bn.weight.grad!.scalars + bn.runningVar.scalars)
        }
        assertClose(results[0], results[1], atol: 1e-4, rtol: 1e-4, "layer: fused vs composed")
        // A smaller output per image than the threshold runs the composition.
        DepthwiseBackwardTuning.batchNormFused = true
        DepthwiseBackwardTuning.minImageOutput = 6 * 6 * 16 + 1
        let conv = Conv2d(16, 16, kernelSize: 5, stride: 2, padding: .same, groups: 16, bias: false)
        let x = randn([2, 11, 11, 16], seed: 4)
        x.requiresGrad = true
        XCTAssertEqual(conv(x, batchNorm: BatchNorm(16), activation: .relu6).node?.name, "batchNormActivation")
    }

    /// Finite differences through the fused training op (bands of one row, so that halos are recomputed).
    func testGradCheck() {
        let savedBytes = DepthwiseBackwardTuning.bandBytes, savedThreads = Threading.threads
        defer { DepthwiseBackwardTuning.bandBytes = savedBytes; Threading.threads = savedThreads }
        let savedMin = DepthwiseBackwardTuning.minImageOutput
        defer { DepthwiseBackwardTuning.minImageOutput = savedMin }
        DepthwiseBackwardTuning.minImageOutput = 0
        DepthwiseBackwardTuning.bandBytes = 1
        Threading.threads = 2
        let x = randn([2, 7, 6, 3], seed: 21), w = randn([3, 3, 3, 1], seed: 22)
        let bw = randn([3], seed: 23), bb = randn([3], seed: 24)
        gradCheck([x, w, bw, bb], eps: 1e-2, atol: 3e-3, rtol: 3e-2, maxChecks: 60, "depthwise 3×3 + BN + SiLU") { t in
            depthwiseConvBatchNormActivation(t[0], t[1], stride: 2, padding: .symmetric(1), bnWeight: t[2], bnBias: t[3],
                                             runningMean: nil, runningVar: nil, activation: .silu)
        }
    }
}
