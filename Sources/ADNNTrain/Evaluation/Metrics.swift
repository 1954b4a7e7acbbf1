import Foundation
import ADNN

/// Classification metrics of an evaluation (SPEC §5 eval JSON).
public struct EvalMetrics {
    public let classes: [String]
    public let n: Int
    public let accuracy: Double
    public let macroF1: Double
    public let balancedAccuracy: Double
    /// Macro one-vs-rest ROC AUC (classes without positives or negatives are skipped).
    public let aucMacroOvR: Double
    public let precision: [Double], recall: [Double], f1: [Double]
    public let support: [Int]
    /// Rows = truth, columns = prediction.
    public let confusion: [[Int]]
    /// Mean cross-entropy of the probabilities.
    public let loss: Double
    /// Expected calibration error over 10 equal-width confidence bins (`expectedCalibrationError`).
    public let ece: Double

    /// Computes every metric from per-sample class probabilities `[n, k]` and true labels.
    public init(probabilities: [Float], labels: [Int], classes: [String]) {
        let k = classes.count, n = labels.count
        precondition(probabilities.count == n * k, "EvalMetrics: \(probabilities.count) probabilities for \(n)×\(k)")
        self.classes = classes; self.n = n
        var conf = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var nll = 0.0
        for i in 0..<n {
            var best = 0
            for j in 1..<k where probabilities[i * k + j] > probabilities[i * k + best] { best = j }
            conf[labels[i]][best] += 1
            nll -= Foundation.log(Double(max(probabilities[i * k + labels[i]], 1e-12)))
        }
        confusion = conf
        loss = n > 0 ? nll / Double(n) : 0
        ece = expectedCalibrationError(probabilities: probabilities, labels: labels, classes: k)
        var p = [Double](repeating: 0, count: k), r = p, f = p, sup = [Int](repeating: 0, count: k)
        var correct = 0
        for j in 0..<k {
            let tp = Double(conf[j][j])
            correct += conf[j][j]
            let predicted = Double((0..<k).reduce(0) { $0 + conf[$1][j] })
            let actual = Double(conf[j].reduce(0, +))
            sup[j] = Int(actual)
            p[j] = predicted > 0 ? tp / predicted : 0
            r[j] = actual > 0 ? tp / actual : 0
            f[j] = p[j] + r[j] > 0 ? 2 * p[j] * r[j] / (p[j] + r[j]) : 0
        }
        precision = p; recall = r; f1 = f; support = sup
        accuracy = n > 0 ? Double(correct) / Double(n) : 0
        let present = (0..<k).filter { sup[$0] > 0 }
        macroF1 = present.isEmpty ? 0 : present.reduce(0) { $0 + f[$1] } / Double(present.count)
        balancedAccuracy = present.isEmpty ? 0 : present.reduce(0) { $0 + r[$1] } / Double(present.count)
        var aucs: [Double] = []
        for j in 0..<k {
            let pos = sup[j], neg = n - pos
            guard pos > 0 && neg > 0 else { continue }
            // Mann–Whitney U with average ranks for ties.
            let order = (0..<n).sorted { probabilities[$0 * k + j] < probabilities[$1 * k + j] }
            var rankSum = 0.0, i = 0
            while i < n {
                var e = i
                while e + 1 < n && probabilities[order[e + 1] * k + j] == probabilities[order[i] * k + j] { e += 1 }
                let avg = Double(i + e) / 2 + 1
                for t in i...e where labels[order[t]] == j { rankSum += avg }
                i = e + 1
            }
            aucs.append((rankSum - Double(pos) * Double(pos + 1) / 2) / (Double(pos) * Double(neg)))
        }
        aucMacroOvR = aucs.isEmpty ? 0 : aucs.reduce(0, +) / Double(aucs.count)
    }

    /// The eval JSON object of SPEC §5 (plus `images_per_second` supplied by the caller).
    public func json(dataset: String, split: String, imagesPerSecond: Double) -> [String: Any] {
        var perClass: [String: Any] = [:]
        for (j, c) in classes.enumerated() {
            perClass[c] = ["precision": precision[j], "recall": recall[j], "f1": f1[j], "support": support[j]]
        }
        return ["dataset": dataset, "split": split, "classes": classes, "n": n, "accuracy": accuracy, "macro_f1": macroF1,
                "balanced_accuracy": balancedAccuracy, "auc_macro_ovr": aucMacroOvR, "per_class": perClass,
                "confusion": confusion, "images_per_second": imagesPerSecond, "loss": loss, "ece": ece]
    }

    /// Markdown summary table and per-class table.
    public func markdown(title: String) -> String {
        var s = "### \(title)\n\n| metric | value |\n|---|---:|\n"
        s += String(format: "| images | %d |\n| accuracy | %.2f %% |\n| macro-F1 | %.2f %% |\n| balanced accuracy | %.2f %% |\n| AUC (macro OvR) | %.4f |\n| ECE (10 bins) | %.2f %% |\n",
                    n, accuracy * 100, macroF1 * 100, balancedAccuracy * 100, aucMacroOvR, ece * 100)
        s += "\n| class | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n"
        for (j, c) in classes.enumerated() {
            s += String(format: "| %@ | %.3f | %.3f | %.3f | %d |\n", c, precision[j], recall[j], f1[j], support[j])
        }
        s += "\nconfusion (rows = truth, columns = prediction):\n\n| | " + classes.map { String($0.prefix(5)) }.joined(separator: " | ") + " |\n"
        s += "|---|" + classes.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for (j, c) in classes.enumerated() {
            s += "| \(c) | " + confusion[j].map(String.init).joined(separator: " | ") + " |\n"
        }
        return s
    }
}

/// Expected calibration error `Σ_b (n_b / n) · |accuracy_b − confidence_b|` of per-sample class
/// probabilities `[n, k]` over `bins` equal-width bins of the top probability (Guo et al. 2017,
/// https://arxiv.org/abs/1706.04599; the bins `adnn report` draws). 0 for no samples.
public func expectedCalibrationError(probabilities: [Float], labels: [Int], classes k: Int, bins: Int = 10) -> Double {
    let n = labels.count, b = max(bins, 1)
    guard n > 0, k > 0, probabilities.count == n * k else { return 0 }
    var count = [Int](repeating: 0, count: b), correct = count, confidence = [Double](repeating: 0, count: b)
    for i in 0..<n {
        var best = 0
        for j in 1..<k where probabilities[i * k + j] > probabilities[i * k + best] { best = j }
        let c = min(max(Double(probabilities[i * k + best]), 0), 1)
        let bin = min(Int(c * Double(b)), b - 1)
        count[bin] += 1; confidence[bin] += c
        if best == labels[i] { correct[bin] += 1 }
    }
    var e = 0.0
    for j in 0..<b where count[j] > 0 {
        e += Double(count[j]) / Double(n) * abs(Double(correct[j]) / Double(count[j]) - confidence[j] / Double(count[j]))
    }
    return e
}
