import XCTest
import Foundation
@testable import ADNN
@testable import ADNNTrain
import ADNNData

/// Ensembles of checkpoints (`CheckpointEnsemble`): averaged probabilities in `eval`, `predict` and
/// TTA, the `--predictions` file, and one clear error for a member that does not fit.
final class EnsembleTests: XCTestCase {
    let data = "synthetic:train=0,val=21,test=0,size=24"

    func config(inputSize: Int = 24) -> Config {
        var cfg = Config()
        cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = inputSize; cfg.model.numClasses = 7
        cfg.model.cbam = nil; cfg.model.transformer = nil
        cfg.data.mean = [0.5]; cfg.data.std = [0.25]; cfg.data.clahe = false
        return cfg
    }

    /// A checkpoint whose head is scaled so members differ clearly.
    func writeMember(_ path: String, cfg: Config, headScale: Float) throws {
        let model = try ADNNFER(cfg.model)
        let tensors = model.stateDict().map { (name, t) -> (String, Tensor) in
            name == "head.weight" ? (name, t * headScale + Tensor(repeating: headScale / 10, shape: t.shape)) : (name, t)
        }
        try Checkpoint(tensors: tensors, config: cfg, classes: [], epoch: 1, metric: 0).write(to: path)
    }

    /// A temporary folder with two members that disagree: (folder, first, second).
    func twoMembers() throws -> (String, String, String) {
        let d = try makeTemporaryFolder("ensemble")
        let a = d + "/a.safetensors", b = d + "/b.safetensors"
        try writeMember(a, cfg: config(), headScale: 3)
        try writeMember(b, cfg: config(), headScale: -2)
        return (d, a, b)
    }

    func probabilities(_ file: String) throws -> (labels: [Int], rows: [[Double]]) {
        let o = try JSONFiles.readJSON(file)
        let labels = try XCTUnwrap(o["labels"] as? [Int])
        let rows = try XCTUnwrap(o["probabilities"] as? [[Double]])
        XCTAssertEqual(try XCTUnwrap(o["predictions"] as? [Int]).count, labels.count)
        return (labels, rows)
    }

    func testEvalAveragesMembersAndWritesPredictions() throws {
        let (d, a, b) = try twoMembers()
        defer { try? FileManager.default.removeItem(atPath: d) }
        for (name, members) in [("a", [a]), ("b", [b]), ("ab", [a, b])] {
            try EvaluationRequest(checkpoints: members, data: data, split: "val", jsonPath: d + "/\(name).json",
                                  predictionsPath: d + "/\(name)_pred.json", batchSize: 8, tta: .flip).run(printing: false)
        }
        let pa = try probabilities(d + "/a_pred.json"), pb = try probabilities(d + "/b_pred.json")
        let pab = try probabilities(d + "/ab_pred.json")
        XCTAssertEqual(pab.labels, pa.labels)
        XCTAssertEqual(pab.rows.count, 21)
        var differ = false
        for i in 0..<pab.rows.count {
            XCTAssertEqual(pab.rows[i].reduce(0, +), 1, accuracy: 1e-4)
            for k in 0..<7 {
                XCTAssertEqual(pab.rows[i][k], (pa.rows[i][k] + pb.rows[i][k]) / 2, accuracy: 2e-6, "row \(i) class \(k)")
                if abs(pa.rows[i][k] - pb.rows[i][k]) > 1e-3 { differ = true }
            }
        }
        XCTAssertTrue(differ, "the two members must disagree for the test to mean anything")
        let obj = try JSONFiles.readJSON(d + "/ab.json")
        XCTAssertEqual(obj["checkpoints"] as? [String], [a, b])
        XCTAssertEqual(obj["checkpoint"] as? String, a)
        XCTAssertNil(try JSONFiles.readJSON(d + "/a.json")["checkpoints"], "a single checkpoint is not an ensemble")
        // The eval JSON's accuracy is the accuracy of the averaged probabilities written beside it.
        let correct = zip(pab.rows, pab.labels).filter { row, y in row.indices.max { row[$0] < row[$1] } == y }.count
        XCTAssertEqual(try XCTUnwrap(obj["accuracy"] as? Double), Double(correct) / 21, accuracy: 1e-9)
    }

    func testClassifierAndTTAAverageMembers() throws {
        let (d, a, b) = try twoMembers()
        defer { try? FileManager.default.removeItem(atPath: d) }
        var img = PixelImage(width: 24, height: 24, channels: 1)
        for i in 0..<img.pixels.count { img.pixels[i] = UInt8((i * 37) % 256) }
        let ca = try ImageClassifier(checkpoint: a), cb = try ImageClassifier(checkpoint: b)
        let both = try ImageClassifier(checkpoints: [a, b])
        XCTAssertEqual(both.members.count, 2)
        XCTAssertEqual(both.path, a + " + " + b)
        for tta in TestTimeAugmentation.allCases {
            let p = try both.probabilities(img, tta: tta)
            let pa = try ca.probabilities(img, tta: tta), pb = try cb.probabilities(img, tta: tta)
            for k in 0..<7 { XCTAssertEqual(p[k], (pa[k] + pb[k]) / 2, accuracy: 1e-6, "\(tta) class \(k)") }
        }
        // Prediction through the request: shipped-model names and files resolve to the same members.
        let file = d + "/face.png"
        try savePNG(img, to: file)
        let r = try PredictionRequest(models: [a, b], images: [file], faces: .never).run()
        let p = try both.probabilities(img)
        for k in 0..<7 { XCTAssertEqual(r[0][0].probabilities[k], p[k], accuracy: 1e-6) }
    }

