import XCTest
@testable import ADNN
@testable import ADNNTrain
@testable import ADNNKernels

final class ConvTests: XCTestCase {
    /// One kernel-vs-naive case.
    struct Case {
        var name: String
        var n, h, w, c, o, kh, kw, stride, dilation, groups: Int
        var pad: Padding2D
        var bias: Bool

        var geometry: Conv2DGeometry {
            Conv2DGeometry(batch: n, inHeight: h, inWidth: w, inChannels: c, outChannels: o, kernelHeight: kh, kernelWidth: kw,
                           stride: stride, dilation: dilation, padTop: pad.top, padBottom: pad.bottom,
                           padLeft: pad.left, padRight: pad.right, groups: groups)
        }
    }

    static func same(_ h: Int, _ w: Int, _ k: Int, _ s: Int, _ d: Int = 1) -> Padding2D {
        .same(inputHeight: h, inputWidth: w, kernel: k, stride: s, dilation: d)
    }

    static let cases: [Case] = [
        Case(name: "3x3 s2 p1", n: 2, h: 9, w: 7, c: 5, o: 6, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 1, pad: .symmetric(1), bias: true),
        Case(name: "3x3 s2 no bias, even", n: 3, h: 8, w: 10, c: 4, o: 3, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 1, pad: .symmetric(1), bias: false),
        Case(name: "3x3 s2 tf-same stem", n: 2, h: 12, w: 11, c: 3, o: 8, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 1, pad: same(12, 11, 3, 2), bias: false),
        Case(name: "1x1 s1", n: 2, h: 5, w: 6, c: 7, o: 9, kh: 1, kw: 1, stride: 1, dilation: 1, groups: 1, pad: .symmetric(0), bias: true),
        Case(name: "1x1 s1 no bias", n: 1, h: 4, w: 3, c: 20, o: 17, kh: 1, kw: 1, stride: 1, dilation: 1, groups: 1, pad: .symmetric(0), bias: false),
        Case(name: "1x1 s1 groups 2", n: 2, h: 3, w: 5, c: 8, o: 6, kh: 1, kw: 1, stride: 1, dilation: 1, groups: 2, pad: .symmetric(0), bias: true),
        Case(name: "1x1 s2", n: 2, h: 7, w: 5, c: 6, o: 4, kh: 1, kw: 1, stride: 2, dilation: 1, groups: 1, pad: .symmetric(0), bias: true),
        Case(name: "dw 3x3 s1 tf-same", n: 2, h: 9, w: 8, c: 20, o: 20, kh: 3, kw: 3, stride: 1, dilation: 1, groups: 20, pad: same(9, 8, 3, 1), bias: true),
        Case(name: "dw 3x3 s2 tf-same", n: 2, h: 9, w: 8, c: 20, o: 20, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 20, pad: same(9, 8, 3, 2), bias: false),
        Case(name: "dw 5x5 s1 tf-same", n: 2, h: 7, w: 9, c: 35, o: 35, kh: 5, kw: 5, stride: 1, dilation: 1, groups: 35, pad: same(7, 9, 5, 1), bias: true),
        Case(name: "dw 5x5 s2 tf-same", n: 3, h: 10, w: 9, c: 16, o: 16, kh: 5, kw: 5, stride: 2, dilation: 1, groups: 16, pad: same(10, 9, 5, 2), bias: true),
        Case(name: "dw 3x3 s2 p1 small C", n: 2, h: 7, w: 7, c: 3, o: 3, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 3, pad: .symmetric(1), bias: true),
        Case(name: "dw 3x3 d2 s2", n: 1, h: 11, w: 9, c: 18, o: 18, kh: 3, kw: 3, stride: 2, dilation: 2, groups: 18, pad: same(11, 9, 3, 2, 2), bias: false),
        Case(name: "3x3 dilation 2", n: 2, h: 9, w: 8, c: 4, o: 5, kh: 3, kw: 3, stride: 1, dilation: 2, groups: 1, pad: .symmetric(2), bias: true),
        Case(name: "3x3 groups 2", n: 2, h: 6, w: 7, c: 6, o: 4, kh: 3, kw: 3, stride: 1, dilation: 1, groups: 2, pad: .symmetric(1), bias: true),
        Case(name: "3x3 groups 2 s2 d2 asym", n: 2, h: 9, w: 10, c: 4, o: 6, kh: 3, kw: 3, stride: 2, dilation: 2,
             groups: 2, pad: Padding2D(top: 1, bottom: 2, left: 2, right: 1), bias: true),
        Case(name: "3x5 asym pad", n: 2, h: 7, w: 9, c: 3, o: 5, kh: 3, kw: 5, stride: 1, dilation: 1, groups: 1,
             pad: Padding2D(top: 0, bottom: 2, left: 1, right: 3), bias: true),
        Case(name: "7x7 cbam 2->1", n: 2, h: 7, w: 7, c: 2, o: 1, kh: 7, kw: 7, stride: 1, dilation: 1, groups: 1, pad: .symmetric(3), bias: false),
        Case(name: "5x5 s2 tf-same odd", n: 3, h: 13, w: 11, c: 5, o: 7, kh: 5, kw: 5, stride: 2, dilation: 1, groups: 1, pad: same(13, 11, 5, 2), bias: true),
        Case(name: "single pixel out", n: 2, h: 3, w: 3, c: 4, o: 3, kh: 3, kw: 3, stride: 1, dilation: 1, groups: 1, pad: .symmetric(0), bias: true),
        Case(name: "dw 3x3 s2 tf-same wide (4-pixel path)", n: 1, h: 5, w: 19, c: 20, o: 20, kh: 3, kw: 3, stride: 2, dilation: 1, groups: 20, pad: same(5, 19, 3, 2), bias: true),
        // Stride 1 with channels a multiple of 16: the input gradient runs on the direct forward kernel
        // (turned kernel, mirrored padding) — wide rows, a small image, a 3×3 image and asymmetric padding.
        Case(name: "dw 3x3 s1 p1 C32 (direct dX)", n: 2, h: 9, w: 21, c: 32, o: 32, kh: 3, kw: 3, stride: 1, dilation: 1, groups: 32, pad: .symmetric(1), bias: false),
        Case(name: "dw 5x5 s1 p2 C16 small image (direct dX)", n: 3, h: 6, w: 7, c: 16, o: 16, kh: 5, kw: 5, stride: 1, dilation: 1, groups: 16, pad: .symmetric(2), bias: true),
        Case(name: "dw 5x5 s1 p2 C48 3x3 image (direct dX)", n: 2, h: 3, w: 3, c: 48, o: 48, kh: 5, kw: 5, stride: 1, dilation: 1, groups: 48, pad: .symmetric(2), bias: false),
        Case(name: "dw 3x3 s1 asym pad C16 (direct dX)", n: 2, h: 8, w: 10, c: 16, o: 16, kh: 3, kw: 3, stride: 1, dilation: 1, groups: 16,
             pad: Padding2D(top: 0, bottom: 2, left: 2, right: 0), bias: true),
    ]

