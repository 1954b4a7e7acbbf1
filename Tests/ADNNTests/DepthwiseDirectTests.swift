import XCTest
@testable import ADNN
@testable import ADNNKernels

/// The register-blocked depthwise kernel (`depthwiseConv2dDirect`) against the naive twins, on the
/// geometries it takes: 3×3/5×5, stride 1/2, symmetric and TF-"same" (asymmetric) padding, rows wide enough
/// for several 8- and 4-pixel runs plus border pixels and run tails, and the 3×3/5×5 images of the last
/// stages where every pixel is a border pixel; with every activation and with scale/shift absent.
final class DepthwiseDirectTests: XCTestCase {
    struct Shape { var n, h, w, c, k, s: Int; var pad: Padding2D }

    static let shapes: [Shape] = [
        Shape(n: 2, h: 21, w: 29, c: 32, k: 3, s: 1, pad: .symmetric(1)),
        Shape(n: 1, h: 18, w: 36, c: 16, k: 3, s: 2, pad: ConvTests.same(18, 36, 3, 2)),
        Shape(n: 2, h: 13, w: 27, c: 48, k: 5, s: 1, pad: .symmetric(2)),
        Shape(n: 1, h: 19, w: 23, c: 16, k: 5, s: 2, pad: ConvTests.same(19, 23, 5, 2)),
        Shape(n: 1, h: 20, w: 20, c: 32, k: 3, s: 2, pad: .symmetric(1)),
        Shape(n: 3, h: 3, w: 3, c: 64, k: 5, s: 1, pad: .symmetric(2)),
        Shape(n: 2, h: 5, w: 5, c: 16, k: 5, s: 1, pad: .symmetric(2)),
        Shape(n: 1, h: 3, w: 3, c: 32, k: 3, s: 1, pad: .symmetric(1)),
        Shape(n: 1, h: 9, w: 9, c: 16, k: 5, s: 2, pad: ConvTests.same(9, 9, 5, 2)),
        Shape(n: 1, h: 4, w: 17, c: 16, k: 3, s: 1, pad: .symmetric(0)),
        // Small images that take the padded-tile path (`depthwiseSmallApplies`).
        Shape(n: 1, h: 9, w: 9, c: 48, k: 5, s: 1, pad: .symmetric(2)),
        Shape(n: 2, h: 5, w: 5, c: 32, k: 3, s: 1, pad: .symmetric(1)),
        Shape(n: 1, h: 16, w: 16, c: 16, k: 3, s: 2, pad: ConvTests.same(16, 16, 3, 2)),
        Shape(n: 1, h: 11, w: 14, c: 32, k: 5, s: 2, pad: ConvTests.same(11, 14, 5, 2)),
        Shape(n: 3, h: 6, w: 7, c: 16, k: 3, s: 1, pad: Padding2D(top: 0, bottom: 1, left: 1, right: 0)),
    ]

    func geometry(_ sh: Shape) -> Conv2DGeometry {
        Conv2DGeometry(batch: sh.n, inHeight: sh.h, inWidth: sh.w, inChannels: sh.c, outChannels: sh.c,
                       kernelHeight: sh.k, kernelWidth: sh.k, stride: sh.s, padTop: sh.pad.top, padBottom: sh.pad.bottom,
                       padLeft: sh.pad.left, padRight: sh.pad.right, groups: sh.c)
    }

    func testDirectMatchesNaiveWithEpilogue() {
        for (i, sh) in Self.shapes.enumerated() {
            let g = geometry(sh)
            XCTAssertTrue(depthwiseDirectApplies(g), "shape \(i) should take the direct kernel")
            let x = randn([sh.n, sh.h, sh.w, sh.c], seed: UInt64(900 + i)), w = randn([sh.c, sh.k, sh.k, 1], seed: UInt64(950 + i))
            let s = randn([sh.c], seed: 11), t = randn([sh.c], seed: 12)
            let taps = Tensor.empty([sh.k * sh.k * sh.c])
            depthwiseTransposeTaps(taps.ptr, w.ptr, channels: sh.c, taps: sh.k * sh.k)
            for (j, kind) in FusedTests.kinds.enumerated() where (i + j) % 2 == 0 || kind == .relu6 || kind == nil {
                let affine = (i + j) % 3 != 0
                let fast = Tensor.empty([sh.n, g.outHeight, g.outWidth, sh.c]), slow = Tensor.empty(fast.shape)
                depthwiseConv2dDirect(fast.ptr, x.ptr, taps: taps.ptr, scale: affine ? s.ptr : nil, shift: affine ? t.ptr : nil,
                                      activation: kind, g)
                if affine {
                    conv2dForwardScaleShiftActivationNaive(slow.ptr, x.ptr, w.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                } else {
                    depthwiseConv2dForwardNaive(slow.ptr, x.ptr, w.ptr, nil, g)
                    scaleShiftActivationNaive(slow.ptr, slow.ptr, scale: nil, shift: nil, activation: kind,
                                              rows: sh.n * g.outHeight * g.outWidth, channels: sh.c)
                }
                assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "direct depthwise shape \(i) \(String(describing: kind)) affine \(affine)")
            }
        }
    }

