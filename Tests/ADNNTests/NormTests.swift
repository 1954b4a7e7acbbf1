import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class NormTests: XCTestCase {
    /// (rows, channels) pairs covering odd channel counts, SIMD tails and the multi-part reduction path.
    private let kernelShapes: [(Int, Int)] = [(2, 1), (5, 3), (130, 17), (64, 33), (1000, 16), (3000, 33), (700, 1), (40, 100)]

    func testBatchNormKernelsMatchNaive() {
        for (rows, c) in kernelShapes {
            let msg = "rows \(rows) C \(c)"
            // A large common offset checks that the shifted statistics do not cancel.
            let x = randn([rows, c], seed: 11) + 50
            let g = randn([rows, c], seed: 12)
            let m1 = Tensor.empty([c]), v1 = Tensor.empty([c]), m2 = Tensor.empty([c]), v2 = Tensor.empty([c])
            batchNormStatistics(m1.ptr, v1.ptr, x.ptr, rows: rows, channels: c)
            batchNormStatisticsNaive(m2.ptr, v2.ptr, x.ptr, rows: rows, channels: c)
            assertClose(m1, m2, atol: 1e-5, rtol: 1e-6, "mean \(msg)")
            assertClose(v1, v2, atol: 1e-4, rtol: 1e-4, "var \(msg)")

            let scale = randn([c], seed: 13), shift = randn([c], seed: 14)
            let y1 = Tensor.empty([rows, c]), y2 = Tensor.empty([rows, c])
            batchNormForward(y1.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr, rows: rows, channels: c)
            batchNormForwardNaive(y2.ptr, x.ptr, scale: scale.ptr, shift: shift.ptr, rows: rows, channels: c)
            assertClose(y1, y2, atol: 1e-4, rtol: 1e-5, "forward \(msg)")

            let invstd = Tensor(v2.scalars.map { 1 / ($0 + 1e-5).squareRoot() }, shape: [c])
            let sg1 = Tensor.empty([c]), sx1 = Tensor.empty([c]), sg2 = Tensor.empty([c]), sx2 = Tensor.empty([c])
            batchNormBackwardReduce(sg1.ptr, sx1.ptr, g.ptr, x.ptr, mean: m2.ptr, invstd: invstd.ptr, rows: rows, channels: c)
            batchNormBackwardReduceNaive(sg2.ptr, sx2.ptr, g.ptr, x.ptr, mean: m2.ptr, invstd: invstd.ptr, rows: rows, channels: c)
            let tol = Float(rows).squareRoot() * 1e-5
            assertClose(sg1, sg2, atol: tol, rtol: 1e-5, "sumG \(msg)")
            assertClose(sx1, sx2, atol: tol, rtol: 1e-4, "sumGXhat \(msg)")

            for w in [randn([c], seed: 15), nil] as [Tensor?] {
                let d1 = Tensor.empty([rows, c]), d2 = Tensor.empty([rows, c])
                batchNormBackwardInput(d1.ptr, g.ptr, x.ptr, mean: m2.ptr, invstd: invstd.ptr, weight: w?.ptr,
                                       sumG: sg2.ptr, sumGXhat: sx2.ptr, rows: rows, channels: c)
                batchNormBackwardInputNaive(d2.ptr, g.ptr, x.ptr, mean: m2.ptr, invstd: invstd.ptr, weight: w?.ptr,
                                            sumG: sg2.ptr, sumGXhat: sx2.ptr, rows: rows, channels: c)
                assertClose(d1, d2, atol: 1e-4, rtol: 1e-4, "dx \(msg) weight \(w != nil)")
            }
        }
    }

    func testBatchNormTrainingNormalises() {
        let x = randn([4, 3, 5, 7], seed: 1, scale: 3) + 2
        let y = batchNorm(x, weight: nil, bias: nil, runningMean: nil, runningVar: nil, training: true)
        let m = y.mean(axes: [0, 1, 2]), v = y.squared().mean(axes: [0, 1, 2])
        assertClose(m.scalars, [Float](repeating: 0, count: 7), atol: 1e-5, rtol: 0, "mean")
        assertClose(v.scalars, [Float](repeating: 1, count: 7), atol: 1e-3, rtol: 0, "var")
        // Against the composed formula with affine parameters.
        let w = randn([7], seed: 2), b = randn([7], seed: 3)
        let ya = batchNorm(x, weight: w, bias: b, runningMean: nil, runningVar: nil, training: true, eps: 1e-3)
        let mu = x.mean(axes: [0, 1, 2]), sig2 = (x - mu).squared().mean(axes: [0, 1, 2])
        let expected = (x - mu) / (sig2 + 1e-3).sqrt() * w + b
        assertClose(ya, expected, atol: 1e-4, rtol: 1e-4, "affine")
    }

    func testBatchNormRunningStatsUpdate() {
        // Channel 0: 1, 3, 5 → mean 3, biased var 8/3, unbiased 4; channel 1: 2, 6, 10 → mean 6, var 32/3, unbiased 16.
        let x = Tensor([1, 2, 3, 6, 5, 10], shape: [3, 2])
        let rm = Tensor([0, 1], shape: [2]), rv = Tensor([1, 2], shape: [2])
        let y = batchNorm(x, weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true, momentum: 0.1, eps: 0)
        assertClose(rm.scalars, [0.9 * 0 + 0.1 * 3, 0.9 * 1 + 0.1 * 6], atol: 1e-6, rtol: 1e-6, "running mean")
        assertClose(rv.scalars, [0.9 * 1 + 0.1 * 4, 0.9 * 2 + 0.1 * 16], atol: 1e-6, rtol: 1e-6, "running var")
        let s0 = (8.0 / 3.0).squareRoot(), s1 = (32.0 / 3.0).squareRoot()
        let expected: [Double] = [-2 / s0, -4 / s1, 0, 0, 2 / s0, 4 / s1]
        assertClose(y.scalars, expected.map { Float($0) }, atol: 1e-5, rtol: 1e-5, "normalised with batch stats")
        // A second step keeps blending.
        _ = batchNorm(x, weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true, momentum: 0.5)
        assertClose(rm.scalars, [0.5 * 0.3 + 0.5 * 3, 0.5 * 1.5 + 0.5 * 6], atol: 1e-6, rtol: 1e-6, "second update mean")
        assertClose(rv.scalars, [0.5 * 1.3 + 0.5 * 4, 0.5 * 3.4 + 0.5 * 16], atol: 1e-5, rtol: 1e-6, "second update var")
    }

    func testBatchNormEvalUsesRunningStats() {
        let x = randn([2, 3, 3, 5], seed: 4)
        let rm = randn([5], seed: 5), rv = randn([5], seed: 6).abs() + 0.5
        let w = randn([5], seed: 7), b = randn([5], seed: 8)
        let rmBefore = rm.scalars, rvBefore = rv.scalars
        let y = batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: false, eps: 1e-3)
        let expected = (x - rm) / (rv + 1e-3).sqrt() * w + b
        assertClose(y, expected, atol: 1e-5, rtol: 1e-5, "eval output")
        XCTAssertEqual(rm.scalars, rmBefore, "eval must not touch running mean")
        XCTAssertEqual(rv.scalars, rvBefore, "eval must not touch running var")
    }

    func testBatchNormTrainingGradients() {
        let x = randn([2, 3, 3, 5], seed: 21), w = randn([5], seed: 22), b = randn([5], seed: 23)
        gradCheck([x, w, b], "batchNorm train x, weight, bias") { t in
            batchNorm(t[0], weight: t[1], bias: t[2], runningMean: nil, runningVar: nil, training: true)
        }
        gradCheck([randn([7, 17], seed: 24)], "batchNorm train no affine, C 17") { t in
            batchNorm(t[0], weight: nil, bias: nil, runningMean: nil, runningVar: nil, training: true)
        }
        // With running statistics (fresh buffers per evaluation so every call is identical).
        gradCheck([randn([4, 2, 3], seed: 25), randn([3], seed: 26)], "batchNorm train with running stats") { t in
            batchNorm(t[0], weight: t[1], bias: nil, runningMean: Tensor(zeros: [3]), runningVar: Tensor(repeating: 1, shape: [3]),
                      training: true)
        }
    }

    func testBatchNormEvalGradients() {
        let rm = randn([5], seed: 31), rv = randn([5], seed: 32).abs() + 0.5
        gradCheck([randn([2, 3, 2, 5], seed: 33), randn([5], seed: 34), randn([5], seed: 35)], "batchNorm eval") { t in
            batchNorm(t[0], weight: t[1], bias: t[2], runningMean: rm, runningVar: rv, training: false)
        }
    }

    func testBatchNormPartialGradients() {
        let x0 = randn([3, 4, 6], seed: 41), w0 = randn([6], seed: 42), b0 = randn([6], seed: 43)
        let seed = randn([3, 4, 6], seed: 44)
        for training in [true, false] {
            let rm = Tensor(zeros: [6]), rv = Tensor(repeating: 1.5, shape: [6])
            func run(_ gx: Bool, _ gw: Bool, _ gb: Bool) -> (Tensor?, Tensor?, Tensor?) {
                let x = x0.copy(), w = w0.copy(), b = b0.copy()
                x.requiresGrad = gx; w.requiresGrad = gw; b.requiresGrad = gb
                let y = batchNorm(x, weight: w, bias: b, runningMean: training ? nil : rm, runningVar: training ? nil : rv,
                                  training: training)
                y.backward(seed: seed)
                return (x.grad, w.grad, b.grad)
            }
            let all = run(true, true, true)
            let onlyX = run(true, false, false), onlyW = run(false, true, false), onlyB = run(false, false, true)
            XCTAssertNil(onlyX.1); XCTAssertNil(onlyX.2); XCTAssertNil(onlyW.0); XCTAssertNil(onlyB.0)
            assertClose(onlyX.0!, all.0!, atol: 1e-6, rtol: 1e-6, "only x, training \(training)")
            assertClose(onlyW.1!, all.1!, atol: 1e-6, rtol: 1e-6, "only weight, training \(training)")
            assertClose(onlyB.2!, all.2!, atol: 1e-6, rtol: 1e-6, "only bias, training \(training)")
        }
    }

    func testLayerNormKernelsMatchNaive() {
        for (rows, d) in [(1, 1), (3, 5), (7, 17), (50, 33), (9, 64), (200, 100), (700, 48)] as [(Int, Int)] {
            let x = randn([rows, d], seed: 51, scale: 2) + 3, g = randn([rows, d], seed: 52)
            let w = randn([d], seed: 53), b = randn([d], seed: 54)
            for (wp, bp) in [(w, b), (w, nil), (nil, b), (nil, nil)] as [(Tensor?, Tensor?)] {
                let msg = "rows \(rows) D \(d) weight \(wp != nil) bias \(bp != nil)"
                let y1 = Tensor.empty([rows, d]), y2 = Tensor.empty([rows, d])
                let m1 = Tensor.empty([rows]), r1 = Tensor.empty([rows]), m2 = Tensor.empty([rows]), r2 = Tensor.empty([rows])
                layerNormForward(y1.ptr, mean: m1.ptr, rstd: r1.ptr, x.ptr, weight: wp?.ptr, bias: bp?.ptr, rows: rows, dim: d, eps: 1e-5)
                layerNormForwardNaive(y2.ptr, mean: m2.ptr, rstd: r2.ptr, x.ptr, weight: wp?.ptr, bias: bp?.ptr, rows: rows, dim: d, eps: 1e-5)
                assertClose(y1, y2, atol: 1e-4, rtol: 1e-4, "forward \(msg)")
                assertClose(m1, m2, atol: 1e-5, rtol: 1e-5, "mean \(msg)")
                assertClose(r1, r2, atol: 1e-4, rtol: 1e-4, "rstd \(msg)")
                let dx1 = Tensor.empty([rows, d]), dw1 = Tensor.empty([d]), db1 = Tensor.empty([d])
                let dx2 = Tensor.empty([rows, d]), dw2 = Tensor.empty([d]), db2 = Tensor.empty([d])
                layerNormBackward(dx1.ptr, dweight: dw1.ptr, dbias: db1.ptr, g.ptr, x.ptr, mean: m2.ptr, rstd: r2.ptr,
                                  weight: wp?.ptr, rows: rows, dim: d)
                layerNormBackwardNaive(dx2.ptr, dweight: dw2.ptr, dbias: db2.ptr, g.ptr, x.ptr, mean: m2.ptr, rstd: r2.ptr,
                                       weight: wp?.ptr, rows: rows, dim: d)
                assertClose(dx1, dx2, atol: 1e-4, rtol: 1e-4, "dx \(msg)")
                assertClose(dw1, dw2, atol: 1e-4, rtol: 1e-4, "dweight \(msg)")
                assertClose(db1, db2, atol: 1e-4, rtol: 1e-4, "dbias \(msg)")
            }
        }
    }

    func testLayerNormValues() {
        let x = Tensor([1, 2, 3, 4, -1, 0, 0, 1], shape: [2, 4])
        let y = layerNorm(x, weight: nil, bias: nil, eps: 0)
        let s0 = (1.25 as Float).squareRoot(), s1 = (0.5 as Float).squareRoot()
        assertClose(y.scalars, [-1.5 / s0, -0.5 / s0, 0.5 / s0, 1.5 / s0, -1 / s1, 0, 0, 1 / s1], atol: 1e-5, rtol: 1e-5)
        let x3 = randn([2, 3, 33], seed: 61, scale: 2) + 1
        let w = randn([33], seed: 62), b = randn([33], seed: 63)
        let mu = x3.mean(axes: [-1], keepDims: true), v = (x3 - mu).squared().mean(axes: [-1], keepDims: true)
        assertClose(layerNorm(x3, weight: w, bias: b), (x3 - mu) / (v + 1e-5).sqrt() * w + b, atol: 1e-4, rtol: 1e-4, "composed")
    }

    func testLayerNormGradients() {
        gradCheck([randn([2, 3, 5], seed: 71), randn([5], seed: 72), randn([5], seed: 73)], "layerNorm x, weight, bias") { t in
            layerNorm(t[0], weight: t[1], bias: t[2])
        }
        gradCheck([randn([4, 17], seed: 74)], "layerNorm no affine, D 17") { t in
            layerNorm(t[0], weight: nil, bias: nil)
        }
        gradCheck([randn([3, 20], seed: 75), randn([20], seed: 76)], "layerNorm weight only, D 20") { t in
            layerNorm(t[0], weight: t[1], bias: nil)
        }
    }
}
