import Foundation
import ADNN
import ADNNData

/// A closed vocabulary of the run configuration: decodes from its string, and a string outside the
/// vocabulary is a decoding error that lists the allowed values (reported with the file and key).
public protocol ConfigVocabulary: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension ConfigVocabulary {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let v = Self(rawValue: text) ?? Self(rawValue: text.lowercased()) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription:
                "'\(text)' is not one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = v
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The allowed values, comma-separated (for help texts and messages).
    public static var vocabulary: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// `optim.name`.
public enum OptimizerKind: String, ConfigVocabulary {
    case adamw, sgd
}

/// `schedule.monitor`: the validation value that picks `best.safetensors` and drives early stopping.
public enum Monitor: String, ConfigVocabulary {
    case valAccuracy = "val_accuracy", valMacroF1 = "val_macro_f1", valLoss = "val_loss"
}

/// `data.format`: a data-set layout, or `auto` to detect it.
public enum DataFormatSetting: String, ConfigVocabulary {
    case auto, fer2013, ferplus, rafdb, affectnet, folder, synthetic

    /// The layout to force, nil for detection.
    public var layout: DatasetFormat? { self == .auto ? nil : DatasetFormat(rawValue: rawValue) }
}