    func runKernelCase(_ k: Case, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        let g = k.geometry
        let x = randn([k.n, k.h, k.w, k.c], seed: seed)
        let w = randn([k.o, k.kh, k.kw, k.c / k.groups], seed: seed + 1)
        let b = randn([k.o], seed: seed + 2)
        let dy = randn([k.n, g.outHeight, g.outWidth, k.o], seed: seed + 3)
        let bias: UnsafePointer<Float>? = k.bias ? UnsafePointer(b.ptr) : nil
        let tol: Float = 1e-4

        let yFast = Tensor.empty(dy.shape), ySlow = Tensor.empty(dy.shape)
        conv2dForward(yFast.ptr, x.ptr, w.ptr, bias, g)
        conv2dForwardNaive(ySlow.ptr, x.ptr, w.ptr, bias, g)
        assertClose(yFast, ySlow, atol: tol, rtol: tol, "\(k.name) forward", file: file, line: line)

        let dxFast = Tensor(repeating: .nan, shape: x.shape), dxSlow = Tensor.empty(x.shape)
        conv2dBackwardInput(dxFast.ptr, dy.ptr, w.ptr, g)
        conv2dBackwardInputNaive(dxSlow.ptr, dy.ptr, w.ptr, g)
        assertClose(dxFast, dxSlow, atol: tol, rtol: tol, "\(k.name) dX", file: file, line: line)

        let dwFast = Tensor(repeating: .nan, shape: w.shape), dwSlow = Tensor.empty(w.shape)
        conv2dBackwardWeight(dwFast.ptr, dy.ptr, x.ptr, g)
        conv2dBackwardWeightNaive(dwSlow.ptr, dy.ptr, x.ptr, g)
        assertClose(dwFast, dwSlow, atol: tol, rtol: tol, "\(k.name) dW", file: file, line: line)

        let P = k.n * g.outHeight * g.outWidth
        let dbFast = Tensor(repeating: .nan, shape: [k.o]), dbSlow = Tensor.empty([k.o])
        conv2dBackwardBias(dbFast.ptr, dy.ptr, pixels: P, channels: k.o)
        conv2dBackwardBiasNaive(dbSlow.ptr, dy.ptr, pixels: P, channels: k.o)
        assertClose(dbFast, dbSlow, atol: tol, rtol: tol, "\(k.name) dBias", file: file, line: line)

        if g.isDepthwise {
            // The depthwise kernels against their own naive twins as well.
            let y2 = Tensor.empty(dy.shape), dx2 = Tensor.empty(x.shape), dw2 = Tensor.empty(w.shape)
            depthwiseConv2dForwardNaive(y2.ptr, x.ptr, w.ptr, bias, g)
            depthwiseConv2dBackwardInputNaive(dx2.ptr, dy.ptr, w.ptr, g)
            depthwiseConv2dBackwardWeightNaive(dw2.ptr, dy.ptr, x.ptr, g)
            assertClose(yFast, y2, atol: tol, rtol: tol, "\(k.name) depthwise naive forward", file: file, line: line)
            assertClose(dxFast, dx2, atol: tol, rtol: tol, "\(k.name) depthwise naive dX", file: file, line: line)
            assertClose(dwFast, dw2, atol: tol, rtol: tol, "\(k.name) depthwise naive dW", file: file, line: line)
        }
    }

