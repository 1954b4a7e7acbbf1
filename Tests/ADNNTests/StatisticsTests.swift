import XCTest
@testable import ADNN
@testable import ADNNTrain

/// Reference values computed independently with SciPy 1.17 (`stats.ttest_rel`, `stats.binomtest`,
/// `2·stats.t.sf`).
final class StatisticsTests: XCTestCase {
    func testPairedTTestMatchesSciPy() {
        let r = Statistics.pairedTTest([0.652, 0.661, 0.648, 0.659, 0.655], [0.641, 0.650, 0.646, 0.644, 0.652])
        XCTAssertEqual(r.t, 3.3308166600162057, accuracy: 1e-9)
        XCTAssertEqual(r.p, 0.02908350320431777, accuracy: 1e-10)
        XCTAssertEqual(r.df, 4)
        let r2 = Statistics.pairedTTest([0.70, 0.72, 0.69], [0.71, 0.70, 0.705])
        XCTAssertEqual(r2.t, -0.15249857033260467, accuracy: 1e-9)
        XCTAssertEqual(r2.p, 0.8927887465162205, accuracy: 1e-10)
        XCTAssertEqual(Statistics.pairedTTest([1, 2], [1, 2]).p, 1)
    }

    func testStudentTDistributionMatchesSciPy() {
        XCTAssertEqual(Statistics.studentTwoSidedP(t: 2.5, df: 7), 0.04099221858575289, accuracy: 1e-12)
        XCTAssertEqual(Statistics.studentTwoSidedP(t: 0.3, df: 1), 0.8144528418445154, accuracy: 1e-12)
        XCTAssertEqual(Statistics.studentTwoSidedP(t: 12.0, df: 30), 5.580185415199261e-13, accuracy: 1e-18)
    }

    func testMcNemarExactMatchesSciPyBinomtest() {
        XCTAssertEqual(Statistics.mcnemarExactP(b: 3, c: 12), 0.03515625, accuracy: 1e-12)
        XCTAssertEqual(Statistics.mcnemarExactP(b: 60, c: 40), 0.05688793364098089, accuracy: 1e-12)
        XCTAssertEqual(Statistics.mcnemarExactP(b: 0, c: 5), 0.0625, accuracy: 1e-12)
        XCTAssertEqual(Statistics.mcnemarExactP(b: 0, c: 0), 1)
        let m = Statistics.mcnemar([true, true, false, false, true], [true, false, true, true, true])
        XCTAssertEqual(m.b, 1); XCTAssertEqual(m.c, 2)
    }

    func testBonferroniAndMeanStd() {
        XCTAssertEqual(Statistics.bonferroni(0.02, comparisons: 4), 0.08, accuracy: 1e-12)
        XCTAssertEqual(Statistics.bonferroni(0.4, comparisons: 4), 1)
        let s = Statistics.meanStd([1, 2, 3, 4])
        XCTAssertEqual(s.mean, 2.5); XCTAssertEqual(s.std, 1.2909944487358056, accuracy: 1e-12)
    }
}
