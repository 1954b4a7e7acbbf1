import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class ActivationTests: XCTestCase {
    private let kinds: [ActivationKind] = [.relu, .relu6, .leakyRelu(0.1), .silu, .gelu, .sigmoid, .tanh]

    func testActivationKernelsMatchNaive() {
        for count in [1, 15, 17, 100, 40_000] {
            // Wide range (includes the saturating tails of exp), plus exact kinks.
            let x = randn([count], seed: 1, scale: 6)
            if count > 20 { x.ptr[3] = 0; x.ptr[4] = 6; x.ptr[5] = -100; x.ptr[6] = 100; x.ptr[7] = -0.0 }
            let g = randn([count], seed: 2)
            for kind in kinds {
                let y1 = Tensor.empty([count]), y2 = Tensor.empty([count])
                activationForward(kind, y1.ptr, x.ptr, count: count)
                activationForwardNaive(kind, y2.ptr, x.ptr, count: count)
                assertClose(y1, y2, atol: 2e-6, rtol: 2e-6, "forward \(kind) n \(count)")
                let d1 = Tensor.empty([count]), d2 = Tensor.empty([count])
                activationBackward(kind, d1.ptr, g.ptr, x: x.ptr, y: y2.ptr, count: count)
                activationBackwardNaive(kind, d2.ptr, g.ptr, x: x.ptr, y: y2.ptr, count: count)
                assertClose(d1, d2, atol: 2e-6, rtol: 1e-5, "backward \(kind) n \(count)")
            }
        }
    }

    func testVectorMathAccuracy() {
        var worstExp = 0.0, worstTanh = 0.0, worstErf = 0.0
        var v = SIMD16<Float>()
        for start in stride(from: -87.0, to: 87.9, by: 0.37) {
            for l in 0..<16 { v[l] = Float(start + Double(l) * 0.0231) }
            let e = vectorExp(v)
            let small = v * 0.1
            let th = vectorTanh(small), er = vectorErf(small)
            for l in 0..<16 {
                let exact = Foundation.exp(Double(v[l]))
                worstExp = max(worstExp, abs(Double(e[l]) - exact) / exact)
                let s = Double(small[l])
                worstTanh = max(worstTanh, abs(Double(th[l]) - Foundation.tanh(s)) / max(abs(Foundation.tanh(s)), 1e-30))
                worstErf = max(worstErf, abs(Double(er[l]) - Foundation.erf(s)))
            }
        }
        XCTAssertLessThan(worstExp, 3e-7, "vectorExp relative error")
        XCTAssertLessThan(worstTanh, 5e-7, "vectorTanh relative error")
        XCTAssertLessThan(worstErf, 6e-7, "vectorErf absolute error (A–S 7.1.26 in Float)")
        var special = SIMD16<Float>(repeating: 0)
        special[1] = -.infinity; special[2] = .infinity; special[3] = .nan; special[4] = -200; special[5] = 200
        let e = vectorExp(special)
        XCTAssertEqual(e[0], 1); XCTAssertEqual(e[1], 0); XCTAssertEqual(e[4], 0)
        XCTAssertTrue(e[2].isFinite && e[2] > 1e38); XCTAssertTrue(e[3].isNaN); XCTAssertTrue(e[5] > 1e38)
        let t = vectorTanh(special)
        XCTAssertEqual(t[0], 0); XCTAssertEqual(t[1], -1); XCTAssertEqual(t[2], 1); XCTAssertTrue(t[3].isNaN)
        XCTAssertEqual(t[4], -1); XCTAssertEqual(t[5], 1)
        let s = vectorSigmoid(special)
        XCTAssertEqual(s[0], 0.5); XCTAssertEqual(s[1], 0); XCTAssertEqual(s[2], 1); XCTAssertTrue(s[3].isNaN)
    }

    func testActivationValues() {
        let x = Tensor([-2, -0.5, 0, 1, 7], shape: [5])
        assertClose(x.relu().scalars, [0, 0, 0, 1, 7], atol: 0, rtol: 0, "relu")
        assertClose(x.relu6().scalars, [0, 0, 0, 1, 6], atol: 0, rtol: 0, "relu6")
        assertClose(x.leakyRelu(0.2).scalars, [-0.4, -0.1, 0, 1, 7], atol: 1e-7, rtol: 0, "leakyRelu")
        // Reference values from torch (float64).
        assertClose(x.silu().scalars, [-0.23840584, -0.18877033, 0, 0.73105858, 6.99361821], atol: 1e-6, rtol: 1e-6, "silu")
        assertClose(x.gelu().scalars, [-0.04550026, -0.15426877, 0, 0.84134475, 7], atol: 1e-6, rtol: 1e-6, "gelu")
        assertClose(x.sigmoid().scalars, [0.11920292, 0.37754067, 0.5, 0.73105858, 0.99908895], atol: 1e-6, rtol: 1e-6, "sigmoid")
        assertClose(x.tanh().scalars, [-0.96402758, -0.46211716, 0, 0.76159416, 0.99999834], atol: 1e-6, rtol: 1e-6, "tanh")
    }

    func testActivationGradients() {
        // Keep samples away from the kinks at 0 and 6.
        let xs = Tensor([-3, -1.2, -0.4, 0.3, 0.8, 2.5, 4.4, 5.5, 6.7, 8, -0.9, 1.7], shape: [3, 4])
        gradCheck([xs.copy()], "relu") { $0[0].relu() }
        gradCheck([xs.copy()], "relu6") { $0[0].relu6() }
        gradCheck([xs.copy()], "leakyRelu") { $0[0].leakyRelu(0.05) }
        let x = randn([3, 17], seed: 3, scale: 2)
        gradCheck([x.copy()], "silu") { $0[0].silu() }
        gradCheck([x.copy()], "gelu") { $0[0].gelu() }
        gradCheck([x.copy()], "sigmoid") { $0[0].sigmoid() }
        gradCheck([x.copy()], "tanh") { $0[0].tanh() }
    }

    // MARK: - Softmax

    func testSoftmaxKernelsMatchNaive() {
        for (outer, n, inner) in [(1, 1, 1), (3, 7, 1), (4, 33, 1), (2, 100, 1), (200, 17, 1), (2, 5, 3), (3, 4, 16), (2, 9, 37), (5, 3, 64)] as [(Int, Int, Int)] {
            let x = randn([outer, n, inner], seed: 4, scale: 4), g = randn([outer, n, inner], seed: 5)
            for log in [false, true] {
                let msg = "\(outer)×\(n)×\(inner) log \(log)"
                let y1 = Tensor.empty(x.shape), y2 = Tensor.empty(x.shape)
                softmaxForward(y1.ptr, x.ptr, outer: outer, n: n, inner: inner, log: log)
                softmaxForwardNaive(y2.ptr, x.ptr, outer: outer, n: n, inner: inner, log: log)
                assertClose(y1, y2, atol: 1e-6, rtol: 1e-5, "forward \(msg)")
                let d1 = Tensor.empty(x.shape), d2 = Tensor.empty(x.shape)
                softmaxBackward(d1.ptr, g.ptr, y2.ptr, outer: outer, n: n, inner: inner, log: log)
                softmaxBackwardNaive(d2.ptr, g.ptr, y2.ptr, outer: outer, n: n, inner: inner, log: log)
                assertClose(d1, d2, atol: 1e-5, rtol: 1e-5, "backward \(msg)")
            }
        }
    }

    func testSoftmaxValues() {
        let x = Tensor([1, 2, 3, 1000, 1001, 1002], shape: [2, 3])
        let expected: [Float] = [0.09003057, 0.24472847, 0.66524096, 0.09003057, 0.24472847, 0.66524096]
        assertClose(x.softmax().scalars, expected, atol: 1e-6, rtol: 1e-6, "stable softmax")
        assertClose(x.logSoftmax().scalars, expected.map { Foundation.log($0) }, atol: 1e-5, rtol: 1e-5, "stable logSoftmax")
        // Any axis equals the last-axis op on a permuted layout.
        let t = randn([2, 3, 4], seed: 6)
        let s1 = t.softmax(axis: 1)
        for a in 0..<2 { for c in 0..<4 {
            var sum: Float = 0
            for k in 0..<3 { sum += s1.ptr[a * 12 + k * 4 + c] }
            XCTAssertEqual(sum, 1, accuracy: 1e-6)
        } }
        assertClose(t.logSoftmax(axis: 0).exp(), t.softmax(axis: 0), atol: 1e-6, rtol: 1e-5, "log vs softmax axis 0")
    }

    func testSoftmaxGradients() {
        gradCheck([randn([3, 7], seed: 7)], "softmax last axis") { $0[0].softmax() }
        gradCheck([randn([3, 7], seed: 8)], "logSoftmax last axis") { $0[0].logSoftmax() }
        gradCheck([randn([2, 5, 3], seed: 9)], "softmax axis 1") { $0[0].softmax(axis: 1) }
        gradCheck([randn([2, 5, 3], seed: 10)], "logSoftmax axis 1") { $0[0].logSoftmax(axis: 1) }
        gradCheck([randn([2, 3, 18], seed: 11)], "logSoftmax axis 1, inner 18") { $0[0].logSoftmax(axis: 1) }
        gradCheck([randn([2, 20], seed: 12)], "softmax SIMD row") { $0[0].softmax(axis: -1) }
    }

    // MARK: - Dropout

    func testDropoutDeterminismAndScale() {
        let x = Tensor(repeating: 1, shape: [100, 101])
        var r1 = SeededRNG(seed: 5), r2 = SeededRNG(seed: 5), r3 = SeededRNG(seed: 6)
        let a = dropout(x, p: 0.3, training: true, rng: &r1)
        let b = dropout(x, p: 0.3, training: true, rng: &r2)
        let c = dropout(x, p: 0.3, training: true, rng: &r3)
        XCTAssertEqual(a.scalars, b.scalars, "same seed, same mask")
        XCTAssertNotEqual(a.scalars, c.scalars, "different seed, different mask")
        XCTAssertEqual(r1.next(), r2.next(), "rng advanced identically")
        let kept = a.scalars.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 }, "kept values scaled by 1/(1-p)")
        let keepRate = Double(kept.count) / Double(x.count)
        XCTAssertEqual(keepRate, 0.7, accuracy: 0.02, "keep rate")
        XCTAssertEqual(Double(a.mean().item), 1, accuracy: 0.03, "expectation preserved")
    }

    func testDropoutIdentityAndEdgeCases() {
        let x = randn([4, 5], seed: 13)
        var rng = SeededRNG(seed: 1)
        let before = rng
        XCTAssertTrue(dropout(x, p: 0.5, training: false, rng: &rng) === x, "eval is identity")
        XCTAssertTrue(dropout(x, p: 0, training: true, rng: &rng) === x, "p = 0 is identity")
        var copy = before
        XCTAssertEqual(rng.next(), copy.next(), "identity paths draw nothing")
        XCTAssertTrue(dropout(x, p: 1, training: true, rng: &rng).scalars.allSatisfy { $0 == 0 }, "p = 1 zeroes")
    }

    func testDropoutGradient() {
        gradCheck([randn([3, 9], seed: 14)], "dropout") { t in
            var rng = SeededRNG(seed: 99)
            return dropout(t[0], p: 0.4, training: true, rng: &rng)
        }
        // The gradient is exactly the mask.
        let x = randn([64], seed: 15); x.requiresGrad = true
        var rng = SeededRNG(seed: 3)
        let y = dropout(x, p: 0.25, training: true, rng: &rng)
        y.sum().backward()
        for i in 0..<64 { XCTAssertEqual(x.grad!.ptr[i], y.ptr[i] == 0 ? 0 : 1 / 0.75, accuracy: 1e-6) }
    }
}
