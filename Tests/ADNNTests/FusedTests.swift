import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

/// Fused kernels and ops (batch norm + activation, conv + batch norm + activation), the worker pool and
/// the split GEMM, each against its naive twin or the unfused composition.
final class FusedTests: XCTestCase {
    static let kinds: [ActivationKind?] = [nil, .relu, .relu6, .leakyRelu(0.1), .silu, .sigmoid, .gelu, .tanh]

    func testScaleShiftActivationMatchesNaive() {
        for (i, kind) in Self.kinds.enumerated() {
            for c in [5, 16, 37] {
                let rows = 23
                let x = randn([rows, c], seed: UInt64(10 + i), scale: 3), s = randn([c], seed: 99), t = randn([c], seed: 98)
                let fast = Tensor.empty(x.shape), slow = Tensor.empty(x.shape)
                scaleShiftActivation(fast.ptr, x.ptr, scale: s.ptr, shift: t.ptr, activation: kind, rows: rows, channels: c)
                scaleShiftActivationNaive(slow.ptr, x.ptr, scale: s.ptr, shift: t.ptr, activation: kind, rows: rows, channels: c)
                assertClose(fast, slow, atol: 1e-5, rtol: 1e-4, "scaleShiftActivation \(String(describing: kind)) C \(c)")
                // In place, no scale/shift.
                let inPlace = x.copy()
                scaleShiftActivation(inPlace.ptr, inPlace.ptr, scale: nil, shift: nil, activation: kind, rows: rows, channels: c)
                scaleShiftActivationNaive(slow.ptr, x.ptr, scale: nil, shift: nil, activation: kind, rows: rows, channels: c)
                assertClose(inPlace, slow, atol: 1e-5, rtol: 1e-4, "scaleShiftActivation in place \(String(describing: kind))")
            }
        }
    }

