import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

final class ResizeTests: XCTestCase {
    /// (inH, inW, outH, outW): up, down, mixed, to and from size 1.
    private let sizes = [(5, 7, 9, 11), (13, 11, 5, 4), (6, 9, 10, 4), (4, 4, 1, 1), (1, 3, 4, 2), (8, 8, 8, 8)]

    func testResizeKernelMatchesNaive() {
        for (h, w, oh, ow) in sizes {
            for mode in [ResizeMode.bilinear, .bicubic] {
                for align in [false, true] {
                    for aa in [false, true] {
                        for c in [1, 3, 20] {
                            let n = 2
                            let rows = makeResizeTable(inSize: h, outSize: oh, mode: mode, alignCorners: align, antialias: aa)
                            let cols = makeResizeTable(inSize: w, outSize: ow, mode: mode, alignCorners: align, antialias: aa)
                            let x = randn([n, h, w, c], seed: 21)
                            let fast = Tensor(repeating: .nan, shape: [n, oh, ow, c])
                            let slow = Tensor(repeating: .nan, shape: [n, oh, ow, c])
                            resizeNHWC(fast.ptr, x.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
                            resizeNHWCNaive(slow.ptr, x.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
                            let tag = "\(mode) align \(align) aa \(aa) \(h)×\(w)→\(oh)×\(ow) c \(c)"
                            assertClose(fast, slow, atol: 1e-5, rtol: 1e-5, "forward " + tag)
                            let gy = randn([n, oh, ow, c], seed: 22)
                            let gFast = Tensor(repeating: .nan, shape: [n, h, w, c])
                            let gSlow = Tensor(repeating: .nan, shape: [n, h, w, c])
                            resizeNHWCBackward(gFast.ptr, gy.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
                            resizeNHWCBackwardNaive(gSlow.ptr, gy.ptr, n: n, h: h, w: w, c: c, rows: rows, cols: cols)
                            assertClose(gFast, gSlow, atol: 1e-5, rtol: 1e-5, "backward " + tag)
                        }
                    }
                }
            }
        }
    }

    func testTablesAreNormalisedAndInRange() {
        for (i, o) in [(7, 3), (3, 7), (10, 10), (100, 9), (1, 5), (5, 1)] {
            for mode in [ResizeMode.bilinear, .bicubic] {
                for align in [false, true] {
                    for aa in [false, true] {
                        let t = makeResizeTable(inSize: i, outSize: o, mode: mode, alignCorners: align, antialias: aa)
                        XCTAssertEqual(t.index.count, o * t.taps)
                        XCTAssertTrue(t.index.allSatisfy { $0 >= 0 && Int($0) < i })
                        for k in 0..<o {
                            let s = t.weight[(k * t.taps)..<((k + 1) * t.taps)].reduce(0, +)
                            XCTAssertEqual(s, 1, accuracy: 1e-5, "\(mode) \(i)→\(o) align \(align) aa \(aa) output \(k)")
                        }
                    }
                }
            }
        }
    }

    func testKnownValues() {
        let x = Tensor([0, 1, 2, 3], shape: [1, 1, 4, 1])
        // Half-pixel bilinear 2× upsampling (PyTorch align_corners=False).
        assertClose(resize(x, height: 1, width: 8, mode: .bilinear).scalars,
                    [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol: 1e-6, rtol: 0)
        // align_corners=True: endpoints kept, uniform steps.
        assertClose(resize(x, height: 1, width: 7, mode: .bilinear, alignCorners: true).scalars,
                    [0, 0.5, 1, 1.5, 2, 2.5, 3], atol: 1e-6, rtol: 0)
        // Antialiased 2× bilinear downsampling: triangle of support 2 centred at 1 and 3,
        // weights (3, 3, 1)/7 and (1, 3, 3)/7 after dropping out-of-image taps.
        assertClose(resize(x, height: 1, width: 2, mode: .bilinear, antialias: true).scalars,
                    [5.0 / 7, 16.0 / 7], atol: 1e-6, rtol: 0)
        // Plain bilinear 2× downsampling averages pairs.
        assertClose(resize(x, height: 1, width: 2, mode: .bilinear).scalars, [0.5, 2.5], atol: 1e-6, rtol: 0)
        // Same size is the identity for both modes.
        let y = randn([2, 5, 6, 3], seed: 4)
        assertClose(resize(y, height: 5, width: 6, mode: .bilinear), y, atol: 1e-6, rtol: 0)
        assertClose(resize(y, height: 5, width: 6, mode: .bicubic), y, atol: 1e-6, rtol: 0)
        // Constants stay constant (weights sum to 1) in every mode, including across the border.
        let flat = Tensor(repeating: 0.7, shape: [1, 5, 4, 2])
        for mode in [ResizeMode.bilinear, .bicubic] {
            for aa in [false, true] {
                assertClose(resize(flat, height: 9, width: 3, mode: mode, antialias: aa).scalars,
                            [Float](repeating: 0.7, count: 54), atol: 1e-6, rtol: 0, "\(mode) aa \(aa)")
            }
        }
    }

    func testResizeGradients() {
        for mode in [ResizeMode.bilinear, .bicubic] {
            gradCheck([randn([2, 4, 5, 3], seed: 1)], "resize up \(mode)") {
                resize($0[0], height: 7, width: 6, mode: mode)
            }
            gradCheck([randn([1, 9, 7, 2], seed: 2)], "resize down align \(mode)") {
                resize($0[0], height: 4, width: 3, mode: mode, alignCorners: true)
            }
            gradCheck([randn([1, 9, 8, 2], seed: 3)], "resize down antialias \(mode)") {
                resize($0[0], height: 4, width: 3, mode: mode, antialias: true)
            }
        }
    }
}
