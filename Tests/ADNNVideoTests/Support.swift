import XCTest
import Foundation
@testable import ADNN
import ADNNData
import ADNNVideo

/// `../shared/<relative>` next to the repository, or nil (with a printed reason) when absent.
func sharedAssetPath(_ relative: String) -> String? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("../shared/" + relative).standardizedFileURL.path
    if FileManager.default.fileExists(atPath: path) { return path }
    print("skipping: \(path) is absent (shared assets not installed)")
    return nil
}

func makeTempDir(_ tag: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-video-\(tag)-\(getpid())-\(UUID().uuidString.prefix(6))").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// A randomly initialised 3-class gray 24 px EfficientNet-B0 checkpoint (classes happiness, anger,
/// neutral), as the CLI tests write it, for tests that need a model but not a trained one.
func writeTinyCheckpoint(_ path: String) throws {
    var cfg = Config()
    cfg.model.backbone = "efficientnet_b0"; cfg.model.inChans = 1; cfg.model.inputSize = 24; cfg.model.numClasses = 3
    cfg.model.cbam = nil; cfg.model.transformer = nil
    cfg.data.mean = [0.5]; cfg.data.std = [0.25]; cfg.data.clahe = false
    let model = try ADNNFER(cfg.model)
    try Checkpoint(tensors: model.stateDict(), config: cfg, classes: ["happiness", "anger", "neutral"], epoch: 1, metric: 0)
        .write(to: path)
}

/// A checkpoint as an `ExpressionClassifying` (what the CLI's `ImageClassifier` adapter does):
/// the evaluation transform of the checkpoint's config, every crop of a frame in one batch.
final class CheckpointClassifier: ExpressionClassifying {
    let model: ADNNFER
    let transform: TransformConfig
    let classes: [String]
    let cropSize: Int
    let channels: Int

    init(path: String) throws {
        let ck = try Checkpoint.read(path)
        model = try ck.makeModel()
        let m = ck.config.model
        transform = TransformConfig(size: m.inputSize, channels: m.inChans, clahe: ck.config.data.clahe,
                                    mean: ck.config.data.mean, std: ck.config.data.std)
        classes = ck.classes
        cropSize = m.inputSize
        channels = m.inChans
    }

    func probabilities(_ crops: [PixelImage]) -> [[Float]] {
        let s = cropSize, per = s * s * channels
        var data = [Float](); data.reserveCapacity(crops.count * per)
        for c in crops { data += transform.tensorData(for: c) }
        let p = noGrad { model(Tensor(data, shape: [crops.count, s, s, channels])).softmax(axis: -1) }.scalars
        let k = classes.count
        return (0..<crops.count).map { Array(p[($0 * k)..<(($0 + 1) * k)]) }
    }
}

/// `frames.csv` parsed: header and rows as dictionaries of strings (no quoted fields in our outputs).
func readCSV(_ path: String) throws -> (header: [String], rows: [[String: String]]) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let lines = text.split(separator: "\n").map(String.init)
    guard let first = lines.first else { return ([], []) }
    let header = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    let rows = lines.dropFirst().map { line -> [String: String] in
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var d: [String: String] = [:]
        for (k, v) in zip(header, f) { d[k] = v }
        return d
    }
    return (header, rows)
}

/// |a − e| ≤ atol + rtol·|e| elementwise.
func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 0,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): count", file: file, line: line)
    for i in 0..<min(actual.count, expected.count) where !(abs(actual[i] - expected[i]) <= atol + rtol * abs(expected[i])) {
        XCTFail("\(message): element \(i) is \(actual[i]), expected \(expected[i])", file: file, line: line)
        return
    }
}
