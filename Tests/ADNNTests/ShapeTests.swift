import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

/// Values with gaps of at least 0.1 in a seeded random order (safe for finite differences of max).
private func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SeededRNG(seed: seed)
    let n = shape.reduce(1, *)
    var v = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
    v.shuffle(using: &rng)
    return Tensor(v, shape: shape)
}

final class ShapeTests: XCTestCase {
    func testPermuteKernelMatchesNaive() {
        var cases: [([Int], [Int])] = [
            ([37, 45], [1, 0]), ([3, 70, 40], [0, 2, 1]), ([2, 5, 7, 3], [0, 3, 1, 2]), ([2, 3, 5, 7], [0, 2, 3, 1]),
            ([2, 5, 7, 3], [3, 2, 1, 0]), ([2, 5, 7, 3], [1, 0, 2, 3]), ([2, 5, 7, 3], [2, 0, 3, 1]),
            ([4, 1, 6, 1, 5], [4, 3, 0, 2, 1]), ([1, 1, 9], [2, 0, 1]), ([6], [0]), ([], []),
            ([3, 4, 5, 6, 2], [0, 1, 4, 2, 3]), ([2, 3, 4, 5, 6], [4, 0, 2, 1, 3]), ([33, 1, 35], [2, 1, 0]),
        ]
        for o in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] { cases.append(([4, 6, 5], o)) }
        for (shape, order) in cases {
            let x = randn(shape, seed: 11)
            let outShape = order.map { shape[$0] }
            let fast = Tensor(repeating: .nan, shape: outShape), slow = Tensor(repeating: .nan, shape: outShape)
            permute(fast.ptr, x.ptr, shape: shape, order: order)
            permuteNaive(slow.ptr, x.ptr, shape: shape, order: order)
            assertClose(fast, slow, atol: 0, rtol: 0, "permute \(shape) \(order)")
        }
    }

    func testPermuteValues() {
        let x = Tensor.arange(6, shape: [2, 3])
        XCTAssertEqual(x.transposed(0, 1).scalars, [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(x.transposed(0, 1).shape, [3, 2])
        let y = Tensor.arange(24, shape: [2, 3, 4])
        let p = y.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        // p[k, i, j] = y[i, j, k] = 12i + 4j + k
        XCTAssertEqual(p.scalars[1 * 6 + 1 * 3 + 2], 12 + 8 + 1)
        // Round trip NHWC → NCHW → NHWC.
        let z = randn([2, 3, 4, 5], seed: 3)
        assertClose(z.permuted([0, 3, 1, 2]).permuted([0, 2, 3, 1]), z, atol: 0, rtol: 0)
        assertClose(z.permuted([0, 1, 2, 3]), z, atol: 0, rtol: 0)
        XCTAssertEqual(z.permuted([-1, 0, 1, 2]).shape, [5, 2, 3, 4])
    }

    func testMaxKernelMatchesNaive() {
        for (o, n, i) in [(3, 17, 1), (2, 5, 300), (4, 1, 7), (1, 9, 33)] {
            let x = randn([o, n, i], seed: 5)
            if o * n * i > 10 { x.ptr[3] = x.ptr[3 + i] }      // a tie
            let fast = Tensor.empty([o, i]), slow = Tensor.empty([o, i])
            var af = [Int32](repeating: -1, count: o * i), asl = [Int32](repeating: -1, count: o * i)
            maxMiddleAxis(fast.ptr, &af, x.ptr, outer: o, n: n, inner: i)
            maxMiddleAxisNaive(slow.ptr, &asl, x.ptr, outer: o, n: n, inner: i)
            assertClose(fast, slow, atol: 0, rtol: 0, "max \(o) \(n) \(i)")
            XCTAssertEqual(af, asl, "argmax \(o) \(n) \(i)")
        }
    }

    func testMaxValuesAndTies() {
        let x = Tensor([1, 5, 5, 2, 7, 0], shape: [2, 3])
        XCTAssertEqual(x.max(axes: [1]).scalars, [5, 7])
        XCTAssertEqual(x.max(axes: [0]).scalars, [2, 7, 5])
        XCTAssertEqual(x.max(axes: [-1], keepDims: true).shape, [2, 1])
        XCTAssertEqual(x.max(axes: [0, 1]).shape, [])
        XCTAssertEqual(x.max(axes: [0, 1]).item, 7)
        // Tie: the gradient goes to the first maximum only.
        x.requiresGrad = true
        x.max(axes: [1]).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [0, 1, 0, 0, 1, 0])
        // Non-adjacent axes equal a two-step reduction.
        let y = randn([2, 3, 4, 5], seed: 9)
        assertClose(y.max(axes: [1, 3]), y.max(axes: [3]).max(axes: [1]), atol: 0, rtol: 0)
        XCTAssertEqual(y.max(axes: [1, 3], keepDims: true).shape, [2, 1, 4, 1])
    }

    func testConcatSplitSliceValues() {
        let a = Tensor.arange(6, shape: [2, 3]), b = Tensor.arange(4, shape: [2, 2]) + 100
        let c = Tensor.concat([a, b], axis: 1)
        XCTAssertEqual(c.shape, [2, 5])
        XCTAssertEqual(c.scalars, [0, 1, 2, 100, 101, 3, 4, 5, 102, 103])
        let parts = c.split(sizes: [3, 2], axis: -1)
        assertClose(parts[0], a, atol: 0, rtol: 0)
        assertClose(parts[1], b, atol: 0, rtol: 0)
        let r = Tensor.concat([a, a], axis: 0)
        XCTAssertEqual(r.shape, [4, 3])
        XCTAssertEqual(r.slice(axis: 0, range: 1..<3).scalars, [3, 4, 5, 0, 1, 2])
        XCTAssertEqual(c.slice(axis: 1, range: 2..<4).scalars, [2, 100, 5, 102])
        let chunks = Tensor.arange(10, shape: [10]).chunked(3, axis: 0)
        XCTAssertEqual(chunks.map { $0.shape }, [[4], [4], [2]])
        XCTAssertEqual(chunks[2].scalars, [8, 9])
        let s = Tensor.stack([a, a + 1], axis: 1)
        XCTAssertEqual(s.shape, [2, 2, 3])
        XCTAssertEqual(s.scalars, [0, 1, 2, 1, 2, 3, 3, 4, 5, 4, 5, 6])
        XCTAssertEqual(Tensor.stack([a, a], axis: -1).shape, [2, 3, 2])
    }

    func testSliceOfLeadingAxisIsView() {
        let x = Tensor.arange(12, shape: [1, 4, 3])
        let v = x.slice(axis: 1, range: 1..<3)
        XCTAssertTrue(v.storage === x.storage)
        XCTAssertEqual(v.scalars, [3, 4, 5, 6, 7, 8])
    }

    func testIndexSelectAndPickValues() {
        let x = Tensor.arange(12, shape: [3, 4])
        XCTAssertEqual(x.indexSelect(axis: 1, indices: [3, 0, 3]).scalars, [3, 0, 3, 7, 4, 7, 11, 8, 11])
        XCTAssertEqual(x.indexSelect(axis: 0, indices: [2]).scalars, [8, 9, 10, 11])
        XCTAssertEqual(x.pick([1, 0, 3]).scalars, [1, 4, 11])
        // Repeated indices accumulate in the gradient.
        x.requiresGrad = true
        x.indexSelect(axis: 1, indices: [3, 0, 3]).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [1, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0, 2])
    }

    func testShapeGradients() {
        gradCheck([randn([2, 3, 4], seed: 1)], "permute") { $0[0].permuted([2, 0, 1]) }
        gradCheck([randn([2, 3, 4, 5], seed: 1)], "permute NHWC→NCHW") { $0[0].permuted([0, 3, 1, 2]) }
        gradCheck([randn([2, 3, 4], seed: 1)], "transpose") { $0[0].transposed(0, -1) }
        gradCheck([randn([2, 3, 4], seed: 1), randn([2, 2, 4], seed: 2), randn([2, 1, 4], seed: 3)], "concat") {
            Tensor.concat($0, axis: 1)
        }
        gradCheck([randn([2, 3], seed: 1), randn([2, 3], seed: 2)], "stack") { Tensor.stack($0, axis: 1) }
        gradCheck([randn([2, 6, 3], seed: 1)], "split") { xs in
            let p = xs[0].split(sizes: [1, 3, 2], axis: 1)
            return Tensor.concat([p[2] * 2, p[0], p[1] * -1], axis: 1)
        }
        gradCheck([randn([2, 7, 3], seed: 1)], "chunked") { xs in
            let p = xs[0].chunked(3, axis: 1)
            return p[0] * 3 + p[1] - p[2].sum()
        }
        gradCheck([randn([3, 5, 2], seed: 1)], "slice middle") { $0[0].slice(axis: 1, range: 1..<4) }
        gradCheck([randn([5, 2], seed: 1)], "slice leading (view)") { $0[0].slice(axis: 0, range: 2..<5) }
        gradCheck([randn([3, 5, 2], seed: 1)], "indexSelect") { $0[0].indexSelect(axis: 1, indices: [4, 0, 4, 2]) }
        gradCheck([randn([4, 5], seed: 1)], "pick") { $0[0].pick([0, 4, 2, 2]) }
        gradCheck([distinct([2, 3, 4], seed: 1)], "max last axis") { $0[0].max(axes: [-1]) }
        gradCheck([distinct([2, 3, 4, 5], seed: 2)], "max spatial keepDims") { $0[0].max(axes: [1, 2], keepDims: true) }
        gradCheck([distinct([2, 3, 4, 5], seed: 3)], "max non-adjacent") { $0[0].max(axes: [0, 2]) }
    }
}
