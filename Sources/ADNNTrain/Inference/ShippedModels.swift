import Foundation
import ADNN

/// The folders where the files of `models/` are looked for, in order: `models/` of the checkout that
/// holds the running binary (`…/.build/release/adnn` → `…/models/`), `models/` under the working
/// directory, then the shared copy next to the project. Works from any working directory of a fresh clone.
public func shippedModelCandidates(_ fileName: String) -> [String] {
    var candidates: [String] = []
    let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<5 {
        candidates.append(dir.appendingPathComponent("models/" + fileName).path)
        dir = dir.deletingLastPathComponent()
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/models/" + fileName)
    candidates.append("../shared/models/" + fileName)
    return candidates
}

/// The expression models that ship under `models/` (model cards in `models/README.md`), by the name
/// `adnn predict --model NAME` takes.
public enum ShippedModel: String, CaseIterable, Sendable {
    /// EfficientNet-Lite0, gray 72 px, 8 FERPlus classes (incl. contempt).
    case ferplus
    /// EfficientNet-Lite0, gray 72 px, the 7 FER2013 classes.
    case fer2013

    /// The file under `models/`.
    public var fileName: String { "adnn_\(rawValue)_lite0.safetensors" }

    /// Tried in this order when no model is named.
    public static let defaultOrder: [ShippedModel] = [.ferplus, .fer2013]

    /// The path of this model's file, nil when it is in none of `shippedModelCandidates`.
    public var path: String? {
        shippedModelCandidates(fileName).first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The checkpoint `--model` names: a shipped model's name, else a file; nil picks the first
    /// shipped model found (`defaultOrder`).
    /// - Throws: one line naming what was asked for and what exists.
    public static func resolve(_ nameOrFile: String?) throws -> String {
        let names = allCases.map(\.rawValue).joined(separator: ", ")
        guard let nameOrFile else {
            if let p = defaultOrder.lazy.compactMap(\.path).first { return p }
            throw ADNNError.io("no shipped expression model found (models/\(ShippedModel.ferplus.fileName) or models/\(ShippedModel.fer2013.fileName) next to the adnn checkout); pass --model FILE")
        }
        if let m = ShippedModel(rawValue: nameOrFile.lowercased()) {
            guard let p = m.path else { throw ADNNError.io("--model \(nameOrFile): models/\(m.fileName) is not in this checkout") }
            return p
        }
        guard FileManager.default.fileExists(atPath: nameOrFile) else {
            throw ADNNError.io("--model \(nameOrFile): no such checkpoint file (shipped models: \(names))")
        }
        return nameOrFile
    }
}
