import XCTest
@testable import ADNN
import ADNNKernels

/// Half-precision weight panels: for weights that are exactly half-precision values they must give the
/// Float panels' results bit for bit — in every kernel that reads panels (1×1, im2col, expansion + depthwise,
/// linear), with prefetching, tails, narrow last panels and several threads — and frozen scopes must pick
/// them only for such weights and restore released weights exactly.
final class HalfPanelTests: XCTestCase {
    /// `t` with every value rounded to the nearest half-precision value.
    func roundedToHalf(_ t: Tensor) -> Tensor {
        Tensor(t.scalars.map { Float(Float16($0)) }, shape: t.shape)
    }

    func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

    func testIsExactlyHalf() {
        func exact(_ v: [Float]) -> Bool { v.withUnsafeBufferPointer { isExactlyHalf($0.baseAddress!, count: $0.count) } }
        XCTAssertTrue(exact([0, -0.0, 0.5, -2, 65504, 1.0 / 1024, Float(Float16(0.1))]))
        XCTAssertTrue(exact([Float(Float16.leastNonzeroMagnitude), -Float(Float16.leastNormalMagnitude)]), "half subnormals")
        XCTAssertFalse(exact([0.5, 0.1]), "0.1 is not a half value")
        XCTAssertFalse(exact([65520]), "overflows to infinity in half")
        XCTAssertFalse(exact([.infinity]))
        XCTAssertFalse(exact([.nan]))
        XCTAssertFalse(exact([1e-8]), "below the smallest half subnormal")
        XCTAssertTrue(exact([]))
    }

    func testPackUnpackHalf() {
        for width in [16, 32] {
            for (o, k) in [(1, 1), (40, 24), (100, 7), (33, 16)] {
                let w = roundedToHalf(randn([o, k], seed: UInt64(o * 31 + k), scale: 0.3))
                let count = packedPointwiseCount(outChannels: o, inChannels: k, width: width)
                let half = UnsafeMutablePointer<Float16>.allocate(capacity: count)
                defer { half.deallocate() }
                packPointwiseWeights(half, w.ptr, outChannels: o, inChannels: k, width: width)
                let back = Tensor(zeros: [o, k])
                unpackPointwiseWeights(back.ptr, UnsafePointer(half), outChannels: o, inChannels: k, width: width)
                XCTAssertEqual(bits(back), bits(w), "width \(width) O \(o) K \(k)")
            }
        }
    }

