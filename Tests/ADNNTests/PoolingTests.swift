import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class PoolingTests: XCTestCase {
    /// (N, H, W, C, kernel, stride, padding)
    static let poolCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (2, 9, 7, 20, 3, 2, 1),   // resnet stem pool shape, SIMD block + tail
        (1, 8, 8, 16, 2, 2, 0),
        (3, 7, 10, 5, 3, 1, 1),
        (2, 11, 9, 33, 5, 2, 2),
        (1, 4, 4, 3, 4, 4, 0),
    ]

    func testMaxPoolKernelsMatchNaive() {
        for (i, (n, h, w, c, k, s, p)) in Self.poolCases.enumerated() {
            let g = Pool2DGeometry(batch: n, inHeight: h, inWidth: w, channels: c, kernel: k, stride: s, padding: p)
            let x = randn([n, h, w, c], seed: UInt64(i + 1))
            let dy = randn([n, g.outHeight, g.outWidth, c], seed: UInt64(i + 50))
            let yF = Tensor.empty(dy.shape), yS = Tensor.empty(dy.shape)
            var amF = [Int32](repeating: 0, count: dy.count), amS = [Int32](repeating: 0, count: dy.count)
            amF.withUnsafeMutableBufferPointer { maxPool2dForward(yF.ptr, argmax: $0.baseAddress!, x.ptr, g) }
            amS.withUnsafeMutableBufferPointer { maxPool2dForwardNaive(yS.ptr, argmax: $0.baseAddress!, x.ptr, g) }
            assertClose(yF, yS, atol: 0, rtol: 0, "maxpool forward case \(i)")
            XCTAssertEqual(amF, amS, "maxpool argmax case \(i)")
            let dxF = Tensor(repeating: .nan, shape: x.shape), dxS = Tensor.empty(x.shape)
            amF.withUnsafeBufferPointer { maxPool2dBackward(dxF.ptr, dy.ptr, argmax: $0.baseAddress!, g) }
            maxPool2dBackwardNaive(dxS.ptr, dy.ptr, x.ptr, g)
            assertClose(dxF, dxS, atol: 1e-6, rtol: 1e-6, "maxpool backward case \(i)")
        }
    }

    func testMaxPoolTiesAndNaN() {
        // Ties go to the first element of the window; NaN propagates (PyTorch).
        let x = Tensor([1, 1, 1, 1, 2, 0, .nan, 3], shape: [1, 2, 4, 1])
        x.requiresGrad = true
        let y = maxPool2d(x, kernel: 2, stride: 2)
        XCTAssertEqual(y.shape, [1, 1, 2, 1])
        XCTAssertEqual(y.scalars[0], 2)
        XCTAssertTrue(y.scalars[1].isNaN)
        y.sum().backward()
        XCTAssertEqual(x.grad!.scalars, [0, 0, 0, 0, 1, 0, 1, 0])
        let t = Tensor(repeating: 5, shape: [1, 2, 2, 17])
        t.requiresGrad = true
        maxPool2d(t, kernel: 2, stride: 2).sum().backward()
        XCTAssertEqual(t.grad!.scalars[0..<17].reduce(0, +), 17)   // all to the first position
        XCTAssertEqual(t.grad!.scalars[17...].reduce(0, +), 0)
    }

    func testAvgPoolKernelsMatchNaive() {
        for (i, (n, h, w, c, k, s, p)) in Self.poolCases.enumerated() {
            let g = Pool2DGeometry(batch: n, inHeight: h, inWidth: w, channels: c, kernel: k, stride: s, padding: p)
            let x = randn([n, h, w, c], seed: UInt64(i + 1))
            let dy = randn([n, g.outHeight, g.outWidth, c], seed: UInt64(i + 50))
            let yF = Tensor.empty(dy.shape), yS = Tensor.empty(dy.shape)
            avgPool2dForward(yF.ptr, x.ptr, g)
            avgPool2dForwardNaive(yS.ptr, x.ptr, g)
            assertClose(yF, yS, atol: 1e-5, rtol: 1e-5, "avgpool forward case \(i)")
            let dxF = Tensor(repeating: .nan, shape: x.shape), dxS = Tensor.empty(x.shape)
            avgPool2dBackward(dxF.ptr, dy.ptr, g)
            avgPool2dBackwardNaive(dxS.ptr, dy.ptr, g)
            assertClose(dxF, dxS, atol: 1e-5, rtol: 1e-5, "avgpool backward case \(i)")
        }
    }

    func testAvgPoolCountsPadding() {
        // count_include_pad=True: the corner of a 3×3 window with padding 1 averages 4 ones over 9.
        let y = avgPool2d(Tensor(repeating: 1, shape: [1, 3, 3, 1]), kernel: 3, stride: 1, padding: 1)
        assertClose(y.scalars, [4, 6, 4, 6, 9, 6, 4, 6, 4].map { Float($0) / 9 }, atol: 1e-6, rtol: 0)
    }

    func testAdaptiveAvgPoolKernelsMatchNaive() {
        // (N, H, W, C, Ho, Wo): divisible, non-divisible (overlapping windows), upsampling, 1×1.
        let cases = [(2, 7, 7, 20, 3, 3), (1, 5, 6, 17, 2, 4), (2, 3, 2, 4, 5, 3), (1, 6, 6, 33, 1, 1), (3, 14, 14, 8, 7, 7)]
        for (i, (n, h, w, c, ho, wo)) in cases.enumerated() {
            let x = randn([n, h, w, c], seed: UInt64(i + 1))
            let dy = randn([n, ho, wo, c], seed: UInt64(i + 20))
            let yF = Tensor.empty(dy.shape), yS = Tensor.empty(dy.shape)
            adaptiveAvgPool2dForward(yF.ptr, x.ptr, batch: n, inHeight: h, inWidth: w, channels: c, outHeight: ho, outWidth: wo)
            adaptiveAvgPool2dForwardNaive(yS.ptr, x.ptr, batch: n, inHeight: h, inWidth: w, channels: c, outHeight: ho, outWidth: wo)
            assertClose(yF, yS, atol: 1e-5, rtol: 1e-5, "adaptive forward case \(i)")
            let dxF = Tensor(repeating: .nan, shape: x.shape), dxS = Tensor.empty(x.shape)
            adaptiveAvgPool2dBackward(dxF.ptr, dy.ptr, batch: n, inHeight: h, inWidth: w, channels: c, outHeight: ho, outWidth: wo)
            adaptiveAvgPool2dBackwardNaive(dxS.ptr, dy.ptr, batch: n, inHeight: h, inWidth: w, channels: c, outHeight: ho, outWidth: wo)
            assertClose(dxF, dxS, atol: 1e-5, rtol: 1e-5, "adaptive backward case \(i)")
        }
        // PyTorch windows for 5 → 3: [0, 2), [1, 4), [3, 5).
        XCTAssertEqual((0..<3).map { adaptiveWindow($0, input: 5, output: 3) }, [0..<2, 1..<4, 3..<5])
        let y = adaptiveAvgPool2d(Tensor.arange(5, shape: [1, 1, 5, 1]), outputHeight: 1, outputWidth: 3)
        assertClose(y.scalars, [0.5, 2, 3.5], atol: 1e-6, rtol: 0)
    }

    func testGlobalAvgPoolKernelsMatchNaive() {
        for (i, (n, p, c)) in [(2, 49, 20), (1, 1, 130), (3, 10, 64), (2, 7, 5)].enumerated() {
            let x = randn([n, p, c], seed: UInt64(i + 1)), dy = randn([n, c], seed: UInt64(i + 9))
            let yF = Tensor.empty([n, c]), yS = Tensor.empty([n, c])
            globalAvgPoolForward(yF.ptr, x.ptr, batch: n, spatial: p, channels: c)
            globalAvgPoolForwardNaive(yS.ptr, x.ptr, batch: n, spatial: p, channels: c)
            assertClose(yF, yS, atol: 1e-5, rtol: 1e-5, "gap forward case \(i)")
            let dxF = Tensor.empty([n, p, c]), dxS = Tensor.empty([n, p, c])
            globalAvgPoolBackward(dxF.ptr, dy.ptr, batch: n, spatial: p, channels: c)
            globalAvgPoolBackwardNaive(dxS.ptr, dy.ptr, batch: n, spatial: p, channels: c)
            assertClose(dxF, dxS, atol: 1e-6, rtol: 1e-6, "gap backward case \(i)")
        }
        let x = randn([2, 3, 4, 5], seed: 3)
        assertClose(globalAvgPool(x), x.mean(axes: [1, 2]), atol: 1e-6, rtol: 1e-5, "gap vs mean")
    }

    func testPad2dKernelsMatchNaive() {
        for (i, (n, h, w, c, t, b, l, r)) in [(2, 3, 4, 5, 0, 1, 0, 1), (1, 5, 5, 17, 2, 2, 3, 1), (2, 2, 3, 1, 1, 0, 2, 0)].enumerated() {
            let x = randn([n, h, w, c], seed: UInt64(i + 1))
            let shape = [n, h + t + b, w + l + r, c]
            let yF = Tensor.empty(shape), yS = Tensor.empty(shape)
            pad2dForward(yF.ptr, x.ptr, batch: n, height: h, width: w, channels: c, top: t, bottom: b, left: l, right: r, value: -2)
            pad2dForwardNaive(yS.ptr, x.ptr, batch: n, height: h, width: w, channels: c, top: t, bottom: b, left: l, right: r, value: -2)
            assertClose(yF, yS, atol: 0, rtol: 0, "pad forward case \(i)")
            let dy = randn(shape, seed: UInt64(i + 7))
            let dxF = Tensor.empty(x.shape), dxS = Tensor.empty(x.shape)
            pad2dBackward(dxF.ptr, dy.ptr, batch: n, height: h, width: w, channels: c, top: t, bottom: b, left: l, right: r)
            pad2dBackwardNaive(dxS.ptr, dy.ptr, batch: n, height: h, width: w, channels: c, top: t, bottom: b, left: l, right: r)
            assertClose(dxF, dxS, atol: 0, rtol: 0, "pad backward case \(i)")
        }
        // pad2d + unpadded conv == conv with the same explicit padding.
        let x = randn([2, 5, 6, 3], seed: 1), w = randn([4, 3, 3, 3], seed: 2)
        let p = Padding2D(top: 0, bottom: 1, left: 1, right: 2)
        assertClose(conv2d(pad2d(x, p), w, stride: 2), conv2d(x, w, stride: 2, padding: p), atol: 1e-5, rtol: 1e-5, "pad+conv")
    }

    func testOutputShapes() {
        let x = randn([2, 112, 112, 4], seed: 1)
        XCTAssertEqual(maxPool2d(x, kernel: 3, stride: 2, padding: 1).shape, [2, 56, 56, 4])
        XCTAssertEqual(avgPool2d(x, kernel: 2, stride: 2).shape, [2, 56, 56, 4])
        XCTAssertEqual(adaptiveAvgPool2d(x, outputSize: 7).shape, [2, 7, 7, 4])
        XCTAssertEqual(globalAvgPool(x).shape, [2, 4])
        XCTAssertEqual(pad2d(x, Padding2D(top: 1, bottom: 2, left: 3, right: 4)).shape, [2, 115, 119, 4])
    }

    // MARK: - gradient checks

    /// Distinct values at least 0.05 apart so finite differences never cross a max-pool tie.
    func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        let n = shape.reduce(1, *)
        var rng = SeededRNG(seed: seed)
        var v = (0..<n).map { Float($0) * 0.05 - Float(n) * 0.025 }
        v.shuffle(using: &rng)
        return Tensor(v, shape: shape)
    }

    func testMaxPoolGrad() {
        gradCheck([distinct([2, 5, 6, 3], seed: 1)], "maxpool 3x3 s2 p1") { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) }
        gradCheck([distinct([1, 4, 4, 18], seed: 2)], "maxpool 2x2 s2") { maxPool2d($0[0], kernel: 2, stride: 2) }
    }

    func testAvgPoolGrad() {
        gradCheck([randn([2, 5, 6, 3], seed: 1)], "avgpool 3x3 s2 p1") { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) }
        gradCheck([randn([1, 4, 4, 17], seed: 2)], "avgpool 2x2 s2") { avgPool2d($0[0], kernel: 2, stride: 2) }
    }

    func testAdaptiveAvgPoolGrad() {
        gradCheck([randn([2, 5, 7, 3], seed: 1)], "adaptive 5x7 → 3") { adaptiveAvgPool2d($0[0], outputSize: 3) }
        gradCheck([randn([1, 4, 4, 17], seed: 2)], "adaptive 4 → 2") { adaptiveAvgPool2d($0[0], outputSize: 2) }
    }

    func testGlobalAvgPoolGrad() {
        gradCheck([randn([2, 3, 4, 5], seed: 1)], "globalAvgPool") { globalAvgPool($0[0]) }
        gradCheck([randn([1, 2, 2, 20], seed: 2)], "globalAvgPool C 20") { globalAvgPool($0[0]) }
    }

    func testPad2dGrad() {
        gradCheck([randn([2, 3, 4, 2], seed: 1)], "pad2d") { pad2d($0[0], Padding2D(top: 1, bottom: 0, left: 2, right: 1), value: 0.5) }
    }
}
