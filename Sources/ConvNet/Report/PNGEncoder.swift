import Foundation

/// Writes 8-bit PNG files (grayscale, RGB or RGBA) with no dependency beyond Foundation:
/// the zlib stream, CRC-32 and Adler-32 are computed by `ZlibEncoder`, `CRC32` and `Adler32`.
///
/// Layout (PNG spec, ISO/IEC 15948): signature, IHDR, one IDAT, IEND. Every scanline uses filter
/// type 0 (None); the LZ77 matcher finds the repetition that the Sub/Up filters would expose.
public enum PNGEncoder {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG file bytes for `image`.
    public static func encode(_ image: RasterImage, method: ZlibEncoder.Method = .fixedHuffman) -> [UInt8] {
        let colorType: UInt8
        switch image.channels {
        case 1: colorType = 0
        case 4: colorType = 6
        default: colorType = 2
        }
        var header: [UInt8] = []
        appendBigEndian(UInt32(image.width), to: &header)
        appendBigEndian(UInt32(image.height), to: &header)
        header += [8, colorType, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace

        let rowBytes = image.width * image.channels
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * image.height)
        image.pixels.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let d = y * (rowBytes + 1)
                    dst[d] = 0  // filter type None
                    for x in 0..<rowBytes { dst[d + 1 + x] = src[y * rowBytes + x] }
                }
            }
        }

        var file = signature
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", ZlibEncoder.compress(raw, method: method), to: &file)
        appendChunk("IEND", [], to: &file)
        return file
    }

    /// Encodes `image` and writes it to `url`.
    /// - Throws: `ReportError.io` when the file cannot be written.
    public static func write(_ image: RasterImage, to url: URL, method: ZlibEncoder.Method = .fixedHuffman) throws {
        try writeFile(Data(encode(image, method: method)), to: url)
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        appendBigEndian(UInt32(data.count), to: &file)
        let typeBytes = Array(type.utf8)
        file += typeBytes
        file += data
        appendBigEndian(CRC32.update(CRC32.checksum(typeBytes), data), to: &file)
    }

    static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// Writes `data` atomically, turning Foundation's error into a `ReportError.io`.
func writeFile(_ data: Data, to url: URL) throws {
    do {
        try data.write(to: url, options: .atomic)
    } catch {
        throw ReportError.io(path: url.path, reason: reason(error))
    }
}

/// Writes `text` as UTF-8, atomically.
func writeFile(_ text: String, to url: URL) throws {
    try writeFile(Data(text.utf8), to: url)
}
