import XCTest
import Foundation
@testable import ADNN
import ADNNTrain
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

/// `ImageClassifier` as the pipeline's classifier, as the CLI adapts it (`Sources/adnn/VideoCommand.swift`).
extension ImageClassifier: ExpressionClassifying {
    public var cropSize: Int { size }

    public func probabilities(_ crops: [PixelImage]) throws -> [[Float]] { try probabilities(batch: crops) }
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
