import Foundation

/// Chroma upsampling as libjpeg-turbo does it by default (`jdsample.c`, `do_fancy_upsampling`):
///
/// - 2:1 horizontal (`h2v1`), a triangle filter: each output sample is ¾ of the nearer input
///   sample + ¼ of the further one, rounding alternately down and up (+1, +2 before >> 2);
/// - 2:1 vertical (`h1v2`): the same between rows (+1 above, +2 below);
/// - 2:1 both ways (`h2v2`): the filter in both directions, 9/16, 3/16, 3/16, 1/16
///   (+8, +7 before >> 4);
/// - h2v1 and h2v2 on chroma at most 2 samples wide, and every other integral ratio (4:1:1,
///   3:1, …): box replication.
///
/// Edges repeat the first and last real sample (libjpeg's context rows duplicate the first and
/// last row; its SIMD code repeats the last column). Input: a plane of `stride` samples per
/// row holding `sampledWidth` × `sampledHeight` real samples; output: `width` × `height`.
enum JPEGUpsampling {
    static func upsample(
        _ plane: [UInt8], stride: Int, sampledWidth: Int, sampledHeight: Int, horizontalFactor: Int,
        verticalFactor: Int,
        width: Int, height: Int
    ) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: width * height)
        plane.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                let fancyHorizontal = horizontalFactor == 2 && sampledWidth > 2
                switch (horizontalFactor, verticalFactor) {
                case (1, 1):
                    for y in 0..<height {
                        for x in 0..<width { output[y * width + x] = input[y * stride + x] }
                    }
                case (2, 1) where fancyHorizontal:
                    for y in 0..<height {
                        let row = y * stride
                        for x in 0..<width {
                            let i = x >> 1
                            let this = 3 * Int(input[row + i])
                            if x & 1 == 0 {
                                output[y * width + x] =
                                    i == 0 ? input[row] : UInt8((this + Int(input[row + i - 1]) + 1) >> 2)
                            } else {
                                output[y * width + x] =
                                    i == sampledWidth - 1
                                    ? input[row + i] : UInt8((this + Int(input[row + i + 1]) + 2) >> 2)
                            }
                        }
                    }
                case (1, 2):
                    for y in 0..<height {
                        let r = y >> 1
                        let near = r * stride
                        let far = (y & 1 == 0 ? max(r - 1, 0) : min(r + 1, sampledHeight - 1)) * stride
                        let bias = y & 1 == 0 ? 1 : 2
                        for x in 0..<width {
                            output[y * width + x] = UInt8((3 * Int(input[near + x]) + Int(input[far + x]) + bias) >> 2)
                        }
                    }
                case (2, 2) where fancyHorizontal:
                    for y in 0..<height {
                        let r = y >> 1
                        let near = r * stride
                        let far = (y & 1 == 0 ? max(r - 1, 0) : min(r + 1, sampledHeight - 1)) * stride
                        func columnSum(_ i: Int) -> Int { 3 * Int(input[near + i]) + Int(input[far + i]) }
                        for x in 0..<width {
                            let i = x >> 1
                            let this = columnSum(i)
                            if x & 1 == 0 {
                                output[y * width + x] = UInt8(
                                    i == 0 ? (this * 4 + 8) >> 4 : (this * 3 + columnSum(i - 1) + 8) >> 4)
                            } else {
                                output[y * width + x] = UInt8(
                                    i == sampledWidth - 1 ? (this * 4 + 7) >> 4 : (this * 3 + columnSum(i + 1) + 7) >> 4
                                )
                            }
                        }
                    }
                default:
                    for y in 0..<height {
                        let row = (y / verticalFactor) * stride
                        for x in 0..<width { output[y * width + x] = input[row + x / horizontalFactor] }
                    }
                }
            }
        }
        return result
    }
}

/// YCbCr → RGB with libjpeg's fixed-point tables (`jdcolor.c`, 16 fraction bits):
///
///     R = Y + round(1.40200 · (Cr − 128))
///     G = Y + ((−0.34414 · (Cb − 128) − 0.71414 · (Cr − 128)) · 2¹⁶ + 2¹⁵) >> 16
///     B = Y + round(1.77200 · (Cb − 128))
///
/// each clamped to 0…255, the constants rounded to 16 fraction bits first.
enum JPEGColor {
    static let scaleBits = 16
    static let oneHalf = 1 << 15
    static func fix(_ value: Double) -> Int { Int(value * Double(1 << scaleBits) + 0.5) }

    static let tables: (crR: [Int], cbB: [Int], crG: [Int], cbG: [Int]) = {
        var crR = [Int](repeating: 0, count: 256)
        var cbB = crR
        var crG = crR
        var cbG = crR
        for i in 0..<256 {
            let x = i - 128
            crR[i] = (fix(1.40200) * x + oneHalf) >> scaleBits
            cbB[i] = (fix(1.77200) * x + oneHalf) >> scaleBits
            crG[i] = -fix(0.71414) * x
            cbG[i] = -fix(0.34414) * x + oneHalf
        }
        return (crR, cbB, crG, cbG)
    }()

    @inline(__always)
    static func clamp(_ value: Int) -> UInt8 { UInt8(min(max(value, 0), 255)) }

    /// Interleaved RGB from full-size Y, Cb, Cr planes.
    static func yccToRGB(_ luma: [UInt8], _ blue: [UInt8], _ red: [UInt8]) -> [UInt8] {
        let (crR, cbB, crG, cbG) = tables
        var result = [UInt8](repeating: 0, count: luma.count * 3)
        for i in 0..<luma.count {
            let y = Int(luma[i])
            let cb = Int(blue[i])
            let cr = Int(red[i])
            result[i * 3] = clamp(y + crR[cr])
            result[i * 3 + 1] = clamp(y + ((cbG[cb] + crG[cr]) >> scaleBits))
            result[i * 3 + 2] = clamp(y + cbB[cb])
        }
        return result
    }

    /// Interleaved RGB from full-size R, G, B planes (an Adobe RGB JPEG).
    static func interleave(_ r: [UInt8], _ g: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: r.count * 3)
        for i in 0..<r.count {
            result[i * 3] = r[i]
            result[i * 3 + 1] = g[i]
            result[i * 3 + 2] = b[i]
        }
        return result
    }
}
