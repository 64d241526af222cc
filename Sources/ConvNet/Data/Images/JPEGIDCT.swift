// The fixed-point constants are named, as in the IJG's jidctint.c, after the values they stand for.
// swift-format-ignore-file: AlwaysUseLowerCamelCase

import Foundation

/// The 8×8 inverse DCT of JPEG decoding, with its naive twin.
///
/// ``islow(_:_:_:_:_:stride:)`` is libjpeg's accurate integer IDCT (`jidctint.c`,
/// `jpeg_idct_islow`: the Loeffler–Ligtenberg–Moschytz factorisation with 13-bit constants,
/// 2 extra bits between the passes, then rounding, +128 and libjpeg's range limit), the
/// default of libjpeg-turbo and so of Pillow; copying it bit for bit is what lets decoded JPEGs
/// match Pillow exactly. ``naive(_:quantization:)`` is the textbook formula in Double,
///
///     f(x, y) = ¼ Σᵤ Σᵥ C(u) C(v) F(u, v) cos((2x + 1)uπ / 16) cos((2y + 1)vπ / 16) + 128,
///     C(0) = 1/√2, C(k) = 1,
///
/// rounded and clamped to 0…255; the two differ by at most 1 on a sample (the tests check it).
public enum JPEGIDCT {
    static let constBits = 13
    static let pass1Bits = 2
    static let fix0_298631336 = 2446
    static let fix0_390180644 = 3196
    static let fix0_541196100 = 4433
    static let fix0_765366865 = 6270
    static let fix0_899976223 = 7373
    static let fix1_175875602 = 9633
    static let fix1_501321110 = 12299
    static let fix1_847759065 = 15137
    static let fix1_961570560 = 16069
    static let fix2_053119869 = 16819
    static let fix2_562915447 = 20995
    static let fix3_072711026 = 25172

    /// libjpeg's output range limit: the sample is taken modulo 1024 around 0 (as its
    /// `RANGE_MASK` table lookup does), then clamped to −128…127 and shifted by 128.
    @inline(__always)
    static func rangeLimit(_ value: Int) -> UInt8 {
        let wrapped = ((value + 512) & 1023) - 512
        return UInt8(min(max(wrapped + 128, 0), 255))
    }

    @inline(__always)
    static func descale(_ value: Int, _ bits: Int) -> Int { (value + (1 << (bits - 1))) >> bits }