    /// The 1×1 kernel on half panels against Float panels: all tile heights, both widths, affine, residual,
    /// input gate, prefetch on, 1 and 3 threads.
    func testPointwiseHalfPanelsMatchFloatPanelsBitForBit() {
        let saved = (PointwiseTuning.tileRows, PointwiseTuning.prefetchMinK, Threading.threads)
        defer { PointwiseTuning.tileRows = saved.0; PointwiseTuning.prefetchMinK = saved.1; Threading.threads = saved.2 }
        let shapes: [(p: Int, k: Int, o: Int)] = [(1, 1, 1), (9, 192, 120), (13, 37, 40), (25, 24, 96), (130, 16, 24), (12, 64, 33), (7, 300, 17)]
        for (width, rows) in [(16, 6), (32, 12), (32, 8), (16, 4)] {
            PointwiseTuning.tileRows = rows
            for threads in [1, 3] {
                Threading.threads = threads
                for prefetch in [0, Int.max] {
                    PointwiseTuning.prefetchMinK = prefetch
                    for (i, sh) in shapes.enumerated() {
                        let x = randn([sh.p, sh.k], seed: UInt64(900 + i)), w = roundedToHalf(randn([sh.o, sh.k], seed: UInt64(950 + i), scale: 0.2))
                        let s = randn([sh.o], seed: 1), t = randn([sh.o], seed: 2), res = randn([sh.p, sh.o], seed: 3)
                        let gate = randn([1, sh.k], seed: 4)
                        let count = packedPointwiseCount(outChannels: sh.o, inChannels: sh.k, width: width)
                        let pf = Tensor.empty([count])
                        let ph = UnsafeMutablePointer<Float16>.allocate(capacity: count)
                        defer { ph.deallocate() }
                        packPointwiseWeights(pf.ptr, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
                        packPointwiseWeights(ph, w.ptr, outChannels: sh.o, inChannels: sh.k, width: width)
                        for (j, act) in [ActivationKind.relu6, .silu, nil].enumerated() {
                            let useExtras = (i + j) % 2 == 0
                            let a = Tensor.empty([sh.p, sh.o]), b = Tensor.empty([sh.p, sh.o])
                            pointwiseConvScaleShiftActivation(a.ptr, x.ptr, pf.ptr, scale: s.ptr, shift: t.ptr, activation: act,
                                                              inputScale: useExtras ? gate.ptr : nil, imagePixels: sh.p,
                                                              residual: useExtras ? res.ptr : nil,
                                                              pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
                            pointwiseConvScaleShiftActivation(b.ptr, x.ptr, UnsafePointer(ph), scale: s.ptr, shift: t.ptr, activation: act,
                                                              inputScale: useExtras ? gate.ptr : nil, imagePixels: sh.p,
                                                              residual: useExtras ? res.ptr : nil,
                                                              pixels: sh.p, inChannels: sh.k, outChannels: sh.o, width: width)
                            XCTAssertEqual(bits(b), bits(a), "width \(width) rows \(rows) threads \(threads) prefetch \(prefetch) "
                                           + "P \(sh.p) K \(sh.k) O \(sh.o) \(String(describing: act))")
                        }
                    }
                }
            }
        }
    }

    /// The im2col path (a 3×3 stride-2 stem) and the fused expansion + depthwise job on half panels.
    func testIm2colAndExpandDepthwiseHalfPanelsMatchFloatPanels() {
        let width = PointwiseTuning.panelWidth, saved = Threading.threads
        defer { Threading.threads = saved }
        Threading.threads = 2
        // Stem.
        let g = Conv2DGeometry(batch: 2, inHeight: 15, inWidth: 13, inChannels: 3, outChannels: 40, kernelHeight: 3, kernelWidth: 3,
                               stride: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, groups: 1)
        let x = randn([2, 15, 13, 3], seed: 11), w = roundedToHalf(randn([40, 3, 3, 3], seed: 12, scale: 0.3))
        let s = randn([40], seed: 13), t = randn([40], seed: 14)
        let count = packedPointwiseCount(outChannels: 40, inChannels: 27, width: width)
        let pf = Tensor.empty([count])
        let ph = UnsafeMutablePointer<Float16>.allocate(capacity: count)
        defer { ph.deallocate() }
        packPointwiseWeights(pf.ptr, w.ptr, outChannels: 40, inChannels: 27, width: width)
        packPointwiseWeights(ph, w.ptr, outChannels: 40, inChannels: 27, width: width)
        let a = Tensor.empty([2, g.outHeight, g.outWidth, 40]), b = Tensor.empty(a.shape)
        conv2dPackedScaleShiftActivation(a.ptr, x.ptr, pf.ptr, scale: s.ptr, shift: t.ptr, activation: .silu, g, width: width)
        conv2dPackedScaleShiftActivation(b.ptr, x.ptr, UnsafePointer(ph), scale: s.ptr, shift: t.ptr, activation: .silu, g, width: width)
        XCTAssertEqual(bits(b), bits(a), "stem")
        // Expansion 48 → 288 on a 3×3 image, then a 5×5 depthwise.
        let (k, m) = (48, 288)
        let dg = Conv2DGeometry(batch: 1, inHeight: 3, inWidth: 3, inChannels: m, outChannels: m, kernelHeight: 5, kernelWidth: 5,
                                stride: 1, padTop: 2, padBottom: 2, padLeft: 2, padRight: 2, groups: m)
        let xe = randn([9, k], seed: 21), we = roundedToHalf(randn([m, k], seed: 22, scale: 0.2))
        let es = randn([m], seed: 23), et = randn([m], seed: 24), ds = randn([m], seed: 25), dt = randn([m], seed: 26)
        let wd = randn([m, 5, 5, 1], seed: 27)
        let taps = Tensor.empty([25 * m])
        depthwiseTransposeTaps(taps.ptr, wd.ptr, channels: m, taps: 25)
        let ecount = packedPointwiseCount(outChannels: m, inChannels: k, width: width)
        let ef = Tensor.empty([ecount])
        let eh = UnsafeMutablePointer<Float16>.allocate(capacity: ecount)
        defer { eh.deallocate() }
        packPointwiseWeights(ef.ptr, we.ptr, outChannels: m, inChannels: k, width: width)
        packPointwiseWeights(eh, we.ptr, outChannels: m, inChannels: k, width: width)
        let za = Tensor.empty([1, 3, 3, m]), zb = Tensor.empty(za.shape), e1 = Tensor.empty([9, m]), e2 = Tensor.empty([9, m])
        expandDepthwiseScaleShiftActivation(za.ptr, e1.ptr, xe.ptr, ef.ptr, scale: es.ptr, shift: et.ptr, activation: .relu6,
                                            inChannels: k, width: width, taps: taps.ptr, dwScale: ds.ptr, dwShift: dt.ptr,
                                            dwActivation: .relu6, dg)
        expandDepthwiseScaleShiftActivation(zb.ptr, e2.ptr, xe.ptr, UnsafePointer(eh), scale: es.ptr, shift: et.ptr, activation: .relu6,
                                            inChannels: k, width: width, taps: taps.ptr, dwScale: ds.ptr, dwShift: dt.ptr,
                                            dwActivation: .relu6, dg)
        XCTAssertEqual(bits(zb), bits(za), "expansion + depthwise")
    }

    /// A whole network whose weights are half values (as `adnn export --half` stores them): a releasing frozen
    /// scope packs its 1×1 and linear weights as halves, gives the logits of Float panels bit for bit, and
    /// restores every parameter exactly; weights that are not half values keep Float panels.
    func testFrozenEfficientNetWithHalfWeights() throws {
        let saved = (FrozenWeights.halfPanels, Threading.threads)
        defer { FrozenWeights.halfPanels = saved.0; Threading.threads = saved.1 }
        Threading.threads = 2
        let eff = try EfficientNet(EfficientNetSpec.named("efficientnet_b0")!, inChannels: 1, numClasses: 0)
        eff.eval()
        XCTAssertEqual(eff.roundToHalfPrecision(), (eff.namedParameters() + eff.namedBuffers()).count, "every tensor fits half precision")
        let head = roundedToHalf(randn([7, 1280], seed: 31, scale: 0.05)), bias = randn([7], seed: 32)
        let x = randn([1, 64, 64, 1], seed: 33)
        let state = eff.stateDict().map { ($0.0, $0.1.scalars) }
        func run(releasing: Bool) -> (logits: Tensor, halfCopies: Int, floatCopies: Int) {
            noGrad {
                withFrozenWeights(releasingWeights: releasing) { () -> (Tensor, Int, Int) in
                    let f = eff.features(x) { $1 }
                    let pooled = f.mean(axes: [1, 2])
                    let y = linear(pooled, weight: head, bias: bias)
                    let packs = FrozenWeights.current(create: false)!.packs.values
                    return (y, packs.filter(\.half).count, packs.filter { !$0.half }.count)
                }
            }
        }
        FrozenWeights.halfPanels = false
        let reference = run(releasing: false)
        XCTAssertEqual(reference.halfCopies, 0)
        FrozenWeights.halfPanels = true
        for releasing in [false, true] {
            let r = run(releasing: releasing)
            XCTAssertGreaterThan(r.halfCopies, 20, "B0's 1×1 and the head's weights are packed as halves")
            XCTAssertEqual(bits(r.logits), bits(reference.logits), "releasing \(releasing)")
        }
        for ((name, values), (_, t)) in zip(state, eff.stateDict()) { XCTAssertEqual(t.scalars, values, name) }
        // Weights that are not all half values stay Float.
        let w = randn([64, 32], seed: 41, scale: 0.1), xi = randn([5, 32], seed: 42)
        let copies = noGrad { withFrozenWeights { () -> [Bool] in
            _ = linear(xi, weight: w, bias: nil)
            return FrozenWeights.current(create: false)!.packs.values.map(\.half)
        } }
        XCTAssertEqual(copies, [false])
    }
}
