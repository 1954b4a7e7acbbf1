import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class LossTests: XCTestCase {
    /// Soft targets: random positive rows normalised to sum 1.
    private func softTargets(_ n: Int, _ k: Int, seed: UInt64) -> Tensor {
        let t = randn([n, k], seed: seed).abs() + 0.05
        let s = t.sum(axes: [1], keepDims: true)
        return noGrad { t / s }
    }

    func testCrossEntropyKernelsMatchNaive() {
        for (n, k) in [(1, 1), (3, 7), (5, 16), (9, 33), (64, 8), (4, 1000)] as [(Int, Int)] {
            let msg = "\(n)×\(k)"
            let x = randn([n, k], seed: 1, scale: 5)
            let labels = (0..<n).map { ($0 * 7 + 3) % k }
            let t = softTargets(n, k, seed: 2)
            let l1 = Tensor.empty([n]), l2 = Tensor.empty([n]), p1 = Tensor.empty([n, k]), p2 = Tensor.empty([n, k])
            labels.withUnsafeBufferPointer { lp in
                softmaxCrossEntropyLabels(l1.ptr, p1.ptr, x.ptr, lp.baseAddress!, rows: n, classes: k)
                softmaxCrossEntropyLabelsNaive(l2.ptr, p2.ptr, x.ptr, lp.baseAddress!, rows: n, classes: k)
            }
            assertClose(l1, l2, atol: 1e-5, rtol: 1e-5, "label loss \(msg)")
            assertClose(p1, p2, atol: 1e-6, rtol: 1e-5, "label probs \(msg)")
            let d1 = Tensor.empty([n, k]), d2 = Tensor.empty([n, k])
            labels.withUnsafeBufferPointer { lp in
                softmaxCrossEntropyLabelsBackward(d1.ptr, p2.ptr, lp.baseAddress!, scale: 0.3, rows: n, classes: k)
                softmaxCrossEntropyLabelsBackwardNaive(d2.ptr, p2.ptr, lp.baseAddress!, scale: 0.3, rows: n, classes: k)
            }
            assertClose(d1, d2, atol: 1e-7, rtol: 1e-6, "label backward \(msg)")

            softmaxCrossEntropySoft(l1.ptr, p1.ptr, x.ptr, t.ptr, rows: n, classes: k)
            softmaxCrossEntropySoftNaive(l2.ptr, p2.ptr, x.ptr, t.ptr, rows: n, classes: k)
            assertClose(l1, l2, atol: 1e-5, rtol: 1e-5, "soft loss \(msg)")
            assertClose(p1, p2, atol: 1e-6, rtol: 1e-5, "soft probs \(msg)")
            softmaxCrossEntropySoftBackward(d1.ptr, p2.ptr, t.ptr, scale: 0.3, rows: n, classes: k)
            softmaxCrossEntropySoftBackwardNaive(d2.ptr, p2.ptr, t.ptr, scale: 0.3, rows: n, classes: k)
            assertClose(d1, d2, atol: 1e-7, rtol: 1e-5, "soft backward \(msg)")
        }
    }

    func testCrossEntropyValues() {
        // Row 0: logits [1, 2, 3], label 2 → log(e + e² + e³) − 3 = 0.40760596.
        // Row 1: logits [0, 0, 0], label 0 → log 3 = 1.09861229.
        let x = Tensor([1, 2, 3, 0, 0, 0], shape: [2, 3])
        let l = softmaxCrossEntropy(x, labels: [2, 0])
        XCTAssertEqual(l.shape, [])
        XCTAssertEqual(l.item, Float((0.40760596 + 1.09861229) / 2), accuracy: 1e-6)
        // Huge logits stay finite.
        let big = Tensor([1000, 0, -1000, 500], shape: [2, 2])
        XCTAssertEqual(softmaxCrossEntropy(big, labels: [0, 1]).item, 0, accuracy: 1e-6)
        XCTAssertEqual(softmaxCrossEntropy(big, labels: [1, 0]).item, 1250, accuracy: 1e-2)
        // One-hot soft targets equal the label form; smoothed targets match −Σ t log p.
        let logits = randn([5, 7], seed: 3, scale: 2)
        let labels = [0, 6, 3, 3, 1]
        var onehot = [Float](repeating: 0, count: 35)
        for (i, y) in labels.enumerated() { onehot[i * 7 + y] = 1 }
        let hard = softmaxCrossEntropy(logits, labels: labels).item
        XCTAssertEqual(softmaxCrossEntropy(logits, softTargets: Tensor(onehot, shape: [5, 7])).item, hard, accuracy: 1e-5)
        let t = softTargets(5, 7, seed: 4)
        let expected = -(t * logits.logSoftmax()).sum().item / 5
        XCTAssertEqual(softmaxCrossEntropy(logits, softTargets: t).item, expected, accuracy: 1e-5)
    }

    func testCrossEntropyGradients() {
        gradCheck([randn([4, 5], seed: 5, scale: 2)], "cross-entropy labels") { t in
            softmaxCrossEntropy(t[0], labels: [4, 0, 2, 2])
        }
        gradCheck([randn([3, 33], seed: 6)], "cross-entropy labels K 33") { t in
            softmaxCrossEntropy(t[0], labels: [32, 0, 17])
        }
        let targets = softTargets(4, 5, seed: 7)
        gradCheck([randn([4, 5], seed: 8, scale: 2)], "cross-entropy soft targets") { t in
            softmaxCrossEntropy(t[0], softTargets: targets)
        }
        gradCheck([randn([3, 6], seed: 9), softTargets(3, 6, seed: 10)], "cross-entropy soft, grad to targets too") { t in
            softmaxCrossEntropy(t[0], softTargets: t[1])
        }
        // Unnormalised targets use the general (p·Σt − t)/N gradient.
        gradCheck([randn([2, 4], seed: 11)], "cross-entropy unnormalised targets") { t in
            softmaxCrossEntropy(t[0], softTargets: Tensor([0.5, 0, 1, 0, 0.2, 0.2, 0, 0.1], shape: [2, 4]))
        }
    }

    func testCrossEntropyGradientIsSoftmaxMinusOnehot() {
        let x = randn([3, 4], seed: 12); x.requiresGrad = true
        (softmaxCrossEntropy(x, labels: [1, 3, 0]) * 2).backward()
        let p = noGrad { x.softmax() }.scalars
        var expected = p
        for (i, y) in [1, 3, 0].enumerated() { expected[i * 4 + y] -= 1 }
        assertClose(x.grad!.scalars, expected.map { $0 * 2 / 3 }, atol: 1e-6, rtol: 1e-5)
    }
}
