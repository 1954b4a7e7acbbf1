import XCTest
@testable import ADNN
import ADNNKernels

/// The Swift GEMM (`sgemmSwift`, the fallback for CPUs OpenBLAS does not know) against its naive twin
/// (Double accumulation) with general leading dimensions, on shapes that cross every tile, panel and block boundary.
final class GEMMKernelTests: XCTestCase {
    private func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float, pad: Int,
                       file: StaticString = #filePath, line: UInt = #line) {
        let la = (transA ? m : k) + pad, lb = (transB ? k : n) + pad, lc = n + pad
        var rng = SeededRNG(seed: UInt64(m * 1_000_003 + n * 1009 + k * 7 + (transA ? 1 : 0) + (transB ? 2 : 0)))
        let a = (0..<((transA ? k : m) * la)).map { _ in rng.nextUniform() * 2 - 1 }
        let b = (0..<((transB ? n : k) * lb)).map { _ in rng.nextUniform() * 2 - 1 }
        // C starts as NaN where beta is 0 (it must not be read) and as values otherwise; the padding columns
        // hold a sentinel that must survive.
        var c = (0..<(m * lc)).map { i -> Float in i % lc >= n ? 12345 : (beta == 0 ? .nan : rng.nextUniform() * 2 - 1) }
        var expected = c
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in expected.withUnsafeMutableBufferPointer { ep in
            sgemmNaive(ep.baseAddress!, ap.baseAddress!, bp.baseAddress!, m: m, n: n, k: k, transA: transA, transB: transB,
                       alpha: alpha, beta: beta, lda: la, ldb: lb, ldc: lc)
        } } }
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            sgemmSwift(cp.baseAddress!, ap.baseAddress!, bp.baseAddress!, m: m, n: n, k: k, transA: transA, transB: transB,
                       alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
        } } }
        let tol = Float(1e-5) * Float(k).squareRoot() * 4
        for i in 0..<(m * lc) {
            if i % lc >= n {
                XCTAssertEqual(c[i], 12345, "padding column overwritten at \(i)", file: file, line: line)
            } else if !(abs(c[i] - expected[i]) <= tol * max(1, abs(expected[i]))) {
                XCTFail("m \(m) n \(n) k \(k) tA \(transA) tB \(transB) alpha \(alpha) beta \(beta) pad \(pad): C[\(i / lc), \(i % lc)] = \(c[i]), expected \(expected[i])",
                        file: file, line: line)
                return
            }
        }
    }

    private func sweep() {
        // Rows around the 6- and 12-row tiles, columns around the 16/32 panels and the 256-column block,
        // depths around the 256-deep K block.
        let shapes: [(Int, Int, Int)] = [(1, 1, 1), (5, 7, 3), (12, 32, 16), (13, 33, 17), (25, 24, 40), (6, 16, 257),
                                         (37, 48, 300), (11, 70, 9), (19, 300, 31), (2, 17, 600), (40, 260, 513)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                check(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 1, beta: 0, pad: 0)
                check(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 2, pad: 3)
                check(m: m, n: n, k: k, transA: ta, transB: tb, alpha: -1, beta: 1, pad: 1)
            }
        }
    }

    func testSwiftGEMMMatchesReference() { sweep() }

    /// The AVX2 geometry (6-row tiles, 16-column panels) and odd blockings, run on whatever CPU this is.
    func testSwiftGEMMOtherGeometriesMatchReference() {
        let saved = (GEMMKernelTuning.tileRows, GEMMKernelTuning.panelWidth, GEMMKernelTuning.kBlock, GEMMKernelTuning.columnBlock)
        defer { (GEMMKernelTuning.tileRows, GEMMKernelTuning.panelWidth, GEMMKernelTuning.kBlock, GEMMKernelTuning.columnBlock) = saved }
        for (rows, width, kBlock, columnBlock) in [(6, 16, 256, 256), (12, 32, 7, 64), (4, 16, 100, 32)] {
            (GEMMKernelTuning.tileRows, GEMMKernelTuning.panelWidth, GEMMKernelTuning.kBlock, GEMMKernelTuning.columnBlock) =
                (rows, width, kBlock, columnBlock)
            sweep()
        }
    }

    /// The threaded wrapper against the naive twin: row, column, K and batched splits.
    func testWrapperWithSwiftBackendMatchesNaive() {
        let saved = GEMMTuning.backend, savedThreads = Threading.threads
        defer { GEMMTuning.backend = saved; Threading.threads = savedThreads }
        GEMMTuning.backend = .swift
        Threading.threads = 3
        for (m, n, k, ta, tb) in [(300, 40, 64, false, true), (24, 700, 80, true, false), (257, 129, 65, false, false)] {
            let a = randn([m * k], seed: 11), b = randn([k * n], seed: 12)
            let fast = Tensor.empty([m, n]), slow = Tensor.empty([m, n])
            sgemm(fast.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb)
            sgemmNaive(slow.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb)
            assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "\(m)×\(n)×\(k)")
        }
        // Small C over a long reduction: split along K (both backends), with alpha and beta.
        for backend in [GEMMBackend.swift, .openBLAS] {
            GEMMTuning.backend = backend
            for (m, n, k, ta, tb) in [(16, 24, 5000, true, false), (7, 33, 3001, false, true), (40, 9, 2500, true, true)] {
                let a = randn([m * k], seed: 15), b = randn([k * n], seed: 16), c0 = randn([m * n], seed: 17)
                let fast = Tensor.empty([m, n]), slow = Tensor.empty([m, n])
                fast.assign(c0); slow.assign(c0)
                sgemm(fast.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 1.5)
                sgemmNaive(slow.ptr, a.ptr, b.ptr, m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 1.5)
                assertClose(fast, slow, atol: 1e-3, rtol: 1e-4, "split K \(backend) \(m)×\(n)×\(k)")
            }
        }
        GEMMTuning.backend = .swift
        let batch = 5, m = 9, n = 20, k = 14
        let a = randn([batch * m * k], seed: 13), b = randn([batch * k * n], seed: 14)
        let fast = Tensor.empty([batch * m * n]), slow = Tensor.empty([batch * m * n])
        sgemmBatched(fast.ptr, a.ptr, b.ptr, batch: batch, m: m, n: n, k: k, transB: false,
                     strideA: m * k, strideB: k * n, strideC: m * n)
        for i in 0..<batch {
            sgemmNaive(slow.ptr + i * m * n, a.ptr + i * m * k, b.ptr + i * k * n, m: m, n: n, k: k)
        }
        assertClose(fast, slow, atol: 1e-4, rtol: 1e-4, "batched")
    }
}
