import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain

/// Gaussian process, Expected Improvement, search space and tuner of `adnn tune`.
final class TuneTests: XCTestCase {
    func f(_ x: [Double]) -> [Float] { x.map { Float($0) } }

    // MARK: Gaussian process

    func testCholeskyFactorsAndRejectsIndefinite() {
        let a: [Double] = [4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]
        let l = GaussianProcess.cholesky(a, n: 3)!
        var llt = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { llt[i * 3 + j] += l[i * 3 + k] * l[j * 3 + k] } } }
        assertClose(f(llt), f(a), atol: 1e-12, rtol: 1e-6, "L Lᵀ")
        XCTAssertEqual(l[1], 0); XCTAssertEqual(l[2], 0); XCTAssertEqual(l[5], 0)
        XCTAssertNil(GaussianProcess.cholesky([1, 2, 2, 1], n: 2), "indefinite")
    }

    /// Small noise: the mean passes through the data, the variance is about the noise there and
    /// approaches the prior variance far away.
    func testPosteriorInterpolatesWithSmallVarianceAtData() {
        let xs: [[Double]] = [[0.0], [0.3], [0.6], [1.0]]
        let ys: [Double] = [1.0, 3.0, 2.0, 5.0]
        let noise = 1e-6
        let gp = GaussianProcess(inputs: xs, targets: ys,
                                 hyperparameters: GPHyperparameters(lengthScales: [0.05], signalVariance: 1, noiseVariance: noise))!
        let scale2 = gp.targetScale * gp.targetScale
        for (x, y) in zip(xs, ys) {
            let p = gp.predict(x)
            assertClose([Float(p.mean)], [Float(y)], atol: 1e-4, rtol: 0, "mean at \(x)")
            // Well-separated points (6 length scales apart): variance σ_f²σ_n²/(σ_f² + σ_n²) ≈ σ_n².
            assertClose([Float(p.variance / scale2)], [Float(noise)], atol: 0, rtol: 0.05, "variance at \(x)")
        }
        let far = gp.predict([5.0])
        assertClose([Float(far.variance / scale2)], [1], atol: 1e-6, rtol: 0, "prior variance far away")
        assertClose([Float(far.mean)], [Float(gp.targetMean)], atol: 1e-6, rtol: 0, "prior mean far away")
        XCTAssertGreaterThan(gp.predict([0.15]).variance, 1000 * gp.predict([0.3]).variance)
    }

    /// Posterior mean, variance and log marginal likelihood for fixed ARD hyper-parameters against
    /// scipy (numbers from `python3 Scripts/make_gp_fixture.py`).
    func testPosteriorMatchesScipyReference() {
        let xs: [[Double]] = [[0.1, 0.2], [0.4, 0.9], [0.7, 0.3], [0.9, 0.8], [0.25, 0.6], [0.55, 0.05]]
        let ys: [Double] = [0.61, 0.72, 0.55, 0.80, 0.70, 0.52]
        let queries: [[Double]] = [[0.3, 0.3], [0.5, 0.5], [0.95, 0.1], [0.4, 0.9]]
        let expectedMean: [Double] = [0.61941760281133151, 0.62695428930845087, 0.60702867731023535, 0.71998931001757183]
        let expectedVariance: [Double] = [0.0032086581339086529, 0.0043949850886654896, 0.0096006966969293447, 9.7205800988921757e-06]
        let expectedLogMarginalLikelihood = -8.0037681823338822
        let gp = GaussianProcess(inputs: xs, targets: ys,
                                 hyperparameters: GPHyperparameters(lengthScales: [0.3, 0.5], signalVariance: 1.5, noiseVariance: 1e-3))!
        let p = queries.map(gp.predict)
        assertClose(f(p.map(\.mean)), f(expectedMean), atol: 1e-6, rtol: 1e-6, "posterior mean")
        assertClose(f(p.map(\.variance)), f(expectedVariance), atol: 1e-9, rtol: 1e-5, "posterior variance")
        assertClose([Float(gp.logMarginalLikelihood)], [Float(expectedLogMarginalLikelihood)], atol: 1e-6, rtol: 1e-6, "log marginal likelihood")
    }

    func testFitMaximisesMarginalLikelihoodOverTheGrid() {
        var rng = SeededRNG(seed: 3)
        let xs = (0..<12).map { _ in [rng.nextDouble(), rng.nextDouble()] }
        let ys = xs.map { sin(6 * $0[0]) + 0.1 * $0[1] }
        let fitted = GaussianProcess.fit(inputs: xs, targets: ys)
        for l in GaussianProcess.lengthScaleGrid {
            for s in GaussianProcess.signalVarianceGrid {
                for e in GaussianProcess.noiseVarianceGrid {
                    guard let gp = GaussianProcess(inputs: xs, targets: ys,
                                                   hyperparameters: GPHyperparameters(lengthScales: [l, l], signalVariance: s, noiseVariance: e)) else { continue }
                    XCTAssertGreaterThanOrEqual(fitted.logMarginalLikelihood, gp.logMarginalLikelihood - 1e-9, "ℓ \(l) σ² \(s) noise \(e)")
                }
            }
        }
        // The function varies along x₀ only: ARD gives x₁ the longer length scale.
        XCTAssertGreaterThan(fitted.hyperparameters.lengthScales[1], fitted.hyperparameters.lengthScales[0])
    }

    // MARK: Expected Improvement

    func testExpectedImprovementClosedForm() {
        assertClose([Float(ExpectedImprovement.value(mean: 0, standardDeviation: 1, best: 0))], [Float(1 / (2 * Double.pi).squareRoot())],
                    atol: 1e-12, rtol: 1e-7, "μ = best, σ = 1")
        // scipy: 0.5·Φ(0.25) + 2·φ(0.25) and −1.1·Φ(−2.2) + 0.5·φ(−2.2).
        assertClose([Float(ExpectedImprovement.value(mean: 1, standardDeviation: 2, best: 0.5))], [1.0726893964471604],
                    atol: 0, rtol: 1e-6, "μ 1, σ 2, best 0.5")
        assertClose([Float(ExpectedImprovement.value(mean: -1, standardDeviation: 0.5, best: 0, margin: 0.1))], [0.002443504158267256],
                    atol: 0, rtol: 1e-5, "μ −1, σ ½, ξ 0.1")
        XCTAssertEqual(ExpectedImprovement.value(mean: 2, standardDeviation: 0, best: 0.5), 1.5)
        XCTAssertEqual(ExpectedImprovement.value(mean: 0, standardDeviation: 0, best: 0.5), 0)
        XCTAssertLessThan(ExpectedImprovement.value(mean: 0, standardDeviation: 1, best: 0),
                          ExpectedImprovement.value(mean: 0, standardDeviation: 2, best: 0), "more uncertainty, more EI")
    }

    // MARK: Tuner

    /// Negative Branin on the unit square (maximum −0.397887 at three points).
    static func negativeBranin(_ u: [Double]) -> Double {
        let x1 = -5 + 15 * u[0], x2 = 15 * u[1]
        let b = 5.1 / (4 * Double.pi * Double.pi), c = 5 / Double.pi, t = 1 / (8 * Double.pi)
        let q = x2 - b * x1 * x1 + c * x1 - 6
        return -(q * q + 10 * (1 - t) * cos(x1) + 10)
    }

    /// 20 evaluations of negative Branin: GP-EI over five seeds against plain random search over
    /// twenty (measured regrets: tuner 1.61, 0.020, 0.17, 0.21, 0.063; random search 2.5 on average).
    func testTunerBeatsRandomSearchOnBranin() {
        let budget = 20, optimum = -0.397887
        var tunerRegret: [Double] = []
        for seed in 1...5 {
            let tuner = Tuner(dimensions: 2, seed: UInt64(seed))
            var xs: [[Double]] = [], ys: [Double] = []
            for _ in 0..<budget {
                let x = tuner.nextPoint(observed: xs, values: ys)
                xs.append(x); ys.append(TuneTests.negativeBranin(x))
            }
            tunerRegret.append(optimum - ys.max()!)
        }
        var randomRegret: [Double] = []
        for seed in 1...20 {
            var rng = SeededRNG(seed: UInt64(1000 + seed))
            let best = (0..<budget).map { _ in TuneTests.negativeBranin([rng.nextDouble(), rng.nextDouble()]) }.max()!
            randomRegret.append(optimum - best)
        }
        let tunerMean = tunerRegret.reduce(0, +) / Double(tunerRegret.count), randomMean = randomRegret.reduce(0, +) / Double(randomRegret.count)
        let tunerMedian = tunerRegret.sorted()[tunerRegret.count / 2]
        XCTAssertLessThan(tunerMean, 0.3 * randomMean, "mean regret: tuner \(tunerRegret) vs random \(randomMean)")
        XCTAssertLessThan(tunerMedian, 0.15 * randomMean, "median regret: tuner \(tunerRegret) vs random \(randomMean)")
    }

    func testTunerIsDeterministicAndStartsWithALatinHypercube() {
        let tuner = Tuner(dimensions: 3, seed: 7)
        XCTAssertEqual(tuner.initialPoints, 4)
        let design = tuner.initialDesign()
        XCTAssertEqual(design.count, 4)
        for d in 0..<3 {
            XCTAssertEqual(Set(design.map { Int($0[d] * 4) }), [0, 1, 2, 3], "one point per stratum in dimension \(d)")
        }
        XCTAssertEqual(tuner.nextPoint(observed: [], values: []), design[0])
        let xs = design, ys = design.map { -($0[0] - 0.2) * ($0[0] - 0.2) - $0[1] * $0[2] }
        let a = tuner.nextPoint(observed: xs, values: ys), b = Tuner(dimensions: 3, seed: 7).nextPoint(observed: xs, values: ys)
        XCTAssertEqual(a, b, "same seed and observations, same proposal")
        XCTAssertTrue(a.allSatisfy { (0...1).contains($0) })
        XCTAssertNotEqual(Tuner(dimensions: 3, seed: 8).initialDesign(), design)
        let snapped = Tuner(dimensions: 1, seed: 1, quantize: { $0.map { ($0 * 4).rounded() / 4 } })
        let p = snapped.nextPoint(observed: [[0], [1], [0.5]], values: [0, 0.2, 1])
        XCTAssertEqual((p[0] * 4).rounded() / 4, p[0], "proposals are quantised")
        XCTAssertFalse([0, 1, 0.5].contains(p[0]), "quantised proposals avoid evaluated points while EI is positive")
    }

    // MARK: Search space

    func testDimensionMapsUnitIntervalToValues() {
        let lr = SearchDimension(key: "optim.lr", low: 1e-4, high: 1e-2, log: true)
        XCTAssertEqual(lr.value(atNormalized: 0), 1e-4)
        XCTAssertEqual(lr.value(atNormalized: 0.5), 1e-3)
        XCTAssertEqual(lr.value(atNormalized: 1), 1e-2)
        XCTAssertEqual(lr.value(atNormalized: 0.123456), 1.766e-4, "four significant digits")
        assertClose([Float(lr.normalized(1e-3))], [0.5], atol: 1e-12, rtol: 0, "log inverse")
        let layers = SearchDimension(key: "model.transformer.layers", low: 1, high: 4, integer: true)
        XCTAssertEqual((0..<8).map { layers.value(atNormalized: (Double($0) + 0.5) / 8) }, [1, 1, 2, 2, 3, 3, 4, 4], "equal share per integer")
        XCTAssertEqual(layers.value(atNormalized: layers.normalized(3)), 3)
        XCTAssertEqual(SearchDimension(key: "augment.mixup", low: 0, high: 0.5).value(atNormalized: 0.5), 0.25)
    }

    func testSpaceParsingKeepsOrderAndRejectsBadEntries() throws {
        let space = try SearchSpace.parse(yaml: """
            optim.weight_decay: {low: 1.0e-3, high: 0.1, log: true}
            model.transformer.layers: {low: 1, high: 3, integer: true}
            augment.mixup: {low: 0, high: 0.5}
            """, file: "s.yaml")
        XCTAssertEqual(space, SearchSpace([SearchDimension(key: "optim.weight_decay", low: 1e-3, high: 0.1, log: true),
                                           SearchDimension(key: "model.transformer.layers", low: 1, high: 3, integer: true),
                                           SearchDimension(key: "augment.mixup", low: 0, high: 0.5)]))
        func message(_ yaml: String) -> String {
            do { _ = try SearchSpace.parse(yaml: yaml, file: "s.yaml"); return "no error" } catch { return String(describing: error) }
        }
        XCTAssertTrue(message("optim.lr: {low: 1, high: 0.5}").contains("low < high"))
        XCTAssertTrue(message("optim.lr: {low: 0, high: 0.5, log: true}").contains("low > 0"))
        XCTAssertTrue(message("optim.lr: {low: 0.1, hi: 0.5}").contains("unknown field 'hi'"))
        XCTAssertTrue(message("optim.lr: {high: 0.5}").contains("needs low and high"))
        XCTAssertTrue(message("- optim.lr").contains("s.yaml"))
    }

    func testApplyingAPointByDottedKey() throws {
        var base = Config()
        base.model.transformer = Config.TransformerConfig(layers: 2, heads: 4, dModel: 64, dFF: 128)
        let space = SearchSpace([SearchDimension(key: "optim.lr", low: 1e-4, high: 1e-2, log: true),
                                 SearchDimension(key: "model.transformer.layers", low: 1, high: 4, integer: true),
                                 SearchDimension(key: "loss.dls_epsilon", low: 0, high: 0.2)])
        try space.validate(against: base, file: "s.yaml")
        let values = space.values(atNormalized: [0.5, 0.9, 0.25])
        XCTAssertEqual(values, [1e-3, 4, 0.05])
        let cfg = try space.applying(values, to: base, file: "s.yaml")
        XCTAssertEqual(cfg.optim.lr, 1e-3)
        XCTAssertEqual(cfg.model.transformer?.layers, 4)
        XCTAssertEqual(cfg.loss.dlsEpsilon, 0.05)
        XCTAssertEqual(cfg.model.transformer?.dModel, 64, "other settings kept")
        XCTAssertEqual(try space.values(in: cfg, file: "c.yaml"), values, "values read back through the config")
        let reloaded = try Config.parse(yaml: cfg.yamlString())
        XCTAssertEqual(try space.values(in: reloaded, file: "c.yaml"), values, "and through its YAML")
        try SearchSpace.standard.validate(against: Config(), file: "default")

        func message(_ space: SearchSpace, _ config: Config = Config()) -> String {
            do { try space.validate(against: config, file: "s.yaml"); return "no error" } catch { return String(describing: error) }
        }
        let unknown = message(SearchSpace([SearchDimension(key: "optim.learning_rate", low: 0.1, high: 1)]))
        XCTAssertTrue(unknown.contains("s.yaml") && unknown.contains("unknown config key 'optim.learning_rate'"), unknown)
        XCTAssertTrue(message(SearchSpace([SearchDimension(key: "optim.name", low: 0, high: 1)])).contains("not a numeric setting"))
        XCTAssertTrue(message(SearchSpace([SearchDimension(key: "data.clahe", low: 0, high: 1)])).contains("not a numeric setting"))
        var plain = Config(); plain.model.transformer = nil
        XCTAssertTrue(message(SearchSpace([SearchDimension(key: "model.transformer.layers", low: 1, high: 2, integer: true)]), plain)
            .contains("null in the config"))
        XCTAssertTrue(message(SearchSpace([SearchDimension(key: "model.transformer.layers", low: 1, high: 2.5)])).contains("integer: true"))
        XCTAssertTrue(message(SearchSpace([SearchDimension(key: "schedule.epochs", low: -2, high: 3, integer: true)])).contains("schedule.epochs"))
    }
}