    /// Members with different inputs (24 px gray vs 32 px with other normalisation) each see the
    /// images through their own transform; the ensemble is still the plain average.
    func testMembersOfDifferentInputSizesEachGetTheirOwnTransform() throws {
        let d = try makeTemporaryFolder("ensemble")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let a = d + "/a.safetensors", big = d + "/big.safetensors", twin = d + "/twin.safetensors"
        var bigCfg = config(inputSize: 32)
        bigCfg.data.mean = [0.4]; bigCfg.data.std = [0.3]
        try writeMember(a, cfg: config(), headScale: 3)
        try writeMember(big, cfg: bigCfg, headScale: -2)
        try writeMember(twin, cfg: config(), headScale: 1)
        let ensemble = try CheckpointEnsemble([a, big, twin])
        XCTAssertEqual(ensemble.groups.map(\.members), [[0, 2], [1]])
        XCTAssertEqual(ensemble.groups.map(\.transform.size), [24, 32])
        XCTAssertEqual(ensemble.largestInput, 32)
        for (name, members) in [("a", [a]), ("big", [big]), ("twin", [twin]), ("all", [a, big, twin])] {
            try EvaluationRequest(checkpoints: members, data: data, split: "val", predictionsPath: d + "/\(name)_pred.json",
                                  batchSize: 8, tta: .crops).run(printing: false)
        }
        let pa = try probabilities(d + "/a_pred.json"), pb = try probabilities(d + "/big_pred.json")
        let pt = try probabilities(d + "/twin_pred.json"), pall = try probabilities(d + "/all_pred.json")
        XCTAssertEqual(pall.labels, pa.labels)
        for i in 0..<pall.rows.count {
            for k in 0..<7 {
                XCTAssertEqual(pall.rows[i][k], (pa.rows[i][k] + pb.rows[i][k] + pt.rows[i][k]) / 3, accuracy: 2e-6, "row \(i) class \(k)")
            }
        }
        var img = PixelImage(width: 40, height: 40, channels: 1)
        for i in 0..<img.pixels.count { img.pixels[i] = UInt8((i * 53) % 256) }
        let all = try ImageClassifier(checkpoints: [a, big, twin])
        XCTAssertEqual(all.cropSize, 32)
        XCTAssertEqual(all.size, 24, "size stays the first member's input")
        let p = try all.probabilities(img, tta: .flip)
        let singles = try [a, big, twin].map { try ImageClassifier(checkpoint: $0).probabilities(img, tta: .flip) }
        for k in 0..<7 { XCTAssertEqual(p[k], singles.reduce(0) { $0 + $1[k] } / 3, accuracy: 1e-6, "class \(k)") }
    }

    func testMembersThatDoNotFitAreNamed() throws {
        let d = try makeTemporaryFolder("ensemble")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let a = d + "/a.safetensors", big = d + "/big.safetensors", named = d + "/named.safetensors"
        try writeMember(a, cfg: config(), headScale: 1)
        try writeMember(big, cfg: config(inputSize: 32), headScale: 1)
        let model = try ADNNFER(config().model)
        try Checkpoint(tensors: model.stateDict(), config: config(), classes: ["a", "b", "c", "d", "e", "f", "g"], epoch: 1, metric: 0)
            .write(to: named)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        var eight = config(); eight.model.numClasses = 8
        let other = d + "/eight.safetensors"
        try writeMember(other, cfg: eight, headScale: 1)
        let e1 = message { _ = try ImageClassifier(checkpoints: [a, other]) }
        XCTAssertTrue(e1.contains(other) && e1.contains("model.num_classes") && e1.contains("8"), e1)
        XCTAssertNoThrow(try ImageClassifier(checkpoints: [a, big]), "members may differ in input size")
        let e2 = message { _ = try ImageClassifier(checkpoints: [a, named]) }
        XCTAssertTrue(e2.contains(named) && e2.contains("class names"), e2)
        let e3 = message { _ = try ImageClassifier(checkpoints: [a, a]) }
        XCTAssertTrue(e3.contains(a) && e3.contains("twice"), e3)
        let e4 = message { try EvaluationRequest(checkpoints: [a, d + "/missing.safetensors"], data: data).run(printing: false) }
        XCTAssertTrue(e4.contains(d + "/missing.safetensors") && e4.contains("no such checkpoint"), e4)
        let e5 = message { try EvaluationRequest(checkpoints: [a], data: data, predictionsPath: d + "/no/such/dir/p.json").run(printing: false) }
        XCTAssertTrue(e5.contains("--predictions") && e5.contains(d + "/no/such/dir/p.json"), e5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/no"), "nothing is created on failure")
    }
}