    /// The public entry points route these shapes to the direct kernel (the fused inference op, and the
    /// training forward with a bias in its bit-exact mode) and still match their twins.
    func testEntryPointsMatchNaive() {
        for (i, sh) in Self.shapes.enumerated() {
            let g = geometry(sh)
            let x = randn([sh.n, sh.h, sh.w, sh.c], seed: UInt64(700 + i)), w = randn([sh.c, sh.k, sh.k, 1], seed: UInt64(750 + i))
            let b = randn([sh.c], seed: 13), s = randn([sh.c], seed: 14)
            let fast = Tensor.empty([sh.n, g.outHeight, g.outWidth, sh.c]), slow = Tensor.empty(fast.shape)
            depthwiseConv2dForward(fast.ptr, x.ptr, w.ptr, b.ptr, g)
            depthwiseConv2dForwardNaive(slow.ptr, x.ptr, w.ptr, b.ptr, g)
            assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "depthwiseConv2dForward shape \(i)")
            conv2dForwardScaleShiftActivation(fast.ptr, x.ptr, w.ptr, scale: s.ptr, shift: b.ptr, activation: .silu, g)
            conv2dForwardScaleShiftActivationNaive(slow.ptr, x.ptr, w.ptr, scale: s.ptr, shift: b.ptr, activation: .silu, g)
            assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "conv2dForwardScaleShiftActivation shape \(i)")
        }
    }

    /// `bitExact` rounds exactly as the pixel-at-a-time kernel (bias first, one multiply and one add per
    /// tap in kernel order): every output equal bit for bit, with and without a bias.
    func testBitExactMatchesPixelKernelBitForBit() {
        for (i, sh) in Self.shapes.enumerated() {
            let g = geometry(sh)
            let x = randn([sh.n, sh.h, sh.w, sh.c], seed: UInt64(500 + i)), w = randn([sh.c, sh.k, sh.k, 1], seed: UInt64(550 + i))
            let b = randn([sh.c], seed: 17)
            let taps = Tensor.empty([sh.k * sh.k * sh.c])
            depthwiseTransposeTaps(taps.ptr, w.ptr, channels: sh.c, taps: sh.k * sh.k)
            for bias in [b.ptr, nil] as [UnsafeMutablePointer<Float>?] {
                let direct = Tensor.empty([sh.n, g.outHeight, g.outWidth, sh.c]), pixel = Tensor.empty(direct.shape)
                depthwiseConv2dDirect(direct.ptr, x.ptr, taps: taps.ptr, scale: nil, shift: bias, activation: nil, g, bitExact: true)
                depthwiseConv2dForwardRows(pixel.ptr, x.ptr, w.ptr, bias, g) { _, _ in }
                let a = direct.scalars, e = pixel.scalars
                let mismatches = zip(a, e).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(mismatches, 0, "shape \(i) bias \(bias != nil): \(mismatches) of \(a.count) outputs differ in their bits")
                XCTAssertGreaterThan(a.map(abs).max() ?? 0, 0, "shape \(i): outputs are not all zero")
            }
        }
    }

    /// With more threads than output rows the rows' channels are split into blocks; same result.
    func testChannelBlocksMatchNaive() {
        let saved = Threading.threads
        defer { Threading.threads = saved }
        for threads in [3, 8] {
            Threading.threads = threads
            for (i, sh) in Self.shapes.enumerated() where sh.h <= 9 {
                let g = geometry(sh)
                let x = randn([sh.n, sh.h, sh.w, sh.c], seed: UInt64(600 + i)), w = randn([sh.c, sh.k, sh.k, 1], seed: UInt64(650 + i))
                let s = randn([sh.c], seed: 15), t = randn([sh.c], seed: 16)
                let taps = Tensor.empty([sh.k * sh.k * sh.c])
                depthwiseTransposeTaps(taps.ptr, w.ptr, channels: sh.c, taps: sh.k * sh.k)
                for kind in [ActivationKind.relu6, .silu] {
                    let fast = Tensor.empty([sh.n, g.outHeight, g.outWidth, sh.c]), slow = Tensor.empty(fast.shape)
                    depthwiseConv2dDirect(fast.ptr, x.ptr, taps: taps.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                    conv2dForwardScaleShiftActivationNaive(slow.ptr, x.ptr, w.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                    assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "direct depthwise threads \(threads) shape \(i) \(kind)")
                }
            }
        }
    }

    /// The padded-tile path for small images (`depthwiseConv2dSmall`) is taken where it pays, and agrees with
    /// the run kernel on the same inputs (that path forced by `DepthwiseTuning.smallMaxWidth = 0`), one and
    /// several threads, bands of rows included.
    func testSmallImagePathMatchesRunKernel() {
        let savedWidth = DepthwiseTuning.smallMaxWidth, savedThreads = Threading.threads
        defer { DepthwiseTuning.smallMaxWidth = savedWidth; Threading.threads = savedThreads }
        DepthwiseTuning.smallMaxWidth = 16
        let small = Self.shapes.filter { depthwiseSmallApplies(geometry($0)) }
        XCTAssertGreaterThanOrEqual(small.count, 6, "the small-image path should take the 5×5/9×9/16×16 shapes")
        XCTAssertFalse(depthwiseSmallApplies(geometry(Shape(n: 1, h: 3, w: 3, c: 64, k: 5, s: 1, pad: .symmetric(2)))),
                       "a 5×5 kernel on a 3×3 image pays mostly for padding: run kernel")
        XCTAssertFalse(depthwiseSmallApplies(geometry(Self.shapes[0])), "29-wide rows keep the run kernel")
        // 3×3 images (stride 1, padding k/2) take the unrolled tiny kernel; the shapes above hold two, which
        // testDirectMatchesNaiveWithEpilogue and testChannelBlocksMatchNaive compare with the naive twins.
        XCTAssertEqual(Self.shapes.filter { depthwiseTinyApplies(geometry($0)) }.count, 2)
        XCTAssertFalse(depthwiseTinyApplies(geometry(Shape(n: 1, h: 3, w: 3, c: 16, k: 3, s: 1, pad: .symmetric(0)))))
        for threads in [1, 2, 5] {
            Threading.threads = threads
            for (i, sh) in small.enumerated() {
                let g = geometry(sh)
                let x = randn([sh.n, sh.h, sh.w, sh.c], seed: UInt64(400 + i)), w = randn([sh.c, sh.k, sh.k, 1], seed: UInt64(450 + i))
                let s = randn([sh.c], seed: 18), t = randn([sh.c], seed: 19)
                let taps = Tensor.empty([sh.k * sh.k * sh.c])
                depthwiseTransposeTaps(taps.ptr, w.ptr, channels: sh.c, taps: sh.k * sh.k)
                for kind in [ActivationKind.relu6, .silu, nil] {
                    let tiled = Tensor.empty([sh.n, g.outHeight, g.outWidth, sh.c]), runs = Tensor.empty(tiled.shape)
                    DepthwiseTuning.smallMaxWidth = 16
                    depthwiseConv2dDirect(tiled.ptr, x.ptr, taps: taps.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                    DepthwiseTuning.smallMaxWidth = 0
                    depthwiseConv2dDirect(runs.ptr, x.ptr, taps: taps.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                    assertClose(tiled, runs, atol: 1e-4, rtol: 1e-4, "small path threads \(threads) shape \(sh) \(String(describing: kind))")
                }
                DepthwiseTuning.smallMaxWidth = 16
            }
        }
    }

    func testAppliesOnlyToItsGeometries() {
        let base = geometry(Self.shapes[0])
        var g = base; g.dilation = 2
        XCTAssertFalse(depthwiseDirectApplies(g))
        g = base; g.inChannels = 20; g.outChannels = 20; g.groups = 20
        XCTAssertFalse(depthwiseDirectApplies(g))
        g = base; g.kernelWidth = 5
        XCTAssertFalse(depthwiseDirectApplies(g))
        g = base; g.stride = 3
        XCTAssertFalse(depthwiseDirectApplies(g))
        g = base; g.groups = 1
        XCTAssertFalse(depthwiseDirectApplies(g))
    }
}