    func testKernelsMatchNaive() {
        for (i, k) in Self.cases.enumerated() { runKernelCase(k, seed: UInt64(100 + 10 * i)) }
    }

    func testStrideOneDepthwiseInputGradientTakesTheDirectKernel() {
        for k in Self.cases.suffix(4) {
            XCTAssertNotNil(depthwiseBackwardInputAsForward(k.geometry), k.name)
        }
        XCTAssertNil(depthwiseBackwardInputAsForward(Self.cases.first { $0.name == "dw 3x3 s2 tf-same" }!.geometry))
        XCTAssertNil(depthwiseBackwardInputAsForward(Self.cases.first { $0.name == "dw 3x3 s1 tf-same" }!.geometry)) // C 20
    }

    func testKernelPathsAreTheOnesIntended() {
        XCTAssertTrue(Self.cases[3].geometry.isPointwise)
        XCTAssertTrue(Self.cases[5].geometry.isPointwise)
        XCTAssertFalse(Self.cases[6].geometry.isPointwise)           // 1x1 stride 2 → im2col
        XCTAssertTrue(Self.cases[7].geometry.isDepthwise)
        XCTAssertFalse(Self.cases[14].geometry.isDepthwise)          // groups 2
    }

    /// Small column buffers force the im2col paths to process the batch in many chunks, some of
    /// which start or end inside an output row.
    func testIm2colChunkingMatchesNaive() {
        let saved = ConvTuning.im2colMaxFloats
        defer { ConvTuning.im2colMaxFloats = saved }
        for limit in [1, 7 * 27, 100 * 27] {
            ConvTuning.im2colMaxFloats = limit
            for i in [0, 2, 6, 13, 15, 16, 18] { runKernelCase(Self.cases[i], seed: UInt64(500 + i)) }
        }
    }

    func testMultiThreadedKernelsMatchSingleThreaded() {
        // Depthwise dW and dBias use per-worker partial sums: check against a 1-thread run.
        let saved = Threading.threads
        defer { Threading.threads = saved }
        let k = Case(name: "dw big", n: 4, h: 14, w: 14, c: 40, o: 40, kh: 5, kw: 5, stride: 1, dilation: 1, groups: 40,
                     pad: Self.same(14, 14, 5, 1), bias: true)
        let g = k.geometry
        let x = randn([4, 14, 14, 40], seed: 1), dy = randn([4, 14, 14, 40], seed: 2)
        var results: [[Float]] = []
        for t in [1, 4] {
            Threading.threads = t
            let dw = Tensor.empty([40, 5, 5, 1]), db = Tensor.empty([40])
            depthwiseConv2dBackwardWeight(dw.ptr, dy.ptr, x.ptr, g)
            conv2dBackwardBias(db.ptr, dy.ptr, pixels: 4 * 14 * 14, channels: 40)
            results.append(dw.scalars + db.scalars)
        }
        assertClose(results[1], results[0], atol: 1e-4, rtol: 1e-4, "threads 4 vs 1")
        runKernelCase(k, seed: 77)
    }

