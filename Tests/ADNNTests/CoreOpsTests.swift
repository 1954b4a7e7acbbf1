import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class CoreOpsTests: XCTestCase {
    func testBroadcastKernelMatchesNaive() {
        let cases: [([Int], [Int])] = [([2, 3, 4], [4]), ([2, 3, 4], [3, 1]), ([2, 1, 4], [1, 3, 1]), ([5], [5]), ([2, 3], [])]
        for (sa, sb) in cases {
            let a = randn(sa, seed: 1), b = randn(sb, seed: 2)
            let shape = broadcastShape(sa, sb)!
            for op in [BinaryOp.add, .sub, .mul, .div, .maximum, .minimum] {
                let fast = Tensor.empty(shape), slow = Tensor.empty(shape)
                binaryBroadcast(op, fast.ptr, a.ptr, sa, b.ptr, sb, outShape: shape)
                binaryBroadcastNaive(op, slow.ptr, a.ptr, sa, b.ptr, sb, outShape: shape)
                assertClose(fast, slow, atol: 0, rtol: 0, "\(op) \(sa) \(sb)")
            }
        }
    }

    func testSumKernelMatchesNaive() {
        for (o, n, i) in [(3, 17, 1), (1, 50, 300), (4, 5, 33)] {
            let x = randn([o, n, i], seed: 3)
            let fast = Tensor.empty([o, i]), slow = Tensor.empty([o, i])
            sumMiddleAxis(fast.ptr, x.ptr, outer: o, n: n, inner: i)
            sumMiddleAxisNaive(slow.ptr, x.ptr, outer: o, n: n, inner: i)
            assertClose(fast, slow, atol: 1e-5, rtol: 1e-5)
        }
    }

    func testGEMMMatchesNaive() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = 7, n = 5, k = 9
            let a = randn([m * k], seed: 4), b = randn([k * n], seed: 5)
            let fast = Tensor.empty([m, n]), slow = Tensor.empty([m, n])
            sgemm(fast.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb)
            sgemmNaive(slow.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb)
            assertClose(fast, slow, atol: 1e-5, rtol: 1e-5)
        }
    }

    func testArithmeticGradients() {
        gradCheck([randn([2, 3, 4], seed: 1), randn([4], seed: 2)], "add") { $0[0] + $0[1] }
        gradCheck([randn([2, 3, 4], seed: 1), randn([3, 1], seed: 2)], "sub") { $0[0] - $0[1] }
        gradCheck([randn([2, 3, 4], seed: 1), randn([2, 1, 4], seed: 2)], "mul") { $0[0] * $0[1] }
        gradCheck([randn([2, 3], seed: 1), randn([3], seed: 2) + 3], "div") { $0[0] / $0[1] }
        gradCheck([randn([2, 3], seed: 1), randn([2, 3], seed: 9)], "maximum") { Tensor.maximum($0[0], $0[1]) }
        gradCheck([randn([3, 4], seed: 1)], "scale") { $0[0] * 2.5 - 1 }
    }

    func testUnaryGradients() {
        gradCheck([randn([3, 4], seed: 1)], "exp") { $0[0].exp() }
        gradCheck([randn([3, 4], seed: 1).abs() + 0.5], "log") { $0[0].log() }
        gradCheck([randn([3, 4], seed: 1).abs() + 0.5], "sqrt") { $0[0].sqrt() }
        gradCheck([randn([3, 4], seed: 1)], "square") { $0[0].squared() }
        gradCheck([randn([3, 4], seed: 1).abs() + 0.5], "pow") { $0[0].pow(1.5) }
    }

    func testReductionGradients() {
        gradCheck([randn([2, 3, 4], seed: 1)], "sum axes") { $0[0].sum(axes: [0, 2]) }
        gradCheck([randn([2, 3, 4], seed: 1)], "mean keepdims") { $0[0].mean(axes: [1], keepDims: true) }
        gradCheck([randn([2, 3], seed: 1)], "expand") { $0[0].reshaped([2, 1, 3]).expanded(to: [2, 4, 3]) }
        XCTAssertEqual(Tensor.arange(6, shape: [2, 3]).sum().item, 15)
    }

    func testMatmulGradients() {
        gradCheck([randn([2, 3, 4], seed: 1), randn([4, 5], seed: 2)], "matmul batched×shared") { Tensor.matmul($0[0], $0[1]) }
        gradCheck([randn([3, 4], seed: 1), randn([5, 4], seed: 2)], "matmul transB") { Tensor.matmul($0[0], $0[1], transB: true) }
        gradCheck([randn([2, 3, 4], seed: 1), randn([2, 4, 5], seed: 2)], "bmm") { Tensor.matmul($0[0], $0[1]) }
        gradCheck([randn([2, 4, 3], seed: 1), randn([2, 5, 4], seed: 2)], "bmm transA transB") { Tensor.matmul($0[0], $0[1], transA: true, transB: true) }
    }

    func testNoGradRecordsNothing() {
        let x = randn([3], seed: 1); x.requiresGrad = true
        let y = noGrad { x * x }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.node)
        (x * x).sum().backward(); (x * x).sum().backward()
        assertClose(x.grad!.scalars, x.scalars.map { 4 * $0 }, atol: 1e-5, rtol: 1e-5, "accumulation over two backward calls")
    }
}
