import Foundation

/// The pipeline's deterministic random number generator (xoshiro256**, seeded through
/// SplitMix64). Streams are derived from `(seed, epoch, index)` so that augmentation does not
/// depend on which worker thread handles a sample.
public struct DataRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator seeded from one 64-bit value.
    public init(seed: UInt64) {
        var sm = seed
        s0 = DataRNG.splitMix(&sm); s1 = DataRNG.splitMix(&sm)
        s2 = DataRNG.splitMix(&sm); s3 = DataRNG.splitMix(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    /// The generator of stream `(seed, a, b, c)`: e.g. `(seed, epoch, sampleIndex, purpose)`.
    public init(seed: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        self.init(seed: DataRNG.mix(DataRNG.mix(DataRNG.mix(seed ^ 0x9E37_79B9_7F4A_7C15, a), b), c))
    }

    @inline(__always)
    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Mixes `v` into hash state `h` (SplitMix64 finaliser of the sum).
    @inline(__always)
    static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
        var x = h &+ v &* 0xD6E8_FEB8_6659_FD93
        return splitMix(&x)
    }

    /// Next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    @inline(__always)
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Uniform integer in 0..<n (n > 0), without modulo bias.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "DataRNG.int(below:) needs n > 0")
        return Int(next(upperBound: UInt64(n)))
    }

    /// `true` with probability `p`.
    @inline(__always)
    public mutating func bernoulli(_ p: Double) -> Bool { p > 0 && uniform() < p }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        var u = uniform()
        while u <= 0 { u = uniform() }
        let v = uniform()
        return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang (with the `U^(1/shape)` boost for shape < 1).
    public mutating func gamma(_ shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be positive")
        if shape < 1 {
            var u = uniform()
            while u <= 0 { u = uniform() }
            return gamma(shape + 1) * Foundation.pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if u > 0, Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// Beta(a, b) from two gamma draws.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(a), y = gamma(b)
        return x + y > 0 ? x / (x + y) : 0.5
    }

    /// A uniformly random permutation of 0..<n (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(below: i + 1)) } }
        return p
    }
}