    /// Both gradients of a 1×1 convolution in one pass over dy (`pointwiseConvBackward`) against the naive
    /// twins: blocks of 48 rows (so a thread's range spans several blocks and ends in a partial one), 1–3 threads,
    /// pixel counts that do not divide evenly, both GEMM backends.
    func testPointwiseBackwardMatchesNaive() {
        let savedThreads = Threading.threads, savedBytes = PointwiseBackwardTuning.blockBytes, savedBackend = GEMMTuning.backend
        defer { Threading.threads = savedThreads; PointwiseBackwardTuning.blockBytes = savedBytes; GEMMTuning.backend = savedBackend }
        PointwiseBackwardTuning.blockBytes = 48 * 4 * 8  // 48 rows at C + O = 8, the minimum elsewhere
        for backend in [GEMMBackend.swift, .openBLAS] {
            GEMMTuning.backend = backend
            for (n, h, w, c, o) in [(2, 17, 13, 16, 96), (1, 23, 11, 24, 20), (3, 7, 9, 5, 3), (1, 1, 1, 4, 6)] {
                let g = Conv2DGeometry(batch: n, inHeight: h, inWidth: w, inChannels: c, outChannels: o, kernelHeight: 1, kernelWidth: 1,
                                       stride: 1, dilation: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
                let x = randn([n, h, w, c], seed: 5), wt = randn([o, 1, 1, c], seed: 6), dy = randn([n, h, w, o], seed: 7)
                let dxS = Tensor.empty(x.shape), dwS = Tensor.empty(wt.shape)
                conv2dBackwardInputNaive(dxS.ptr, dy.ptr, wt.ptr, g)
                conv2dBackwardWeightNaive(dwS.ptr, dy.ptr, x.ptr, g)
                for t in [1, 2, 3] {
                    Threading.threads = t
                    let dx = Tensor(repeating: .nan, shape: x.shape), dw = Tensor(repeating: .nan, shape: wt.shape)
                    pointwiseConvBackward(dx.ptr, dw.ptr, dy.ptr, x.ptr, wt.ptr, pixels: n * h * w, inChannels: c, outChannels: o)
                    let tag = "\(backend) P \(n * h * w) \(c)→\(o) threads \(t)"
                    assertClose(dx, dxS, atol: 1e-4, rtol: 1e-4, tag + " dx")
                    assertClose(dw, dwS, atol: 1e-3, rtol: 1e-4, tag + " dw")
                }
            }
        }
        // Routing: large one-group 1×1 convolutions only.
        PointwiseBackwardTuning.blockBytes = savedBytes
        Threading.threads = 2
        func geo(_ p: Int, _ c: Int, _ o: Int, stride: Int = 1, groups: Int = 1) -> Conv2DGeometry {
            Conv2DGeometry(batch: 1, inHeight: p, inWidth: 1, inChannels: c, outChannels: o, kernelHeight: 1, kernelWidth: 1,
                           stride: stride, dilation: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: groups)
        }
        XCTAssertTrue(pointwiseConvBackwardApplies(geo(82944, 16, 96)))
        XCTAssertFalse(pointwiseConvBackwardApplies(geo(100, 16, 96)), "too few pixels")
        XCTAssertFalse(pointwiseConvBackwardApplies(geo(82944, 16, 96, groups: 2)), "grouped")
        XCTAssertFalse(pointwiseConvBackwardApplies(geo(82944, 16, 96, stride: 2)), "strided")
        XCTAssertFalse(pointwiseConvBackwardApplies(geo(82944, 1152, 192)), "large weights")
    }

    /// The fused 1×1 conv + batch-norm + activation backward kernel against the composition of naive twins:
    /// dy from `batchNormActivationBackwardInputNaive`, then the naive input and weight gradients.
    func testPointwiseConvBatchNormActivationBackwardMatchesNaive() {
        let savedThreads = Threading.threads, savedBytes = PointwiseBackwardTuning.blockBytes, savedBackend = GEMMTuning.backend
        defer { Threading.threads = savedThreads; PointwiseBackwardTuning.blockBytes = savedBytes; GEMMTuning.backend = savedBackend }
        PointwiseBackwardTuning.blockBytes = 48 * 4 * 8  // blocks of 48 rows: several per thread
        for backend in [GEMMBackend.swift, .openBLAS] {
            GEMMTuning.backend = backend
            for (ci, (n, h, w, c, o)) in [(2, 17, 13, 16, 40), (1, 23, 11, 24, 20), (3, 7, 9, 5, 3), (1, 1, 1, 4, 6)].enumerated() {
                let kind = FusedTests.kinds[(ci * 3 + (backend == .swift ? 0 : 1)) % FusedTests.kinds.count]
                let P = n * h * w
                let geo = Conv2DGeometry(batch: n, inHeight: h, inWidth: w, inChannels: c, outChannels: o, kernelHeight: 1, kernelWidth: 1,
                                         stride: 1, dilation: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
                let x = randn([n, h, w, c], seed: 5), wt = randn([o, 1, 1, c], seed: 6), g = randn([n, h, w, o], seed: 7)
                let y = randn([n, h, w, o], seed: 8, scale: 2)
                let s = randn([o], seed: 1), t = randn([o], seed: 2), m = randn([o], seed: 3), inv = randn([o], seed: 4).abs() + 0.2
                let bw = randn([o], seed: 9)
                let sumG = Tensor.empty([o]), sumGXhat = Tensor.empty([o])
                batchNormActivationBackwardReduceNaive(sumG.ptr, sumGXhat.ptr, g.ptr, y.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                       invstd: inv.ptr, activation: kind, rows: P, channels: o)
                for weight in [bw, nil] {
                    let dy = Tensor.empty(y.shape), dxS = Tensor.empty(x.shape), dwS = Tensor.empty(wt.shape)
                    batchNormActivationBackwardInputNaive(dy.ptr, g.ptr, y.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr, invstd: inv.ptr,
                                                          weight: weight?.ptr, sumG: sumG.ptr, sumGXhat: sumGXhat.ptr, activation: kind,
                                                          rows: P, channels: o)
                    conv2dBackwardInputNaive(dxS.ptr, dy.ptr, wt.ptr, geo)
                    conv2dBackwardWeightNaive(dwS.ptr, dy.ptr, x.ptr, geo)
                    for threads in [1, 2, 3] {
                        Threading.threads = threads
                        let dx = Tensor(repeating: .nan, shape: x.shape), dw = Tensor(repeating: .nan, shape: wt.shape)
                        pointwiseConvBatchNormActivationBackward(dx.ptr, dw.ptr, g.ptr, y.ptr, x.ptr, wt.ptr, scale: s.ptr, shift: t.ptr,
                                                                 mean: m.ptr, invstd: inv.ptr, bnWeight: weight?.ptr, sumG: sumG.ptr,
                                                                 sumGXhat: sumGXhat.ptr, activation: kind,
                                                                 pixels: P, inChannels: c, outChannels: o)
                        let tag = "\(backend) P \(P) \(c)→\(o) \(String(describing: kind)) weight \(weight != nil) threads \(threads)"
                        assertClose(dx, dxS, atol: 1e-3, rtol: 1e-3, tag + " dx")
                        assertClose(dw, dwS, atol: 1e-2, rtol: 1e-3, tag + " dw")
                    }
                }
            }
        }
    }

    /// The 1×1 forward with batch statistics summed block by block against the naive product and the naive
    /// statistics (several blocks per thread, uneven thread ranges, a row count below the thread count).
    func testPointwiseConvForwardStatisticsMatchesNaive() {
        let savedThreads = Threading.threads, savedBytes = PointwiseBackwardTuning.forwardBlockBytes
        defer { Threading.threads = savedThreads; PointwiseBackwardTuning.forwardBlockBytes = savedBytes }
        for (P, c, o, bytes) in [(1003, 16, 40, 48 * 4 * 40), (777, 5, 3, 1 << 19), (2, 7, 33, 1 << 19), (300, 24, 17, 48 * 4 * 17)] {
            PointwiseBackwardTuning.forwardBlockBytes = bytes
            // An offset far from zero, as batch-norm inputs often are: the shifted sums must keep the variance exact.
            let x = randn([P, c], seed: 31) + 3, w = randn([o, c], seed: 32)
            let yS = Tensor.empty([P, o]), mS = Tensor.empty([o]), vS = Tensor.empty([o])
            pointwiseConvNaive(yS.ptr, x.ptr, w.ptr, scale: nil, shift: nil, activation: nil, pixels: P, inChannels: c, outChannels: o)
            batchNormStatisticsNaive(mS.ptr, vS.ptr, yS.ptr, rows: P, channels: o)
            for threads in [1, 2, 3] {
                Threading.threads = threads
                let y = Tensor(repeating: .nan, shape: [P, o]), m = Tensor(repeating: .nan, shape: [o]), v = Tensor(repeating: .nan, shape: [o])
                pointwiseConvForwardStatistics(y.ptr, m.ptr, v.ptr, x.ptr, w.ptr, pixels: P, inChannels: c, outChannels: o)
                let tag = "P \(P) \(c)→\(o) threads \(threads)"
                assertClose(y, yS, atol: 1e-4, rtol: 1e-4, tag + " y")
                assertClose(m, mS, atol: 1e-4, rtol: 1e-4, tag + " mean")
                assertClose(v, vS, atol: 1e-3, rtol: 1e-4, tag + " variance")
            }
        }
    }

    /// The fused training op (one node for 1×1 conv → batch norm → activation) against the two ops it stands
    /// for: the same outputs, running statistics and gradients of input, weight and batch-norm affine.
    func testPointwiseConvBatchNormActivationOpMatchesComposition() {
        let savedFused = PointwiseBackwardTuning.batchNormFused, savedThreads = Threading.threads
        let savedBytes = PointwiseBackwardTuning.blockBytes
        defer {
            PointwiseBackwardTuning.batchNormFused = savedFused; Threading.threads = savedThreads
            PointwiseBackwardTuning.blockBytes = savedBytes
        }
        Threading.threads = 2
        PointwiseBackwardTuning.blockBytes = 96 * 4 * 56  // blocks of 96 rows: several per thread
        let savedMin = PointwiseBackwardTuning.forwardStatisticsMinOutput
        defer { PointwiseBackwardTuning.forwardStatisticsMinOutput = savedMin }
        for (kind, minOutput) in [(ActivationKind?.none, 0), (.relu6, Int.max), (.silu, 0)] {
            // minOutput 0: statistics summed inside the convolution; Int.max: in a pass of their own.
            PointwiseBackwardTuning.forwardStatisticsMinOutput = minOutput
            var results: [[Float]] = []
            for fused in [true, false] {
                PointwiseBackwardTuning.batchNormFused = fused
                let x = randn([4, 20, 20, 16], seed: 8), w = randn([40, 1, 1, 16], seed: 9)
                let bw = randn([40], seed: 10), bb = randn([40], seed: 11)
                let rm = randn([40], seed: 12), rv = randn([40], seed: 13).abs() + 0.5
                for t in [x, w, bw, bb] { t.requiresGrad = true }
                let geo = Conv2DGeometry(batch: 4, inHeight: 20, inWidth: 20, inChannels: 16, outChannels: 40, kernelHeight: 1,
                                         kernelWidth: 1, stride: 1, dilation: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
                XCTAssertEqual(pointwiseConvBackwardApplies(geo) && PointwiseBackwardTuning.batchNormFused, fused, "fused path taken")
                let y = pointwiseConvBatchNormActivation(x, w, bnWeight: bw, bnBias: bb, runningMean: rm, runningVar: rv,
                                                         momentum: 0.1, eps: 1e-5, activation: kind)
                XCTAssertEqual(y.shape, [4, 20, 20, 40])
                (y * randn(y.shape, seed: 14)).sum().backward()
                results.append(y.scalars + rm.scalars + rv.scalars + x.grad!.scalars + w.grad!.scalars + bw.grad!.scalars + bb.grad!.scalars)
            }
            assertClose(results[0], results[1], atol: 1e-3, rtol: 1e-3, "fused vs composed \(String(describing: kind))")
        }
    }

    /// Finite differences through the fused training op (small blocks so that several run per thread).
    func testPointwiseConvBatchNormActivationGradCheck() {
        let savedBytes = PointwiseBackwardTuning.blockBytes, savedThreads = Threading.threads
        defer { PointwiseBackwardTuning.blockBytes = savedBytes; Threading.threads = savedThreads }
        PointwiseBackwardTuning.blockBytes = 48 * 4 * 8
        Threading.threads = 2
        let x = randn([2, 12, 10, 3], seed: 21), w = randn([5, 1, 1, 3], seed: 22)
        let bw = randn([5], seed: 23), bb = randn([5], seed: 24)
        let geo = Conv2DGeometry(batch: 2, inHeight: 12, inWidth: 10, inChannels: 3, outChannels: 5, kernelHeight: 1, kernelWidth: 1,
                                 stride: 1, dilation: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, groups: 1)
        XCTAssertTrue(pointwiseConvBackwardApplies(geo), "the test shape must take the fused path")
        gradCheck([x, w, bw, bb], eps: 1e-2, atol: 3e-3, rtol: 3e-2, maxChecks: 60, "conv 1×1 + BN + SiLU") { t in
            pointwiseConvBatchNormActivation(t[0], t[1], bnWeight: t[2], bnBias: t[3], runningMean: nil, runningVar: nil,
                                             activation: .silu)
        }
    }

    /// The conv2d op's gradients with the one-pass 1×1 backward equal those of the two separate GEMMs.
    func testConv2dPointwiseBackwardOpMatchesSeparateGradients() {
        let saved = PointwiseBackwardTuning.enabled
        defer { PointwiseBackwardTuning.enabled = saved }
        let savedThreads = Threading.threads
        defer { Threading.threads = savedThreads }
        Threading.threads = 2
        var results: [[Float]] = []
        for fused in [true, false] {
            PointwiseBackwardTuning.enabled = fused
            let x = randn([4, 40, 40, 16], seed: 8), w = randn([40, 1, 1, 16], seed: 9), b = randn([40], seed: 10)
            for t in [x, w, b] { t.requiresGrad = true }
            XCTAssertEqual(pointwiseConvBackwardApplies(Conv2DGeometry(batch: 4, inHeight: 40, inWidth: 40, inChannels: 16, outChannels: 40,
                                                                       kernelHeight: 1, kernelWidth: 1, stride: 1, dilation: 1, padTop: 0,
                                                                       padBottom: 0, padLeft: 0, padRight: 0, groups: 1)), fused)
            let y = conv2d(x, w, bias: b)
            (y * randn(y.shape, seed: 11)).sum().backward()
            results.append(x.grad!.scalars + w.grad!.scalars + b.grad!.scalars)
        }
        assertClose(results[0], results[1], atol: 1e-4, rtol: 1e-4, "one pass vs two GEMMs")
    }

    func testSamePadding() {
        // timm get_same_padding: max((ceil(i/s) − 1)·s + (k − 1)·d + 1 − i, 0), extra at bottom/right.
        XCTAssertEqual(Padding2D.same(inputHeight: 224, inputWidth: 224, kernel: 3, stride: 2),
                       Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(Padding2D.same(inputHeight: 225, inputWidth: 225, kernel: 3, stride: 2), .symmetric(1))
        XCTAssertEqual(Padding2D.same(inputHeight: 14, inputWidth: 15, kernel: 5, stride: 2),
                       Padding2D(top: 1, bottom: 2, left: 2, right: 2))
        XCTAssertEqual(Padding2D.same(inputHeight: 7, inputWidth: 7, kernel: 3, stride: 1), .symmetric(1))
        XCTAssertEqual(Padding2D.same(inputHeight: 7, inputWidth: 7, kernel: 5, stride: 1), .symmetric(2))
        XCTAssertEqual(Padding2D.same(inputHeight: 8, inputWidth: 8, kernel: 1, stride: 2), .symmetric(0))
        XCTAssertEqual(Padding2D.same(inputHeight: 9, inputWidth: 9, kernel: 3, stride: 1, dilation: 2), .symmetric(2))
        XCTAssertEqual(Padding2D.same(inputHeight: 10, inputWidth: 12, kernelHeight: 3, kernelWidth: 5, stride: 2),
                       Padding2D(top: 0, bottom: 1, left: 1, right: 2))
        // TF "SAME" output size is ceil(i / s).
        for i in [7, 8, 14, 15, 112, 113] { for (k, s) in [(3, 1), (3, 2), (5, 2), (5, 1)] {
            let p = Padding2D.same(inputHeight: i, inputWidth: i, kernel: k, stride: s)
            XCTAssertEqual((i + p.top + p.bottom - k) / s + 1, (i + s - 1) / s, "i \(i) k \(k) s \(s)")
        } }
    }

    func testConv2dOpShapesAndValues() {
        // A hand-checked case: all-ones 1×4×4×1 input, 3×3 ones kernel, padding 1 → neighbour counts.
        let x = Tensor(repeating: 1, shape: [1, 4, 4, 1])
        let w = Tensor(repeating: 1, shape: [1, 3, 3, 1])
        let y = conv2d(x, w, bias: Tensor([0.5], shape: [1]), padding: .symmetric(1))
        XCTAssertEqual(y.shape, [1, 4, 4, 1])
        assertClose(y.scalars, [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4].map { $0 + 0.5 }, atol: 1e-6, rtol: 0)
        let y2 = conv2d(randn([2, 224, 224, 3], seed: 1), randn([8, 3, 3, 3], seed: 2), stride: 2,
                        padding: .same(inputHeight: 224, inputWidth: 224, kernel: 3, stride: 2))
        XCTAssertEqual(y2.shape, [2, 112, 112, 8])
        let y3 = conv2d(randn([1, 7, 9, 6], seed: 1), randn([4, 3, 3, 3], seed: 2), padding: .symmetric(1), dilation: 1, groups: 2)
        XCTAssertEqual(y3.shape, [1, 7, 9, 4])
        // Op agrees with the naive kernel (bias pointer wiring, views with an offset).
        let big = randn([3, 5, 6, 4], seed: 9)
        let xv = big.slice0(1, 3)
        let wv = randn([5, 3, 3, 4], seed: 10), bv = randn([5], seed: 11)
        let got = conv2d(xv, wv, bias: bv, stride: 2, padding: Padding2D(top: 1, bottom: 0, left: 0, right: 1))
        let g = Conv2DGeometry(batch: 2, inHeight: 5, inWidth: 6, inChannels: 4, outChannels: 5, kernelHeight: 3, kernelWidth: 3,
                               stride: 2, padTop: 1, padBottom: 0, padLeft: 0, padRight: 1)
        let want = Tensor.empty(got.shape)
        conv2dForwardNaive(want.ptr, xv.ptr, wv.ptr, bv.ptr, g)
        assertClose(got, want, atol: 1e-5, rtol: 1e-5, "op vs naive")
    }

    func testNoGradRecordsNothing() {
        let x = randn([1, 4, 4, 2], seed: 1), w = randn([3, 3, 3, 2], seed: 2)
        x.requiresGrad = true; w.requiresGrad = true
        let y = noGrad { conv2d(x, w, padding: .symmetric(1)) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.node)
    }

    // MARK: - gradient checks

    func testConv2dGradGeneral() {
        gradCheck([randn([2, 5, 6, 3], seed: 1), randn([4, 3, 3, 3], seed: 2), randn([4], seed: 3)], "conv 3x3 s2 p1") {
            conv2d($0[0], $0[1], bias: $0[2], stride: 2, padding: .symmetric(1))
        }
        gradCheck([randn([1, 7, 6, 2], seed: 4), randn([3, 3, 3, 2], seed: 5)], "conv 3x3 d2 asym") {
            conv2d($0[0], $0[1], padding: Padding2D(top: 2, bottom: 1, left: 1, right: 2), dilation: 2)
        }
    }

    func testConv2dGradPointwise() {
        gradCheck([randn([2, 3, 4, 5], seed: 1), randn([6, 1, 1, 5], seed: 2), randn([6], seed: 3)], "conv 1x1") {
            conv2d($0[0], $0[1], bias: $0[2])
        }
        gradCheck([randn([2, 5, 4, 3], seed: 4), randn([4, 1, 1, 3], seed: 5)], "conv 1x1 s2") {
            conv2d($0[0], $0[1], stride: 2)
        }
    }

    func testConv2dGradDepthwise() {
        let (h, w) = (7, 6)
        gradCheck([randn([2, h, w, 18], seed: 1), randn([18, 3, 3, 1], seed: 2), randn([18], seed: 3)], "dw 3x3 s2 same") {
            conv2d($0[0], $0[1], bias: $0[2], stride: 2, padding: .same(inputHeight: h, inputWidth: w, kernel: 3, stride: 2), groups: 18)
        }
        gradCheck([randn([1, h, w, 5], seed: 4), randn([5, 5, 5, 1], seed: 5)], "dw 5x5 s1 same") {
            conv2d($0[0], $0[1], padding: .same(inputHeight: h, inputWidth: w, kernel: 5, stride: 1), groups: 5)
        }
    }

    func testConv2dGradGrouped() {
        gradCheck([randn([2, 5, 5, 4], seed: 1), randn([6, 3, 3, 2], seed: 2), randn([6], seed: 3)], "grouped 3x3") {
            conv2d($0[0], $0[1], bias: $0[2], padding: .symmetric(1), groups: 2)
        }
        gradCheck([randn([1, 4, 3, 4], seed: 4), randn([2, 1, 1, 2], seed: 5)], "grouped 1x1") {
            conv2d($0[0], $0[1], groups: 2)
        }
    }

    func testConv2dGradTFSame() {
        let (h, w) = (8, 7)
        gradCheck([randn([2, h, w, 3], seed: 1), randn([4, 3, 3, 3], seed: 2)], "tf-same 3x3 s2") {
            conv2d($0[0], $0[1], stride: 2, padding: .same(inputHeight: h, inputWidth: w, kernel: 3, stride: 2))
        }
        gradCheck([randn([1, h, w, 2], seed: 3), randn([3, 5, 5, 2], seed: 4), randn([3], seed: 5)], "tf-same 5x5 s2") {
            conv2d($0[0], $0[1], bias: $0[2], stride: 2, padding: .same(inputHeight: h, inputWidth: w, kernel: 5, stride: 2))
        }
    }
}

extension Tensor {
    /// Unrecorded view of leading-axis items lo..<hi (a tensor with a non-zero offset).
    fileprivate func slice0(_ lo: Int, _ hi: Int) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [hi - lo] + Array(shape.dropFirst()), storage: storage, offset: offset + lo * inner)
    }
}