    func testBatchNormActivationBackwardMatchesNaive() {
        for (i, kind) in Self.kinds.enumerated() {
            for c in [3, 16, 33] {
                let rows = 150
                let x = randn([rows, c], seed: UInt64(40 + i), scale: 2), g = randn([rows, c], seed: 77)
                let s = randn([c], seed: 1), t = randn([c], seed: 2), m = randn([c], seed: 3), inv = randn([c], seed: 4).abs() + 0.2
                let w = randn([c], seed: 5)
                let a1 = Tensor.empty([c]), b1 = Tensor.empty([c]), a2 = Tensor.empty([c]), b2 = Tensor.empty([c])
                batchNormActivationBackwardReduce(a1.ptr, b1.ptr, g.ptr, x.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                  invstd: inv.ptr, activation: kind, rows: rows, channels: c)
                batchNormActivationBackwardReduceNaive(a2.ptr, b2.ptr, g.ptr, x.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                       invstd: inv.ptr, activation: kind, rows: rows, channels: c)
                let name = "bnAct backward \(String(describing: kind)) C \(c)"
                assertClose(a1, a2, atol: 1e-3, rtol: 1e-4, name + " sumG")
                assertClose(b1, b2, atol: 1e-3, rtol: 1e-4, name + " sumGXhat")
                // The input gradient with the batch's statistics and with running ones (nil sums), with and
                // without a weight, and in place over g.
                for batchStats in [true, false] {
                    for weight in [w, nil] {
                        let fast = Tensor.empty(x.shape), slow = Tensor.empty(x.shape)
                        let sg = batchStats ? a1.ptr : nil, sx = batchStats ? b1.ptr : nil
                        batchNormActivationBackwardInput(fast.ptr, g.ptr, x.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr, invstd: inv.ptr,
                                                         weight: weight?.ptr, sumG: sg, sumGXhat: sx, activation: kind,
                                                         rows: rows, channels: c)
                        batchNormActivationBackwardInputNaive(slow.ptr, g.ptr, x.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                              invstd: inv.ptr, weight: weight?.ptr, sumG: sg, sumGXhat: sx,
                                                              activation: kind, rows: rows, channels: c)
                        let tag = name + " dx batch stats \(batchStats) weight \(weight != nil)"
                        assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, tag)
                        let inPlace = g.copy()
                        batchNormActivationBackwardInput(inPlace.ptr, inPlace.ptr, x.ptr, scale: s.ptr, shift: t.ptr, mean: m.ptr,
                                                         invstd: inv.ptr, weight: weight?.ptr, sumG: sg, sumGXhat: sx,
                                                         activation: kind, rows: rows, channels: c)
                        XCTAssertEqual(inPlace.scalars.map(\.bitPattern), fast.scalars.map(\.bitPattern), tag + " in place")
                    }
                }
            }
        }
    }

    func testConvScaleShiftActivationMatchesNaive() {
        let saved = FusedConvTuning.blockFloats
        defer { FusedConvTuning.blockFloats = saved }
        for block in [saved, 64] {
            FusedConvTuning.blockFloats = block
            for (ci, k) in ConvTests.cases.enumerated() {
                let g = k.geometry
                let x = randn([k.n, k.h, k.w, k.c], seed: UInt64(200 + ci))
                let w = randn([k.o, k.kh, k.kw, k.c / k.groups], seed: UInt64(300 + ci))
                let s = randn([k.o], seed: 5), t = randn([k.o], seed: 6)
                let kind = Self.kinds[ci % Self.kinds.count]
                let fast = Tensor.empty([k.n, g.outHeight, g.outWidth, k.o]), slow = Tensor.empty(fast.shape)
                conv2dForwardScaleShiftActivation(fast.ptr, x.ptr, w.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                conv2dForwardScaleShiftActivationNaive(slow.ptr, x.ptr, w.ptr, scale: s.ptr, shift: t.ptr, activation: kind, g)
                assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "fused conv \(k.name) block \(block)")
            }
        }
    }

    func testBatchNormActivationMatchesComposition() {
        for kind in Self.kinds {
            for training in [true, false] {
                let x = randn([3, 4, 5, 6], seed: 11, scale: 2), w = randn([6], seed: 12), b = randn([6], seed: 13)
                let rm1 = randn([6], seed: 14), rv1 = randn([6], seed: 15).abs() + 0.5
                let rm2 = rm1.copy(), rv2 = rv1.copy()
                let xs = [x.copy(), x.copy()], ws = [w.copy(), w.copy()], bs = [b.copy(), b.copy()]
                for t in xs + ws + bs { t.requiresGrad = true }
                let fused = batchNormActivation(xs[0], weight: ws[0], bias: bs[0], runningMean: rm1, runningVar: rv1,
                                                training: training, momentum: 0.2, eps: 1e-3, activation: kind)
                let bn = batchNorm(xs[1], weight: ws[1], bias: bs[1], runningMean: rm2, runningVar: rv2,
                                   training: training, momentum: 0.2, eps: 1e-3)
                let plain = kind.map { k -> Tensor in
                    switch k {
                    case .relu: return bn.relu()
                    case .relu6: return bn.relu6()
                    case .leakyRelu(let s): return bn.leakyRelu(s)
                    case .silu: return bn.silu()
                    case .sigmoid: return bn.sigmoid()
                    case .gelu: return bn.gelu()
                    case .tanh: return bn.tanh()
                    }
                } ?? bn
                let name = "batchNormActivation \(String(describing: kind)) training \(training)"
                assertClose(fused, plain, atol: 1e-5, rtol: 1e-4, name)
                assertClose(rm1, rm2, atol: 1e-6, rtol: 1e-6, name + " running mean")
                assertClose(rv1, rv2, atol: 1e-6, rtol: 1e-6, name + " running var")
                let seed = randn(fused.shape, seed: 16)
                fused.backward(seed: seed)
                plain.backward(seed: seed)
                assertClose(xs[0].grad!, xs[1].grad!, atol: 1e-4, rtol: 1e-3, name + " dx")
                assertClose(ws[0].grad!, ws[1].grad!, atol: 1e-4, rtol: 1e-3, name + " dweight")
                assertClose(bs[0].grad!, bs[1].grad!, atol: 1e-4, rtol: 1e-3, name + " dbias")
            }
        }
    }

    func testBatchNormActivationGradients() {
        for kind: ActivationKind? in [.silu, .tanh, nil] {   // smooth ones: kinks break finite differences (the composition test covers ReLU6)
            let name = "batchNormActivation \(String(describing: kind))"
            gradCheck([randn([2, 3, 3, 5], seed: 21), randn([5], seed: 22), randn([5], seed: 23)], name + " train") { t in
                batchNormActivation(t[0], weight: t[1], bias: t[2], runningMean: nil, runningVar: nil, training: true, activation: kind)
            }
            let rm = randn([5], seed: 31), rv = randn([5], seed: 32).abs() + 0.5
            gradCheck([randn([2, 3, 2, 5], seed: 33), randn([5], seed: 34), randn([5], seed: 35)], name + " eval") { t in
                batchNormActivation(t[0], weight: t[1], bias: t[2], runningMean: rm, runningVar: rv, training: false, activation: kind)
            }
        }
        gradCheck([randn([7, 17], seed: 24)], "batchNormActivation no affine, gelu, C 17") { t in
            batchNormActivation(t[0], weight: nil, bias: nil, runningMean: nil, runningVar: nil, training: true, activation: .gelu)
        }
    }

    func testConvBatchNormActivationMatchesComposition() {
        let rm = randn([8], seed: 1), rv = randn([8], seed: 2).abs() + 0.5, bw = randn([8], seed: 3), bb = randn([8], seed: 4)
        let cases: [(String, [Int], Int, Int, Padding2D)] = [
            ("1x1", [8, 1, 1, 6], 1, 1, .symmetric(0)), ("3x3 s2", [8, 3, 3, 6], 2, 1, .symmetric(1)),
            ("dw 5x5", [8, 5, 5, 1], 1, 8, .symmetric(2)), ("grouped 3x3", [8, 3, 3, 3], 1, 2, .symmetric(1)),
        ]
        for (name, ws, stride, groups, pad) in cases {
            let cin = ws[3] * groups
            let x = randn([2, 9, 7, cin], seed: 5), w = randn(ws, seed: 6), bias = randn([8], seed: 7)
            let fused = noGrad {
                conv2dBatchNormActivation(x, w, bias: bias, stride: stride, padding: pad, groups: groups, bnWeight: bw, bnBias: bb,
                                          runningMean: rm, runningVar: rv, eps: 1e-3, activation: .silu)
            }
            let plain = noGrad {
                batchNorm(conv2d(x, w, bias: bias, stride: stride, padding: pad, groups: groups), weight: bw, bias: bb,
                          runningMean: rm, runningVar: rv, training: false, eps: 1e-3).silu()
            }
            assertClose(fused, plain, atol: 1e-4, rtol: 1e-4, "conv2dBatchNormActivation \(name)")
        }
        // With gradients it is the composition: check them by finite differences.
        gradCheck([randn([1, 5, 4, 3], seed: 8), randn([4, 3, 3, 3], seed: 9)], "conv2dBatchNormActivation grad") { t in
            conv2dBatchNormActivation(t[0], t[1], padding: .symmetric(1), bnWeight: bw.slice(axis: 0, range: 0..<4),
                                      bnBias: bb.slice(axis: 0, range: 0..<4), runningMean: rm.slice(axis: 0, range: 0..<4),
                                      runningVar: rv.slice(axis: 0, range: 0..<4), activation: .silu)
        }
    }

    func testModelEvalFusedMatchesUnfusedBlocks() {
        // An inverted-residual block in eval mode (fused path) against its ops composed by hand.
        let spec = EfficientNetSpec.named("efficientnet_b0")!
        let block = InvertedResidual(16, try! BlockArgs(decoding: "ir_r1_k5_s2_e6_c24_se0.25"), spec: spec, dropPath: 0)
        for (_, bn) in block.namedModules() {
            if let bn = bn as? BatchNorm {
                bn.runningMean.assign(randn(bn.runningMean.shape, seed: 50, scale: 0.1))
                bn.runningVar.assign(randn(bn.runningVar.shape, seed: 51).abs() + 0.5)
                bn.weight.assign(randn(bn.weight.shape, seed: 52))
            }
        }
        block.eval()
        let x = randn([2, 11, 9, 16], seed: 53)
        let fused = noGrad { block(x) }
        let plain = noGrad { () -> Tensor in
            var y = block.bn1(block.convPw(x)).silu()
            y = block.bn2(block.convDw(y)).silu()
            y = block.se!(y)
            return block.bn3(block.convPwl(y))
        }
        assertClose(fused, plain, atol: 1e-4, rtol: 1e-4, "InvertedResidual eval fused vs composed")
    }

    func testLinearMatchesMatmulPlusBias() {
        let x = randn([2, 3, 5], seed: 1), w = randn([4, 5], seed: 2), b = randn([4], seed: 3)
        let fused = linear(x, weight: w, bias: b)
        let plain = Tensor.matmul(x.reshaped([6, 5]), w, transB: true) + b
        assertClose(fused.reshaped([6, 4]), plain, atol: 1e-5, rtol: 1e-5, "linear")
        XCTAssertEqual(fused.shape, [2, 3, 4])
        gradCheck([randn([3, 5], seed: 4), randn([4, 5], seed: 5), randn([4], seed: 6)], "linear x, weight, bias") { t in
            linear(t[0], weight: t[1], bias: t[2])
        }
        gradCheck([randn([2, 2, 5], seed: 7), randn([3, 5], seed: 8)], "linear without bias") { t in
            linear(t[0], weight: t[1], bias: nil)
        }
    }

    func testParallelForCoversEveryIndexOnce() {
        let saved = Threading.threads
        defer { Threading.threads = saved }
        for t in [1, 2, 3, 5] {
            Threading.threads = t
            for (count, grain) in [(1, 1), (7, 1), (1000, 3), (100_000, 1024)] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                parallelFor(count, grain: grain) { r in
                    for i in r { hits[i] += 1 }
                    // Nested calls run inline.
                    parallelFor(4) { inner in for _ in inner {} }
                }
                XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "threads \(t) count \(count) grain \(grain)")
                hits.deallocate()
            }
        }
    }

    func testSplitGEMMMatchesNaive() {
        let saved = GEMMTuning.parallelMACs
        defer { GEMMTuning.parallelMACs = saved }
        GEMMTuning.parallelMACs = 1
        for (m, n, k) in [(300, 7, 5), (5, 300, 9), (130, 140, 33), (64, 64, 1)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = randn(ta ? [k, m] : [m, k], seed: 1), b = randn(tb ? [n, k] : [k, n], seed: 2)
                let c0 = randn([m, n], seed: 3)
                let fast = c0.copy(), slow = c0.copy()
                sgemm(fast.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 0.25)
                sgemmNaive(slow.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 0.25)
                assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "sgemm split \(m)x\(n)x\(k) \(ta) \(tb)")
            }
        }
        // Batched small products spread over the pool.
        let a = randn([6, 5, 4], seed: 4), b = randn([6, 4, 3], seed: 5)
        let fast = Tensor.empty([6, 5, 3]), slow = Tensor.empty([6, 5, 3])
        GEMMTuning.parallelMACs = saved
        sgemmBatched(fast.ptr, a.ptr, b.ptr, batch: 6, m: 5, n: 3, k: 4, strideA: 20, strideB: 12, strideC: 15)
        for i in 0..<6 { sgemmNaive(slow.ptr + i * 15, a.ptr + i * 20, b.ptr + i * 12, m: 5, n: 3, k: 4) }
        assertClose(fast, slow, atol: 1e-5, rtol: 1e-5, "sgemmBatched")
    }
}
