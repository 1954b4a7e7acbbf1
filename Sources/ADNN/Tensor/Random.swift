import Foundation

/// Seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
/// Every random draw in `adnn` (init, data order, augmentation, dropout) goes through one of these,
/// so a seed fixes a run (SPEC §7).
public struct SeededRNG: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E3779B97F4A7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
        s = (splitmix(&x), splitmix(&x), splitmix(&x), splitmix(&x))
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = SeededRNG.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = SeededRNG.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Uniform Double in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / Double(UInt64(1) << 53)) }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        var u1 = nextDouble()
        while u1 <= 1e-300 { u1 = nextDouble() }
        let u2 = nextDouble()
        return Float(sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2))
    }

    /// A derived generator for an independent stream (e.g. one per worker or per epoch).
    public mutating func split() -> SeededRNG { SeededRNG(seed: next()) }
}

extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout SeededRNG,
                               requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.ptr[i] = low + (high - low) * rng.nextUniform() }
        return t
    }

    /// Normal values with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout SeededRNG,
                              requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.ptr[i] = mean + std * rng.nextNormal() }
        return t
    }

    /// Truncated normal (as `torch.nn.init.trunc_normal_`): normal(mean, std) redrawn outside [a, b].
    public static func truncatedNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, a: Float = -2, b: Float = 2,
                                       rng: inout SeededRNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count {
            var v: Float
            repeat { v = mean + std * rng.nextNormal() } while v < a || v > b
            t.ptr[i] = v
        }
        return t
    }

    /// Values 0, 1, 2, … reshaped (handy in tests).
    public static func arange(_ n: Int, shape: [Int]? = nil) -> Tensor {
        Tensor((0..<n).map { Float($0) }, shape: shape ?? [n])
    }
}

/// The process-wide seeded generator used for parameter initialisation and dropout / drop-path
/// masks. `seed(_:)` it once at the start of a run (SPEC §7).
public enum GlobalRNG {
    nonisolated(unsafe) public static var generator = SeededRNG(seed: 0)
    /// Reseeds the global generator.
    public static func seed(_ s: UInt64) { generator = SeededRNG(seed: s) }
}
