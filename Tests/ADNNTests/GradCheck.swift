import XCTest
@testable import ADNN
@testable import ADNNTrain

/// Finite-difference gradient check (central differences, Double accumulation).
///
/// The scalar objective is L = Σ f(inputs) ⊙ R with a fixed random projection R, so every output
/// element contributes. Analytic gradients from `backward()` are compared with
/// (L(x + ε) − L(x − ε)) / 2ε for every input element (or a random subset of `maxChecks`).
func gradCheck(_ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2, maxChecks: Int = 200,
               seed: UInt64 = 7, _ message: String = "", file: StaticString = #filePath, line: UInt = #line,
               _ f: ([Tensor]) -> Tensor) {
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let y0 = f(inputs)
    var rng = SeededRNG(seed: seed)
    let r = Tensor.uniform(y0.shape, low: -1, high: 1, rng: &rng)
    (y0 * r).sum().backward()
    func objective() -> Double {
        let y = noGrad { f(inputs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.ptr[i]) * Double(r.ptr[i]) }
        return s
    }
    for (k, x) in inputs.enumerated() {
        guard let g = x.grad else { XCTFail("\(message): input \(k) got no gradient", file: file, line: line); continue }
        XCTAssertEqual(g.shape, x.shape, "\(message): gradient shape of input \(k)", file: file, line: line)
        var indices = Array(0..<x.count)
        if indices.count > maxChecks { indices.shuffle(using: &rng); indices = Array(indices.prefix(maxChecks)) }
        var numeric: [Float] = [], analytic: [Float] = []
        for i in indices {
            let old = x.ptr[i]
            x.ptr[i] = old + eps; let lp = objective()
            x.ptr[i] = old - eps; let lm = objective()
            x.ptr[i] = old
            numeric.append(Float((lp - lm) / (2 * Double(eps))))
            analytic.append(g.ptr[i])
        }
        assertClose(analytic, numeric, atol: atol, rtol: rtol, "\(message) d/d input \(k)", file: file, line: line)
    }
}

/// Random tensor helper for tests.
func randn(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.normal(shape, std: scale, rng: &rng)
}
