/// Small dense least-squares solvers in double precision (the Kernel SHAP regression).
public enum LeastSquares {
    /// Minimises `Σ_j w_j (y_j − x_j·β)² + λ‖β‖²` over `β` by the normal equations and a Cholesky
    /// factorisation, with `λ = ridge · mean(diag XᵀWX)` (a tiny ridge keeps rank-deficient designs
    /// solvable; it is raised tenfold until the factorisation succeeds).
    ///
    /// - Parameters:
    ///   - rows: the design matrix, one row `x_j` per observation, all of the same length `p ≥ 1`.
    ///   - targets: `y_j`, one per row.
    ///   - weights: `w_j ≥ 0`, one per row.
    ///   - ridge: relative ridge `λ` (≥ 0).
    /// - Returns: `β`, `p` values.
    public static func weighted(rows: [[Double]], targets: [Double], weights: [Double], ridge: Double = 1e-10) -> [Double] {
        precondition(rows.count == targets.count && rows.count == weights.count,
                     "LeastSquares.weighted: \(rows.count) rows, \(targets.count) targets, \(weights.count) weights")
        precondition(ridge >= 0, "LeastSquares.weighted: ridge must be ≥ 0, got \(ridge)")
        guard let p = rows.first?.count, p > 0 else { return [] }
        var a = [Double](repeating: 0, count: p * p), b = [Double](repeating: 0, count: p)
        for (j, x) in rows.enumerated() {
            precondition(x.count == p, "LeastSquares.weighted: row \(j) has \(x.count) values, expected \(p)")
            let w = weights[j]
            precondition(w >= 0, "LeastSquares.weighted: weight \(j) is negative (\(w))")
            if w == 0 { continue }
            for r in 0..<p where x[r] != 0 {
                let wx = w * x[r]
                b[r] += wx * targets[j]
                for c in r..<p { a[r * p + c] += wx * x[c] }
            }
        }
        for r in 0..<p { for c in 0..<r { a[r * p + c] = a[c * p + r] } }
        let meanDiagonal = (0..<p).reduce(0.0) { $0 + a[$1 * p + $1] } / Double(p)
        var lambda = ridge * (meanDiagonal > 0 ? meanDiagonal : 1)
        for _ in 0..<12 {
            var regularised = a
            for i in 0..<p { regularised[i * p + i] += lambda }
            if let beta = choleskySolve(regularised, b, size: p) { return beta }
            lambda = max(lambda * 10, 1e-12 * max(meanDiagonal, 1))
        }
        preconditionFailure("LeastSquares.weighted: normal equations are not positive definite (non-finite inputs?)")
    }

    /// Solves `A β = b` for a symmetric positive-definite `size × size` matrix `A` (row-major) by
    /// the Cholesky factorisation `A = L Lᵀ`; `nil` when `A` is not numerically positive definite.
    public static func choleskySolve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        precondition(a.count == n * n && b.count == n, "choleskySolve: \(a.count) matrix and \(b.count) right-hand values for size \(n)")
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        var y = b
        for i in 0..<n {
            var s = y[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * y[k] }
            y[i] = s / l[i * n + i]
        }
        return y
    }
}
