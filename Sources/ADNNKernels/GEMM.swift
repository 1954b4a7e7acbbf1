import Foundation
import CBLAS

/// Sets OpenBLAS's thread count once, before the first GEMM.
private let blasConfigured: Void = Threading.configure()

/// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, row-major, via OpenBLAS `cblas_sgemm` or the
/// Swift kernel `sgemmSwift` (`GEMMTuning.backend`).
/// `lda`, `ldb`, `ldc` default to the packed row strides of the stored (untransposed) matrices.
///
/// OpenBLAS runs single-threaded; products of at least `GEMMTuning.parallelMACs` multiply-adds are
/// split into independent row blocks (or column blocks when C is wide and short) on the kernel pool.
public func sgemm(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                  m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                  alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) {
    _ = blasConfigured
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * (ldc ?? n)).update(repeating: 0, count: n) } }
        return
    }
    let la = lda ?? (transA ? m : k)
    let lb = ldb ?? (transB ? k : n)
    let lc = ldc ?? n
    if Profiler.enabled {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { Profiler.add("  sgemm (inside ops)", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        sgemmSplit(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
    } else {
        sgemmSplit(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
    }
}

private func sgemmSplit(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                        m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float, la: Int, lb: Int, lc: Int) {
    let threads = Threading.threads
    if threads > 1 && m * n * k >= GEMMTuning.parallelMACs {
        // A small C over a long reduction (weight gradients: [out, in] summed over every pixel): split K,
        // each thread's partial product into its own buffer, summed in a fixed order.
        if m * n <= GEMMTuning.splitKMaxOutput && k >= 64 * threads && m * n * 8 < k * (m + n) {
            sgemmSplitK(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
            return
        }
        if GEMMTuning.backend == .swift && GEMMTuning.sharedPacking {
            sgemmSwiftParallel(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
            return
        }
        // Blocks of ≥ 64 rows (each block packs B again, so blocks stay large) or ≥ 64 columns, along the
        // dimension that gives more of them; the count is a multiple of the thread count when possible
        // so that no thread is left with a lone block at the end.
        func evenChunks(_ d: Int) -> Int {
            let c = Swift.min(4 * threads, d / 64)
            return c >= threads ? c / threads * threads : c
        }
        let rowChunks = evenChunks(m), colChunks = evenChunks(n)
        if rowChunks > 1 && rowChunks >= colChunks {
            parallelChunks(m, chunks: rowChunks) { r in
                sgemmCall(c + r.lowerBound * lc, transA ? a + r.lowerBound : a + r.lowerBound * la, b,
                          m: r.count, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
            }
            return
        }
        if colChunks > 1 {
            parallelChunks(n, chunks: colChunks) { r in
                sgemmCall(c + r.lowerBound, a, transB ? b + r.lowerBound * lb : b + r.lowerBound,
                          m: m, n: r.count, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
            }
            return
        }
    }
    sgemmCall(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
}

/// C = alpha · op(A) · op(B) + beta · C with K cut into one range per thread: the first range accumulates
/// into C (with beta), the others into scratch buffers (beta 0) that are then added to C in range order.
private func sgemmSplitK(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                         m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float, la: Int, lb: Int, lc: Int) {
    let parts = Threading.threads
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: (parts - 1) * m * n)
    defer { scratch.deallocate() }
    parallelChunks(parts, chunks: parts) { r in
        for part in r {
            let k0 = part * k / parts, k1 = (part + 1) * k / parts
            let ap = transA ? a + k0 * la : a + k0, bpart = transB ? b + k0 : b + k0 * lb
            if part == 0 {
                sgemmCall(c, ap, bpart, m: m, n: n, k: k1 - k0, transA: transA, transB: transB, alpha: alpha, beta: beta,
                          la: la, lb: lb, lc: lc)
            } else {
                sgemmCall(scratch + (part - 1) * m * n, ap, bpart, m: m, n: n, k: k1 - k0, transA: transA, transB: transB,
                          alpha: alpha, beta: 0, la: la, lb: lb, lc: n)
            }
        }
    }
    for part in 1..<parts {
        let s = scratch + (part - 1) * m * n
        for i in 0..<m {
            let row = c + i * lc, src = s + i * n
            for j in 0..<n { row[j] += src[j] }
        }
    }
}

/// Single-threaded GEMM on the calling thread (for callers that split the work themselves).
@inline(__always)
func sgemmSerial(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                 m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                 alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) {
    _ = blasConfigured
    if m == 0 || n == 0 || k == 0 { if k == 0 && beta == 0 { for i in 0..<m { (c + i * (ldc ?? n)).update(repeating: 0, count: n) } }; return }
    sgemmCall(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta,
              la: lda ?? (transA ? m : k), lb: ldb ?? (transB ? k : n), lc: ldc ?? n)
}

/// Which single-threaded GEMM the wrapper calls.
public enum GEMMBackend: String, Sendable {
    /// OpenBLAS `cblas_sgemm` with the kernel set OpenBLAS picked for this CPU.
    case openBLAS = "openblas"
    /// `sgemmSwift` (GEMMKernel.swift), compiled for the building CPU.
    case swift
}

/// Tuning knobs of the GEMM wrapper.
public enum GEMMTuning {
    /// Products with at least this many multiply-adds are split across the kernel pool.
    nonisolated(unsafe) public static var parallelMACs = 1 << 19
    /// Largest C (m · n floats) whose product is split along K, one range per thread, when the reduction is
    /// long against C (k · (m + n) > 8 · m · n: weight gradients summed over every pixel of a batch).
    nonisolated(unsafe) public static var splitKMaxOutput = 1 << 16
    /// Swift backend: pack B once for all threads (`sgemmSwiftParallel`) instead of once per row block
    /// (`ADNN_GEMM_SHARED_PACK=0`, for comparisons).
    nonisolated(unsafe) public static var sharedPacking: Bool = ProcessInfo.processInfo.environment["ADNN_GEMM_SHARED_PACK"] != "0"

    /// The kernel set OpenBLAS chose for this CPU (`openblas_get_corename`, e.g. "Haswell", "Zen", "SkylakeX").
    public static let openBLASCore: String = String(cString: openblas_get_corename())

    /// OpenBLAS kernel sets with AVX2/FMA or AVX-512 GEMM kernels.
    static let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"]

    /// The GEMM behind `sgemm`: `ADNN_GEMM=openblas|swift`, else OpenBLAS when it picked one of its AVX2 or
    /// AVX-512 kernel sets, and the Swift kernel when it did not — OpenBLAS falls back to SSE3 ("Prescott")
    /// kernels on CPUs newer than its own CPU table, e.g. Debian 12's 0.3.21 on a family-6 model-207 Xeon,
    /// where they run 3–4× slower than this CPU's vector units allow.
    nonisolated(unsafe) public static var backend: GEMMBackend = {
        if let s = ProcessInfo.processInfo.environment["ADNN_GEMM"]?.lowercased(), let b = GEMMBackend(rawValue: s) { return b }
        return vectorCores.contains(openBLASCore.lowercased()) ? .openBLAS : .swift
    }()

    /// One line for logs and `adnn bench`: the GEMM in use and why.
    public static var description: String {
        backend == .swift ? "Swift GEMM (OpenBLAS core \(openBLASCore))" : "OpenBLAS GEMM (core \(openBLASCore))"
    }
}

@inline(__always)
private func sgemmCall(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float, la: Int, lb: Int, lc: Int) {
    if GEMMTuning.backend == .swift {
        sgemmSwift(c, a, b, m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta, la: la, lb: lb, lc: lc)
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(la), b, Int32(lb), beta, c, Int32(lc))
}

/// Naive twin of `sgemm`, Double accumulation; for tests. Leading dimensions default to the packed strides;
/// C is not read when beta is 0.
public func sgemmNaive(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                       m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                       alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) {
    let la = lda ?? (transA ? m : k), lb = ldb ?? (transB ? k : n), lc = ldc ?? n
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * la + i] : a[i * la + p]
                let bv = transB ? b[j * lb + p] : b[p * lb + j]
                s += Double(av) * Double(bv)
            }
            let prev = beta == 0 ? 0 : Double(beta) * Double(c[i * lc + j])
            c[i * lc + j] = Float(Double(alpha) * s + prev)
        }
    }
}

/// Batched GEMM: for each of `batch` problems, C_i = op(A_i) · op(B_i) (+ beta · C_i).
/// Strides are element offsets between consecutive matrices (0 broadcasts one matrix).
public func sgemmBatched(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                         batch: Int, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                         strideA: Int, strideB: Int, strideC: Int, alpha: Float = 1, beta: Float = 0) {
    _ = blasConfigured
    if batch == 0 || m == 0 || n == 0 { return }
    if k == 0 || batch == 1 || m * n * k >= GEMMTuning.parallelMACs {
        for i in 0..<batch {
            sgemm(c + i * strideC, a + i * strideA, b + i * strideB, m: m, n: n, k: k,
                  transA: transA, transB: transB, alpha: alpha, beta: beta)
        }
        return
    }
    // Many small products: one single-threaded GEMM per problem, problems spread over the pool.
    let la = transA ? m : k, lb = transB ? k : n
    parallelFor(batch, grain: Swift.max(1, (1 << 16) / Swift.max(1, m * n * k))) { r in
        for i in r {
            sgemmCall(c + i * strideC, a + i * strideA, b + i * strideB, m: m, n: n, k: k, transA: transA, transB: transB,
                      alpha: alpha, beta: beta, la: la, lb: lb, lc: n)
        }
    }
}
