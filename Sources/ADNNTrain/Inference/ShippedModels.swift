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
/// `adnn predict --model NAME` takes. A shipped model is one file or an ensemble of several
/// (`fileNames`), whose probabilities are averaged.
public enum ShippedModel: String, CaseIterable, Sendable {
    /// Two EfficientNet-Lite0s (gray 112 px, the main file, and gray 96 px), 8 FERPlus classes (incl. contempt).
    case ferplus
    /// EfficientNet-Lite0, gray 72 px, the 7 FER2013 classes.
    case fer2013

    /// The member files under `models/` (the first is the model's main file).
    public var fileNames: [String] {
        switch self {
        case .ferplus: return ["adnn_ferplus_lite0_112.safetensors", "adnn_ferplus_lite0_96.safetensors"]
        case .fer2013: return ["adnn_fer2013_lite0.safetensors", "adnn_fer2013_lite0_2.safetensors"]
        }
    }

    /// The main file under `models/`.
    public var fileName: String { fileNames[0] }

    /// Tried in this order when no model is named.
    public static let defaultOrder: [ShippedModel] = [.ferplus, .fer2013]

    /// The paths of this model's files, nil when any of them is in none of `shippedModelCandidates`
    /// (all members are taken from the same folder).
    public var paths: [String]? {
        for main in shippedModelCandidates(fileName) where FileManager.default.fileExists(atPath: main) {
            let dir = (main as NSString).deletingLastPathComponent
            let all = fileNames.map { (dir as NSString).appendingPathComponent($0) }
            if all.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { return all }
        }
        return nil
    }

    /// The checkpoint files `--model` names: a shipped model's name (its member files), else a file;
    /// nil picks the first shipped model found (`defaultOrder`).
    /// - Throws: one line naming what was asked for and what exists.
    public static func resolve(_ nameOrFile: String?) throws -> [String] {
        let names = allCases.map(\.rawValue).joined(separator: ", ")
        guard let nameOrFile else {
            if let p = defaultOrder.lazy.compactMap(\.paths).first { return p }
            throw ADNNError.io("no shipped expression model found (models/\(ShippedModel.ferplus.fileName) or models/\(ShippedModel.fer2013.fileName) next to the adnn checkout); pass --model FILE")
        }
        if let m = ShippedModel(rawValue: nameOrFile.lowercased()) {
            guard let p = m.paths else {
                throw ADNNError.io("--model \(nameOrFile): models/\(m.fileNames.joined(separator: " + models/")) is not in this checkout")
            }
            return p
        }
        guard FileManager.default.fileExists(atPath: nameOrFile) else {
            throw ADNNError.io("--model \(nameOrFile): no such checkpoint file (shipped models: \(names))")
        }
        return [nameOrFile]
    }

    /// Every `--model` given, resolved and concatenated (an ensemble when more than one file);
    /// none given picks the default shipped model.
    public static func resolve(all namesOrFiles: [String]) throws -> [String] {
        if namesOrFiles.isEmpty { return try resolve(nil) }
        return try namesOrFiles.flatMap { try resolve($0) }
    }
}
