import XCTest
@testable import ADNN
import ADNNKernels

/// The packed direct 1×1 convolution (`pointwiseConvScaleShiftActivation`) against its naive twin, at both
/// panel widths (the AVX2 and AVX-512 tiles run on any x86-64 machine; only their speed differs), and the
/// `withFrozenWeights` path of `conv2dBatchNormActivation` against the unfrozen one.
final class PointwiseTests: XCTestCase {
    func testPackedPointwiseMatchesNaive() {
        let shapes: [(p: Int, k: Int, o: Int)] = [(1, 1, 1), (9, 1152, 192), (5, 24, 40), (37, 16, 96), (130, 96, 24), (25, 48, 64),
                                                   (4, 320, 1280), (3, 7, 33), (70, 40, 17), (11, 24, 16), (6, 30, 56), (13, 20, 112),
                                                   (2, 33, 48), (7, 64, 40), (8, 17, 64), (12, 50, 96), (81, 40, 240)]
        let savedRows = PointwiseTuning.tileRows
        defer { PointwiseTuning.tileRows = savedRows }
        for (width, rows) in [(16, 4), (16, 6), (32, 4), (32, 8), (32, 12), (16, 12)] {
            PointwiseTuning.tileRows = rows
            for (i, sh) in shapes.enumerated() {
                let x = randn([sh.p, sh.k], seed: UInt64(500 + i)), w = randn([sh.o, sh.k], seed: UInt64(600 + i), scale: 0.2)
                let s = randn([sh.o], seed: 7), t = randn([sh.o], seed: 8)
                let packed = Tensor.empty([packedPointwiseCount(outChannels: sh.o, inChannels: sh.k, width: width)])
                packPointwiseWeights(packed.ptr, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
                for (j, kind) in FusedTests.kinds.enumerated() where (i + j) % 3 == 0 || kind == .relu6 || kind == nil {
                    let fast = Tensor.empty([sh.p, sh.o]), slow = Tensor.empty([sh.p, sh.o])
                    let useAffine = j % 2 == 0
                    pointwiseConvScaleShiftActivation(fast.ptr, x.ptr, packed.ptr, scale: useAffine ? s.ptr : nil,
                                                      shift: useAffine ? t.ptr : nil, activation: kind,
                                                      pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
                    pointwiseConvNaive(slow.ptr, x.ptr, w.ptr, scale: useAffine ? s.ptr : nil, shift: useAffine ? t.ptr : nil,
                                       activation: kind, pixels: sh.p, inChannels: sh.k, outChannels: sh.o)
                    assertClose(fast, slow, atol: 1e-4, rtol: 1e-4,
                                "pointwise width \(width) rows \(rows) P \(sh.p) K \(sh.k) O \(sh.o) \(String(describing: kind))")
                }
            }
        }
    }

    /// Prefetching the next panel (on for every K here) leaves the outputs bit for bit those of the kernel
    /// without it, for full and tail tiles, narrow last panels, several threads and both tile geometries.
    func testPrefetchingNextPanelChangesNothing() {
        let saved = (PointwiseTuning.prefetchMinK, PointwiseTuning.tileRows, Threading.threads)
        defer { (PointwiseTuning.prefetchMinK, PointwiseTuning.tileRows, Threading.threads) = saved }
        let shapes: [(p: Int, k: Int, o: Int)] = [(49, 300, 80), (25, 64, 40), (130, 33, 96), (12, 16, 16), (6, 100, 48)]
        for (width, rows) in [(32, 12), (16, 6)] {
            PointwiseTuning.tileRows = rows
            for threads in [1, 3] {
                Threading.threads = threads
                for (i, sh) in shapes.enumerated() {
                    let x = randn([sh.p, sh.k], seed: UInt64(700 + i)), w = randn([sh.o, sh.k], seed: UInt64(800 + i), scale: 0.2)
                    let t = randn([sh.o], seed: 9)
                    let packed = Tensor.empty([packedPointwiseCount(outChannels: sh.o, inChannels: sh.k, width: width)])
                    packPointwiseWeights(packed.ptr, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
                    var outs: [Tensor] = []
                    for minK in [Int.max, 0] {
                        PointwiseTuning.prefetchMinK = minK
                        let y = Tensor.empty([sh.p, sh.o])
                        pointwiseConvScaleShiftActivation(y.ptr, x.ptr, packed.ptr, scale: nil, shift: t.ptr, activation: .relu6,
                                                          pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
                        outs.append(y)
                    }
                    assertClose(outs[1], outs[0], atol: 0, rtol: 0, "prefetch width \(width) threads \(threads) \(sh)")
                    let slow = Tensor.empty([sh.p, sh.o])
                    pointwiseConvNaive(slow.ptr, x.ptr, w.ptr, scale: nil, shift: t.ptr, activation: .relu6,
                                       pixels: sh.p, inChannels: sh.k, outChannels: sh.o)
                    assertClose(outs[1], slow, atol: 1e-4, rtol: 1e-4, "prefetch vs naive \(sh)")
                }
            }
        }
    }

    /// A residual added by the packed kernels (the skip connection fused into a block's projection) gives
    /// bit for bit the kernel's output plus the residual, 1×1 and im2col, panel tails and pixel tails; an
    /// input scale (a squeeze-and-excitation gate) bit for bit the kernel on the scaled input; and the model
    /// path with them equals the unfused one.
    func testFusedResidualEqualsSeparateAdd() {
        let width = PointwiseTuning.panelWidth
        for (i, sh) in [(p: 9, k: 192, o: 80), (p: 25, k: 48, o: 40), (p: 130, k: 24, o: 17), (p: 1, k: 8, o: 16)].enumerated() {
            let x = randn([sh.p, sh.k], seed: UInt64(300 + i)), w = randn([sh.o, sh.k], seed: UInt64(310 + i), scale: 0.2)
            let s = randn([sh.o], seed: 3), t = randn([sh.o], seed: 4), r = randn([sh.p, sh.o], seed: UInt64(320 + i))
            let packed = Tensor.empty([packedPointwiseCount(outChannels: sh.o, inChannels: sh.k, width: width)])
            packPointwiseWeights(packed.ptr, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
            let fused = Tensor.empty([sh.p, sh.o]), plain = Tensor.empty([sh.p, sh.o])
            pointwiseConvScaleShiftActivation(fused.ptr, x.ptr, packed.ptr, scale: s.ptr, shift: t.ptr, activation: nil, residual: r.ptr,
                                              pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
            pointwiseConvScaleShiftActivation(plain.ptr, x.ptr, packed.ptr, scale: s.ptr, shift: t.ptr, activation: nil,
                                              pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
            let expected = (plain + r).scalars
            XCTAssertEqual(fused.scalars.map(\.bitPattern), expected.map(\.bitPattern), "1×1 residual P \(sh.p) K \(sh.k) O \(sh.o)")
        }
        // An input scale per image and channel (a squeeze-and-excitation gate): equal bit for bit to scaling
        // the input first; several images, pixel blocks that straddle images, panel tails.
        for (i, sh) in [(n: 3, hw: 25, k: 40, o: 48), (n: 2, hw: 49, k: 24, o: 80), (n: 1, hw: 9, k: 192, o: 32)].enumerated() {
            let P = sh.n * sh.hw
            let x = randn([P, sh.k], seed: UInt64(360 + i)), w = randn([sh.o, sh.k], seed: UInt64(370 + i), scale: 0.2)
            let gate = randn([sh.n, sh.k], seed: UInt64(380 + i)), r = randn([P, sh.o], seed: UInt64(390 + i))
            let packed = Tensor.empty([packedPointwiseCount(outChannels: sh.o, inChannels: sh.k, width: width)])
            packPointwiseWeights(packed.ptr, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
            let scaledInput = (x.reshaped([sh.n, sh.hw, sh.k]) * gate.reshaped([sh.n, 1, sh.k])).reshaped([P, sh.k])
            let fused = Tensor.empty([P, sh.o]), plain = Tensor.empty([P, sh.o])
            pointwiseConvScaleShiftActivation(fused.ptr, x.ptr, packed.ptr, scale: nil, shift: nil, activation: .relu6,
                                              inputScale: gate.ptr, imagePixels: sh.hw, residual: r.ptr,
                                              pixels: P, inChannels: sh.k, outChannels: sh.o, width: width)
            pointwiseConvScaleShiftActivation(plain.ptr, scaledInput.ptr, packed.ptr, scale: nil, shift: nil, activation: .relu6,
                                              residual: r.ptr, pixels: P, inChannels: sh.k, outChannels: sh.o, width: width)
            XCTAssertEqual(fused.scalars.map(\.bitPattern), plain.scalars.map(\.bitPattern), "input scale N \(sh.n) HW \(sh.hw) K \(sh.k)")
        }
        // A 3×3 convolution through the im2col blocks.
        let g = Conv2DGeometry(batch: 2, inHeight: 7, inWidth: 6, inChannels: 5, outChannels: 24, kernelHeight: 3, kernelWidth: 3,
                               stride: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, groups: 1)
        let x = randn([2, 7, 6, 5], seed: 330), w = randn([24, 45], seed: 331, scale: 0.2), r = randn([2, 7, 6, 24], seed: 332)
        let packed = Tensor.empty([packedPointwiseCount(outChannels: 24, inChannels: 45, width: width)])
        packPointwiseWeights(packed.ptr, w.ptr, outChannels: 24, inChannels: 45, width: width)
        let fused = Tensor.empty([2, 7, 6, 24]), plain = Tensor.empty([2, 7, 6, 24])
        conv2dPackedScaleShiftActivation(fused.ptr, x.ptr, packed.ptr, scale: nil, shift: nil, activation: .relu6, residual: r.ptr, g, width: width)
        conv2dPackedScaleShiftActivation(plain.ptr, x.ptr, packed.ptr, scale: nil, shift: nil, activation: .relu6, g, width: width)
        XCTAssertEqual(fused.scalars.map(\.bitPattern), (plain + r).scalars.map(\.bitPattern), "im2col residual")
        // The op: frozen (kernel adds) against unfrozen (separate add op), and the shape check's message.
        let conv = Conv2d(16, 16, kernelSize: 1, bias: false), bn = BatchNorm(16)
        bn.eval()
        bn.weight.assign(randn([16], seed: 340, scale: 0.3) + 1)
        bn.bias.assign(randn([16], seed: 341, scale: 0.3))
        bn.runningMean.assign(randn([16], seed: 342, scale: 0.3))
        bn.runningVar.assign(randn([16], seed: 343, scale: 0.1) + 1.5)
        let input = randn([1, 3, 4, 16], seed: 346), skip = randn([1, 3, 4, 16], seed: 347)
        let unfused = noGrad { conv(input, batchNorm: bn, activation: .identity) + skip }
        let frozen = noGrad { withFrozenWeights { conv(input, batchNorm: bn, activation: .identity, residual: skip) } }
        let eager = noGrad { conv(input, batchNorm: bn, activation: .identity, residual: skip) }
        assertClose(frozen, unfused, atol: 1e-5, rtol: 1e-5, "frozen fused residual")
        XCTAssertEqual(eager.scalars, unfused.scalars, "unfrozen residual is the separate add")
        // With a gate as well: frozen (kernel scales) against the product then the convolution.
        let gate = randn([1, 1, 1, 16], seed: 348).sigmoid()
        let gatedUnfused = noGrad { conv(input * gate, batchNorm: bn, activation: .identity) + skip }
        let gatedFrozen = noGrad { withFrozenWeights { conv(input, batchNorm: bn, activation: .identity, inputScale: gate, residual: skip) } }
        let gatedEager = noGrad { conv(input, batchNorm: bn, activation: .identity, inputScale: gate, residual: skip) }
        assertClose(gatedFrozen, gatedUnfused, atol: 1e-5, rtol: 1e-5, "frozen fused gate")
        XCTAssertEqual(gatedEager.scalars, gatedUnfused.scalars, "unfrozen gate is the product")
    }

    /// The fused expansion → depthwise job (one panel of channels per item) gives bit for bit the two
    /// kernels run one after the other: 3×3 images (tiny kernel), small images (padded tiles), wider rows (row
    /// runs), stride 2, a 16-wide last panel, one and several threads; and the op takes it only where it applies.
    func testExpandDepthwiseMatchesSeparateKernels() {
        let width = PointwiseTuning.panelWidth, saved = Threading.threads
        defer { Threading.threads = saved }
        struct Case { var n, h, w, k, m, kernel, stride: Int }
        let cases = [Case(n: 1, h: 3, w: 3, k: 48, m: 288, kernel: 5, stride: 1), Case(n: 2, h: 5, w: 5, k: 24, m: 272, kernel: 3, stride: 1),
                     Case(n: 1, h: 9, w: 9, k: 40, m: 256, kernel: 5, stride: 2), Case(n: 1, h: 20, w: 21, k: 16, m: 256, kernel: 3, stride: 1)]
        for threads in [1, 2, 3] {
            Threading.threads = threads
            for (i, c) in cases.enumerated() {
                let pad = c.stride == 1 ? Padding2D.symmetric(c.kernel / 2) : ConvTests.same(c.h, c.w, c.kernel, c.stride)
                let g = Conv2DGeometry(batch: c.n, inHeight: c.h, inWidth: c.w, inChannels: c.m, outChannels: c.m, kernelHeight: c.kernel,
                                       kernelWidth: c.kernel, stride: c.stride, padTop: pad.top, padBottom: pad.bottom,
                                       padLeft: pad.left, padRight: pad.right, groups: c.m)
                let P = c.n * c.h * c.w
                let x = randn([P, c.k], seed: UInt64(200 + i)), w = randn([c.m, c.k], seed: UInt64(210 + i), scale: 0.2)
                let s = randn([c.m], seed: 5), t = randn([c.m], seed: 6), ds = randn([c.m], seed: 7), dt = randn([c.m], seed: 8)
                let wd = randn([c.m, c.kernel, c.kernel, 1], seed: UInt64(220 + i))
                let taps = Tensor.empty([c.kernel * c.kernel * c.m])
                depthwiseTransposeTaps(taps.ptr, wd.ptr, channels: c.m, taps: c.kernel * c.kernel)
                let packed = Tensor.empty([packedPointwiseCount(outChannels: c.m, inChannels: c.k, width: width)])
                packPointwiseWeights(packed.ptr, w.ptr, outChannels: c.m, inChannels: c.k, width: width)
                for act in [ActivationKind.relu6, .silu] {
                    let e = Tensor.empty([P, c.m]), fused = Tensor.empty([c.n, g.outHeight, g.outWidth, c.m])
                    expandDepthwiseScaleShiftActivation(fused.ptr, e.ptr, x.ptr, packed.ptr, scale: s.ptr, shift: t.ptr, activation: act,
                                                        inChannels: c.k, width: width, taps: taps.ptr, dwScale: ds.ptr, dwShift: dt.ptr,
                                                        dwActivation: act, g)
                    let e2 = Tensor.empty([P, c.m]), separate = Tensor.empty(fused.shape)
                    pointwiseConvScaleShiftActivation(e2.ptr, x.ptr, packed.ptr, scale: s.ptr, shift: t.ptr, activation: act,
                                                      pixels: P, inChannels: c.k, outChannels: c.m, width: width)
                    depthwiseConv2dDirect(separate.ptr, e2.ptr, taps: taps.ptr, scale: ds.ptr, shift: dt.ptr, activation: act, g)
                    XCTAssertEqual(fused.scalars.map(\.bitPattern), separate.scalars.map(\.bitPattern),
                                   "expand+dw threads \(threads) case \(i) \(act)")
                }
            }
        }
        // Where it applies: enough panels per thread, small images only.
        Threading.threads = 2
        let small = Conv2DGeometry(batch: 1, inHeight: 9, inWidth: 9, inChannels: 256, outChannels: 256, kernelHeight: 3, kernelWidth: 3,
                                   stride: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, groups: 256)
        XCTAssertTrue(expandDepthwiseApplies(small, width: 32, threads: 2))
        XCTAssertFalse(expandDepthwiseApplies(small, width: 32, threads: 8), "32 panels are too few for 8 threads")
        var large = small; large.inHeight = 64; large.inWidth = 64
        XCTAssertFalse(expandDepthwiseApplies(large, width: 32, threads: 2), "4,096 pixels: the unfused ops")
    }

    /// EfficientNet-B0 (SE blocks, skip connections) in a frozen scope — fused expansion+depthwise, gate and
    /// skip inside the kernels — gives the features of the unfrozen evaluation forward.
    func testFrozenEfficientNetMatchesEvalForward() throws {
        let saved = Threading.threads
        defer { Threading.threads = saved }
        Threading.threads = 2
        let eff = try EfficientNet(EfficientNetSpec.named("efficientnet_b0")!, inChannels: 3, numClasses: 0)
        eff.eval()
        let x = randn([2, 64, 64, 3], seed: 72)
        let eager = noGrad { eff.features(x) { $1 } }
        let frozen = noGrad { withFrozenWeights { eff.features(x) { $1 } } }
        XCTAssertEqual(eager.shape, frozen.shape)
        assertClose(frozen, eager, atol: 1e-3, rtol: 1e-3, "frozen B0 features")
    }

    /// The unpacked dot-product kernel of large linear layers against its naive twin, both tile shapes,
    /// with tails in every dimension (P mod 4 and 3, O mod 4 and 3, K mod 16 and 8).
    func testLinearDotMatchesNaive() {
        let shapes: [(p: Int, k: Int, o: Int)] = [(1, 512, 1), (49, 2048, 64), (5, 519, 7), (4, 16, 4), (13, 1031, 30),
                                                   (3, 8, 3), (70, 600, 9), (2, 1, 5), (1, 3, 2), (130, 520, 11)]
        let saved = LinearDotTuning.wideTiles
        defer { LinearDotTuning.wideTiles = saved }
        for wide in [true, false] {
            LinearDotTuning.wideTiles = wide
            for (i, sh) in shapes.enumerated() {
                let x = randn([sh.p, sh.k], seed: UInt64(900 + i)), w = randn([sh.o, sh.k], seed: UInt64(950 + i), scale: 0.05)
                let b = randn([sh.o], seed: 11)
                for useBias in [true, false] {
                    let fast = Tensor.empty([sh.p, sh.o]), slow = Tensor.empty([sh.p, sh.o])
                    linearDot(fast.ptr, x.ptr, w.ptr, bias: useBias ? UnsafePointer(b.ptr) : nil, rows: sh.p, inFeatures: sh.k, outFeatures: sh.o)
                    linearDotNaive(slow.ptr, x.ptr, w.ptr, bias: useBias ? UnsafePointer(b.ptr) : nil, rows: sh.p, inFeatures: sh.k, outFeatures: sh.o)
                    assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "linearDot wide \(wide) P \(sh.p) K \(sh.k) O \(sh.o) bias \(useBias)")
                }
            }
        }
    }

    /// A frozen linear layer large enough for `linearDot` equals the unfrozen GEMM and keeps no packed copy.
    func testFrozenLargeLinearTakesDotKernel() {
        XCTAssertTrue(linearDotApplies(inFeatures: 2048, outFeatures: 2048))
        XCTAssertFalse(linearDotApplies(inFeatures: 256, outFeatures: 8192))
        let x = randn([3, 7, 1024], seed: 31), w = randn([1030, 1024], seed: 32, scale: 0.03), b = randn([1030], seed: 33)
        let plain = noGrad { linear(x, weight: w, bias: b) }
        let frozen = withFrozenWeights { () -> Tensor in
            let y = noGrad { linear(x, weight: w, bias: b) }
            XCTAssertEqual(FrozenWeights.current(create: false)?.packedFloats ?? -1, 0, "no packed copy of a large linear weight")
            return y
        }
        assertClose(frozen, plain, atol: 1e-4, rtol: 1e-4, "frozen large linear")
    }

    func testPackedLayoutNarrowLastPanel() {
        // Width 32: a last panel of 16 when O mod 32 is 1…16, else full panels; width 16: always full.
        XCTAssertEqual(packedPointwiseCount(outChannels: 40, inChannels: 5, width: 32), 5 * 32 + 5 * 16)
        XCTAssertEqual(packedPointwiseCount(outChannels: 16, inChannels: 5, width: 32), 5 * 16)
        XCTAssertEqual(packedPointwiseCount(outChannels: 56, inChannels: 5, width: 32), 2 * 5 * 32)
        XCTAssertEqual(packedPointwiseCount(outChannels: 64, inChannels: 5, width: 32), 2 * 5 * 32)
        XCTAssertEqual(packedPointwiseCount(outChannels: 40, inChannels: 5, width: 16), 3 * 5 * 16)
    }

    func testPackedConvMatchesNaiveOnConvCases() {
        let savedRows = PointwiseTuning.tileRows
        defer { PointwiseTuning.tileRows = savedRows }
        for (width, rows) in [(16, 6), (32, 12), (32, 4)] {
            PointwiseTuning.tileRows = rows
            for (ci, k) in ConvTests.cases.enumerated() where k.groups == 1 {
                let g = k.geometry
                XCTAssertTrue(packedConvApplies(g), k.name)
                let x = randn([k.n, k.h, k.w, k.c], seed: UInt64(700 + ci)), w = randn([k.o, k.kh, k.kw, k.c], seed: UInt64(800 + ci))
                let s = randn([k.o], seed: 9), t = randn([k.o], seed: 10)
                let kind = FusedTests.kinds[ci % FusedTests.kinds.count]
                let packed = Tensor.empty([packedPointwiseCount(outChannels: k.o, inChannels: g.patchSize, width: width)])
                packPointwiseWeights(packed.ptr, w.ptr, outChannels: k.o, inChannels: g.patchSize, width: width)
                let fast = Tensor.empty([k.n, g.outHeight, g.outWidth, k.o]), slow = Tensor.empty(fast.shape)
                conv2dPackedScaleShiftActivation(fast.ptr, x.ptr, packed.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g, width: width)
                conv2dForwardScaleShiftActivationNaive(slow.ptr, x.ptr, w.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "packed conv width \(width) rows \(rows) \(k.name)")
            }
        }
    }

    func testFrozenWeightsPathMatchesUnfrozen() {
        let x = randn([2, 5, 5, 40], seed: 1)
        let w = randn([120, 1, 1, 40], seed: 2, scale: 0.2)
        let gamma = randn([120], seed: 3), beta = randn([120], seed: 4)
        let mean = randn([120], seed: 5, scale: 0.1), variance = randn([120], seed: 6).abs() + 0.5
        func run() -> Tensor {
            noGrad { conv2dBatchNormActivation(x, w, bnWeight: gamma, bnBias: beta, runningMean: mean, runningVar: variance,
                                               activation: .relu6) }
        }
        let plain = run()
        XCTAssertFalse(weightsAreFrozen)
        let (first, second) = withFrozenWeights { (run(), run()) }
        XCTAssertFalse(weightsAreFrozen, "the scope closes")
        assertClose(first, plain, atol: 1e-4, rtol: 1e-4, "frozen 1×1 conv + BN + ReLU6")
        XCTAssertEqual(first.scalars, second.scalars, "the cached panels give the same result")
        // A new scope packs again: weights changed between scopes are seen.
        w.ptr[0] += 1
        let changed = withFrozenWeights { run() }
        let expected = run()
        assertClose(changed, expected, atol: 1e-4, rtol: 1e-4, "frozen path after a weight change between scopes")
        XCTAssertGreaterThan(zip(changed.scalars, first.scalars).map { abs($0 - $1) }.max() ?? 0, 1e-3,
                             "the changed weight is seen by the new scope")
    }

    /// The folded batch norm cached in a frozen scope is reused only for exactly the same inputs: one
    /// running variance with another running mean, affine weights, conv bias or epsilon folds afresh.
    func testFrozenFoldedBatchNormIsKeyedByEveryInput() {
        let x = randn([1, 3, 3, 8], seed: 21)
        let w = randn([16, 1, 1, 8], seed: 22, scale: 0.3)
        let variance = randn([16], seed: 23).abs() + 0.5
        let meanA = randn([16], seed: 24, scale: 0.1), meanB = randn([16], seed: 25, scale: 0.5)
        let gamma = randn([16], seed: 26), beta = randn([16], seed: 27), bias = randn([16], seed: 28)
        let variants: [(Tensor, Tensor?, Tensor?, Tensor?, Float)] = [
            (meanA, gamma, beta, nil, 1e-5), (meanB, gamma, beta, nil, 1e-5), (meanA, nil, beta, nil, 1e-5),
            (meanA, gamma, nil, nil, 1e-5), (meanA, gamma, beta, bias, 1e-5), (meanA, gamma, beta, nil, 0.5),
        ]
        func run(_ v: (Tensor, Tensor?, Tensor?, Tensor?, Float)) -> Tensor {
            noGrad { conv2dBatchNormActivation(x, w, bias: v.3, bnWeight: v.1, bnBias: v.2, runningMean: v.0, runningVar: variance,
                                               eps: v.4, activation: nil) }
        }
        let plain = variants.map(run)
        let frozen = withFrozenWeights { variants.map(run) }
        for (i, (f, p)) in zip(frozen, plain).enumerated() {
            assertClose(f, p, atol: 1e-4, rtol: 1e-4, "variant \(i) in one frozen scope")
        }
    }

    func testFrozenLinearMatchesUnfrozen() {
        for (rows, nIn, nOut) in [(1, 512, 1536), (16, 64, 7), (49, 100, 33)] {
            let x = randn([rows, nIn], seed: 11), w = randn([nOut, nIn], seed: 12, scale: 0.1), b = randn([nOut], seed: 13)
            for bias in [b, nil] {
                let plain = noGrad { linear(x, weight: w, bias: bias) }
                let frozen = withFrozenWeights { noGrad { (linear(x, weight: w, bias: bias), linear(x, weight: w, bias: bias)) } }
                assertClose(frozen.0, plain, atol: 1e-4, rtol: 1e-4, "frozen linear \(rows)×\(nIn)→\(nOut) bias \(bias != nil)")
                XCTAssertEqual(frozen.0.scalars, frozen.1.scalars)
            }
        }
        // With a gradient wanted the frozen scope changes nothing: the recorded GEMM path runs.
        let x = randn([3, 8], seed: 14), w = randn([5, 8], seed: 15)
        w.requiresGrad = true
        let y = withFrozenWeights { linear(x, weight: w, bias: nil) }
        y.sum().backward()
        XCTAssertNotNil(w.grad)
    }

    func testUnpackInvertsPack() {
        for width in [16, 32] {
            for (o, k) in [(40, 5), (16, 3), (56, 7), (1, 9), (97, 33)] {
                let w = randn([o, k], seed: UInt64(40 + o))
                let packed = Tensor.empty([packedPointwiseCount(outChannels: o, inChannels: k, width: width)])
                packPointwiseWeights(packed.ptr, w.ptr, outChannels: o, inChannels: k, width: width)
                let back = Tensor(zeros: [o, k])
                unpackPointwiseWeights(back.ptr, packed.ptr, outChannels: o, inChannels: k, width: width)
                XCTAssertEqual(back.scalars, w.scalars, "unpack(pack(W)) width \(width) \(o)×\(k)")
            }
        }
    }

    /// A releasing scope keeps only the packed copy of each packed weight resident: same results as an
    /// ordinary scope, the weights' pages released inside it (they read as zeros there) and every weight
    /// back, bit for bit, once it ends. Small weights and views stay resident.
    func testReleasingScopeGivesWeightsBackAndRestoresThem() {
        let x = randn([2, 5, 5, 160], seed: 51)
        let w = randn([192, 1, 1, 160], seed: 52, scale: 0.1)          // 30,720 floats: released
        let small = randn([24, 1, 1, 160], seed: 53, scale: 0.1)       // 3,840 floats: kept
        let gamma = randn([192], seed: 54), beta = randn([192], seed: 55)
        let mean = randn([192], seed: 56, scale: 0.1), variance = randn([192], seed: 57).abs() + 0.5
        let lx = randn([7, 200], seed: 58), lw = randn([300, 200], seed: 59, scale: 0.05), lb = randn([300], seed: 60)
        let whole = randn([2, 150, 200], seed: 61, scale: 0.05)  // 60,000 floats, viewed from its second half
        let view = Tensor(shape: [150, 200], storage: whole.storage, offset: 150 * 200) // a view into a shared storage: kept
        let before = (w.scalars, small.scalars, lw.scalars, whole.scalars)
        func run() -> [Tensor] {
            noGrad {
                [conv2dBatchNormActivation(x, w, bnWeight: gamma, bnBias: beta, runningMean: mean, runningVar: variance, activation: .relu6),
                 conv2dBatchNormActivation(x, small, bnWeight: nil, bnBias: nil, runningMean: Tensor(zeros: [24]),
                                           runningVar: Tensor(repeating: 1, shape: [24]), activation: nil),
                 linear(lx, weight: lw, bias: lb),
                 linear(lx, weight: view, bias: nil)]
            }
        }
        let plain = withFrozenWeights { run() }
        let (first, second, released, zeroed) = withFrozenWeights(releasingWeights: true) { () -> ([Tensor], [Tensor], Int, Bool) in
            let a = run(), b = run()
            // Inside the scope the released pages read as zero; the outputs came from the packed copies.
            let interior = (w.count * 4 / PageMemory.pageSize - 2) * PageMemory.pageSize / 4
            return (a, b, FrozenWeights.releasedFloats, w.scalars.filter { $0 == 0 }.count >= interior)
        }
        XCTAssertEqual(released, w.count + lw.count, "the two large weights are released, the small one and the view are not")
        XCTAssertTrue(zeroed, "the conv weight's pages were given back inside the scope")
        for (i, (a, p)) in zip(first, plain).enumerated() { XCTAssertEqual(a.scalars, p.scalars, "output \(i) same as an ordinary scope") }
        for (a, b) in zip(first, second) { XCTAssertEqual(a.scalars, b.scalars, "second forward in the scope") }
        XCTAssertEqual(w.scalars, before.0, "conv weight restored exactly")
        XCTAssertEqual(small.scalars, before.1)
        XCTAssertEqual(lw.scalars, before.2, "linear weight restored exactly")
        XCTAssertEqual(whole.scalars, before.3)
        XCTAssertEqual(FrozenWeights.releasedFloats, 0)
        // A nested scope does not release on its own; the outermost scope decides.
        let nested = withFrozenWeights { withFrozenWeights(releasingWeights: true) { () -> Int in _ = run(); return FrozenWeights.releasedFloats } }
        XCTAssertEqual(nested, 0)
    }

    /// A whole network under a releasing scope: the same logits as an ordinary scope, and every parameter
    /// and buffer unchanged afterwards.
    func testReleasingScopeOnEfficientNet() throws {
        let eff = try EfficientNet(EfficientNetSpec.named("efficientnet_b0")!, inChannels: 1, numClasses: 0)
        eff.eval()
        let x = randn([2, 48, 48, 1], seed: 71)
        let state = eff.stateDict().map { ($0.0, $0.1.scalars) }
        let plain = noGrad { withFrozenWeights { eff.features(x) { $1 } } }
        let (released, y) = noGrad { withFrozenWeights(releasingWeights: true) { () -> (Int, Tensor) in
            let y = eff.features(x) { $1 }
            return (FrozenWeights.releasedFloats, y)
        } }
        XCTAssertGreaterThan(released, 2_000_000, "B0's large 1×1 weights are released")
        XCTAssertEqual(y.scalars, plain.scalars)
        for ((name, values), (_, t)) in zip(state, eff.stateDict()) { XCTAssertEqual(t.scalars, values, name) }
    }

    /// In a releasing scope a large linear weight takes the packed kernel (its copy replaces it) on every
    /// forward, never the dot kernel on its released pages.
    func testReleasingScopeLargeLinearUsesItsPackedCopy() {
        let x = randn([3, 1024], seed: 81), w = randn([1030, 1024], seed: 82, scale: 0.03), b = randn([1030], seed: 83)
        XCTAssertTrue(linearDotApplies(inFeatures: 1024, outFeatures: 1030))
        let before = w.scalars
        let plain = noGrad { linear(x, weight: w, bias: b) }
        let (first, second, released) = withFrozenWeights(releasingWeights: true) { () -> (Tensor, Tensor, Int) in
            noGrad { (linear(x, weight: w, bias: b), linear(x, weight: w, bias: b), FrozenWeights.releasedFloats) }
        }
        XCTAssertEqual(released, w.count)
        assertClose(first, plain, atol: 1e-4, rtol: 1e-4, "first forward")
        XCTAssertEqual(second.scalars, first.scalars, "second forward reads the packed copy, not the released pages")
        XCTAssertEqual(w.scalars, before)
    }
}
