/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64) that gives the
/// same numbers on every platform: it uses only integer arithmetic, and `normal()` only IEEE
/// operations (its logarithm is computed here, not by the platform's libm).
///
/// ```swift
/// var random = SeededRandom(seed: 42)
/// let x = random.uniform()        // [0, 1)
/// let z = random.normal()         // mean 0, standard deviation 1
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The generator's 256-bit state; saving and restoring it resumes the same sequence.
    public var state: [UInt64]
    /// A second normal deviate left over from the last Marsaglia polar draw.
    public var spareNormal: Double?

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        var mix = seed
        state = (0..<4).map { _ in SeededRandom.splitMix(&mix) }
        spareNormal = nil
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = SeededRandom.rotateLeft(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = SeededRandom.rotateLeft(state[3], 45)
        return result
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform Double in [low, high).
    public mutating func uniform(in low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// A uniform integer in 0..<bound (unbiased), bound > 0.
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// A standard normal deviate (Marsaglia's polar method).
    public mutating func normal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = uniform(in: -1, 1)
            let v = uniform(in: -1, 1)
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let factor = (-2 * portableLogarithm(s) / s).squareRoot()
                spareNormal = v * factor
                return u * factor
            }
        }
    }

    /// A permutation of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var indices = Array(0..<count)
        if count < 2 { return indices }
        for i in stride(from: count - 1, to: 0, by: -1) {
            indices.swapAt(i, integer(below: i + 1))
        }
        return indices
    }
}

/// ln x for finite x > 0 using only IEEE-exact operations (+, −, ×, ÷), so that every platform
/// gets the same bits: x = m·2^e with m in [√½, √2), ln x = e·ln 2 + 2·atanh((m − 1)/(m + 1)).
func portableLogarithm(_ x: Double) -> Double {
    precondition(x > 0 && x.isFinite, "portableLogarithm needs a finite positive number")
    var exponent = Int(x.exponent)
    var mantissa = x.significand  // [1, 2)
    if mantissa > 1.4142135623730951 {
        mantissa /= 2
        exponent += 1
    }
    let s = (mantissa - 1) / (mantissa + 1)  // |s| ≤ 0.1716
    let s2 = s * s
    var term = s
    var sum = 0.0
    var k = 1.0
    while k < 40 {
        sum += term / k
        term *= s2
        k += 2
    }
    let ln2 = 0.6931471805599453
    return Double(exponent) * ln2 + 2 * sum
}