    /// One block: 64 coefficients (natural order) at `coefficients[offset...]`, dequantized by
    /// `quantization` (natural order), to 8 rows of 8 samples at `output[origin...]`, rows
    /// `stride` apart.
    ///
    /// Coefficients are 16-bit and quantizers at most 16-bit, so every intermediate is below
    /// 2⁵⁶ in magnitude and Int arithmetic cannot overflow.
    @inline(__always)
    public static func islow(
        _ coefficients: UnsafeBufferPointer<Int16>, _ offset: Int, _ quantization: UnsafeBufferPointer<Int32>,
        _ output: UnsafeMutableBufferPointer<UInt8>, _ origin: Int, stride: Int
    ) {
        precondition(offset >= 0 && offset + 64 <= coefficients.count && quantization.count >= 64)
        precondition(origin >= 0 && origin + 7 * stride + 8 <= output.count)
        guard let input = coefficients.baseAddress, let quant = quantization.baseAddress, let out = output.baseAddress
        else { return }
        let block = input + offset
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 64) { ws in
            guard let w = ws.baseAddress else { return }
            // Pass 1: columns, results scaled up by √8 · 2^pass1Bits.
            for column in 0..<8 {
                func dequantized(_ row: Int) -> Int { Int(block[row * 8 + column]) * Int(quant[row * 8 + column]) }
                if block[8 + column] == 0 && block[16 + column] == 0 && block[24 + column] == 0
                    && block[32 + column] == 0
                    && block[40 + column] == 0 && block[48 + column] == 0 && block[56 + column] == 0
                {
                    let dc = dequantized(0) << pass1Bits
                    for row in 0..<8 { w[row * 8 + column] = dc }
                    continue
                }
                var z2 = dequantized(2)
                var z3 = dequantized(6)
                var z1 = (z2 + z3) * fix0_541196100
                var tmp2 = z1 + z3 * -fix1_847759065
                var tmp3 = z1 + z2 * fix0_765366865
                z2 = dequantized(0)
                z3 = dequantized(4)
                var tmp0 = (z2 + z3) << constBits
                var tmp1 = (z2 - z3) << constBits
                let tmp10 = tmp0 + tmp3
                let tmp13 = tmp0 - tmp3
                let tmp11 = tmp1 + tmp2
                let tmp12 = tmp1 - tmp2
                tmp0 = dequantized(7)
                tmp1 = dequantized(5)
                tmp2 = dequantized(3)
                tmp3 = dequantized(1)
                z1 = tmp0 + tmp3
                z2 = tmp1 + tmp2
                z3 = tmp0 + tmp2
                var z4 = tmp1 + tmp3
                let z5 = (z3 + z4) * fix1_175875602
                tmp0 *= fix0_298631336
                tmp1 *= fix2_053119869
                tmp2 *= fix3_072711026
                tmp3 *= fix1_501321110
                z1 *= -fix0_899976223
                z2 *= -fix2_562915447
                z3 *= -fix1_961570560
                z4 *= -fix0_390180644
                z3 += z5
                z4 += z5
                tmp0 += z1 + z3
                tmp1 += z2 + z4
                tmp2 += z2 + z3
                tmp3 += z1 + z4
                let shift = constBits - pass1Bits
                w[column] = descale(tmp10 + tmp3, shift)
                w[56 + column] = descale(tmp10 - tmp3, shift)
                w[8 + column] = descale(tmp11 + tmp2, shift)
                w[48 + column] = descale(tmp11 - tmp2, shift)
                w[16 + column] = descale(tmp12 + tmp1, shift)
                w[40 + column] = descale(tmp12 - tmp1, shift)
                w[24 + column] = descale(tmp13 + tmp0, shift)
                w[32 + column] = descale(tmp13 - tmp0, shift)
            }
            // Pass 2: rows, descaled by 8 · 2^pass1Bits, then +128 and the range limit.
            for row in 0..<8 {
                let r = w + row * 8
                let target = out + origin + row * stride
                if r[1] == 0 && r[2] == 0 && r[3] == 0 && r[4] == 0 && r[5] == 0 && r[6] == 0 && r[7] == 0 {
                    let value = rangeLimit(descale(r[0], pass1Bits + 3))
                    for x in 0..<8 { target[x] = value }
                    continue
                }
                var z2 = r[2]
                var z3 = r[6]
                var z1 = (z2 + z3) * fix0_541196100
                var tmp2 = z1 + z3 * -fix1_847759065
                var tmp3 = z1 + z2 * fix0_765366865
                var tmp0 = (r[0] + r[4]) << constBits
                var tmp1 = (r[0] - r[4]) << constBits
                let tmp10 = tmp0 + tmp3
                let tmp13 = tmp0 - tmp3
                let tmp11 = tmp1 + tmp2
                let tmp12 = tmp1 - tmp2
                tmp0 = r[7]
                tmp1 = r[5]
                tmp2 = r[3]
                tmp3 = r[1]
                z1 = tmp0 + tmp3
                z2 = tmp1 + tmp2
                z3 = tmp0 + tmp2
                var z4 = tmp1 + tmp3
                let z5 = (z3 + z4) * fix1_175875602
                tmp0 *= fix0_298631336
                tmp1 *= fix2_053119869
                tmp2 *= fix3_072711026
                tmp3 *= fix1_501321110
                z1 *= -fix0_899976223
                z2 *= -fix2_562915447
                z3 *= -fix1_961570560
                z4 *= -fix0_390180644
                z3 += z5
                z4 += z5
                tmp0 += z1 + z3
                tmp1 += z2 + z4
                tmp2 += z2 + z3
                tmp3 += z1 + z4
                let shift = constBits + pass1Bits + 3
                target[0] = rangeLimit(descale(tmp10 + tmp3, shift))
                target[7] = rangeLimit(descale(tmp10 - tmp3, shift))
                target[1] = rangeLimit(descale(tmp11 + tmp2, shift))
                target[6] = rangeLimit(descale(tmp11 - tmp2, shift))
                target[2] = rangeLimit(descale(tmp12 + tmp1, shift))
                target[5] = rangeLimit(descale(tmp12 - tmp1, shift))
                target[3] = rangeLimit(descale(tmp13 + tmp0, shift))
                target[4] = rangeLimit(descale(tmp13 - tmp0, shift))
            }
        }
    }

    /// The naive twin: the IDCT formula in Double on dequantized coefficients (natural order),
    /// rounded to the nearest integer and clamped to 0…255; 64 samples, row-major.
    public static func naive(_ coefficients: [Int], quantization: [Int]) -> [UInt8] {
        precondition(coefficients.count == 64 && quantization.count == 64)
        var result = [UInt8](repeating: 0, count: 64)
        for y in 0..<8 {
            for x in 0..<8 {
                var sum = 0.0
                for v in 0..<8 {
                    for u in 0..<8 {
                        let cu = u == 0 ? 1 / 2.0.squareRoot() : 1
                        let cv = v == 0 ? 1 / 2.0.squareRoot() : 1
                        let value = Double(coefficients[v * 8 + u] * quantization[v * 8 + u])
                        sum +=
                            cu * cv * value * cos(Double(2 * x + 1) * Double(u) * .pi / 16)
                            * cos(Double(2 * y + 1) * Double(v) * .pi / 16)
                    }
                }
                result[y * 8 + x] = UInt8(min(max((sum / 4 + 128).rounded(), 0), 255))
            }
        }
        return result
    }
}
