import Foundation
import ADNN

/// Test-time augmentation for `adnn eval`, `adnn predict` and the final evaluation of `adnn train`:
/// the softmax probabilities averaged over several views of each input.
///
/// - `flip`: the image and its mirror (2 views).
/// - `crops`: ten-crop (Krizhevsky et al. 2012; the usual FER2013 protocol, e.g. Khaireddin & Chen
///   2021): the input upscaled by `cropScale` (1.125) and cropped back to its size at the centre and
///   the four corners, each with its mirror (10 views). Matches training's random crops.
public enum TestTimeAugmentation: String, CaseIterable, Sendable, Codable {
    case none, flip, crops

    /// Upscale factor before the five crops.
    public static let cropScale: Float = 1.125

    /// Forward passes per input.
    public var views: Int {
        switch self {
        case .none: return 1
        case .flip: return 2
        case .crops: return 10
        }
    }

    /// From `--tta` (flip) and `--tta-crops` (ten-crop, which includes the flips).
    public init(flip: Bool, crops: Bool) {
        self = crops ? .crops : (flip ? .flip : .none)
    }

    /// The views of a batch `[N, S, S, C]`, each `[N, S, S, C]`.
    public func views(of x: Tensor) -> [Tensor] {
        let h = x.shape[1], w = x.shape[2]
        func mirrored(_ t: Tensor) -> Tensor { t.indexSelect(axis: 2, indices: Array((0..<w).reversed())) }
        switch self {
        case .none: return [x]
        case .flip: return [x, mirrored(x)]
        case .crops:
            let bh = max(h + 1, Int((Float(h) * Self.cropScale).rounded()))
            let bw = max(w + 1, Int((Float(w) * Self.cropScale).rounded()))
            let big = resize(x, height: bh, width: bw, mode: .bilinear)
            let cy = (bh - h) / 2, cx = (bw - w) / 2
            let origins = [(cy, cx), (0, 0), (0, bw - w), (bh - h, 0), (bh - h, bw - w)]
            return origins.flatMap { (y, x0) -> [Tensor] in
                let crop = big.slice(axis: 1, range: y..<(y + h)).slice(axis: 2, range: x0..<(x0 + w))
                return [crop, mirrored(crop)]
            }
        }
    }

    /// Softmax probabilities `[N, K]` of `model` averaged over the views of `x`.
    public func probabilities(_ model: ADNNFER, _ x: Tensor) -> Tensor {
        probabilities([model], x)
    }

    /// Softmax probabilities `[N, K]` averaged over the views of `x` and the members of an ensemble
    /// (every member sees every view; each pair weighs the same), each member at its own
    /// `temperature`.
    public func probabilities(_ models: [ADNNFER], _ x: Tensor) -> Tensor {
        precondition(!models.isEmpty, "an ensemble needs at least one model")
        return noGrad {
            let all = views(of: x)
            var sum: Tensor? = nil
            for model in models {
                for v in all {
                    let p = model.probabilities(v)
                    sum = sum.map { $0 + p } ?? p
                }
            }
            let count = all.count * models.count
            return count == 1 ? sum! : sum! * (1 / Float(count))
        }
    }
}
