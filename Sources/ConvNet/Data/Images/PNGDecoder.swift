import Foundation

/// A PNG decoder (ISO/IEC 15948) in pure Swift: every bit depth (1, 2, 4, 8, 16) of every colour
/// type (gray, RGB, palette, gray + alpha, RGBA), Adam7 interlacing, the five row filters,
/// several `IDAT` chunks, every chunk's CRC-32 checked, zlib through ``Inflate`` with its
/// Adler-32 checked.
///
/// Bounded (``ReaderLimits``): width × height × channels is checked against
/// ``ReaderLimits/maximumImageSamples`` from the header alone, and the filtered image size that
/// `IHDR` implies — Σ over passes of rows · (1 + row bytes), overflow-checked — must be within
/// what the compressed `IDAT` bytes can inflate to before anything is inflated; the inflater is
/// then capped at exactly that size. Every damaged or hostile file is one thrown
/// ``ConvNetError/invalidData(_:)`` naming the file and the chunk.
///
/// Output (``DecodedImage``): gray 1/2/4-bit scaled to 0–255 (× 255, × 85, × 17); palette images
/// as RGB, or RGBA with a `tRNS` chunk (indices past the palette are black, as in Pillow);
/// 16-bit images keep 16-bit samples; `tRNS` of gray and RGB images, gamma and colour chunks are
/// ignored (Pillow also leaves them out of the pixels).
public enum PNGDecoder {
    /// The eight bytes every PNG starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The header fields.
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// Bits per sample (palette: per index).
        public var bitDepth: Int
        /// 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA.
        public var colorType: Int
        /// 0 none, 1 Adam7.
        public var interlace: Int

        /// Samples per pixel in the file (a palette index is one).
        public var samplesPerPixel: Int {
            switch colorType {
            case 2: return 3
            case 4: return 2
            case 6: return 4
            default: return 1
            }
        }

        /// Bits per pixel in the file.
        public var bitsPerPixel: Int { samplesPerPixel * bitDepth }
    }

    /// Adam7's seven passes: first column, first row, column step, row step.
    static let adam7: [(x: Int, y: Int, dx: Int, dy: Int)] = [
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
    ]

    /// Decodes a PNG file's bytes; `name` starts every error message.
    public static func decode(_ bytes: [UInt8], name: String = "PNG image", limits: ReaderLimits = .current) throws
        -> DecodedImage
    {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw ConvNetError.invalidData("\(name): not a PNG file (bad signature)")
        }
        var position = 8
        var header: Header?
        var palette: [UInt8] = []
        var transparency: [UInt8]?
        var data: [UInt8] = []
        var sawEnd = false
        var sawData = false
        while !sawEnd {
            guard position + 8 <= bytes.count else {
                throw ConvNetError.invalidData(
                    "\(name): truncated PNG (no IEND chunk; the file ends at byte \(bytes.count))")
            }
            let length = Int(readUInt32BE(bytes, position))
            let typeBytes = Array(bytes[(position + 4)..<(position + 8)])
            let type = String(
                decoding: typeBytes.map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            guard length <= 0x7FFF_FFFF,
                typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
            else {
                throw ConvNetError.invalidData(
                    "\(name): bad PNG chunk header at byte \(position) (type '\(type)', length \(length))")
            }
            let start = position + 8
            guard length <= bytes.count - start, bytes.count - start - length >= 4 else {
                throw ConvNetError.invalidData(
                    "\(name): truncated PNG chunk \(type) at byte \(position) (\(length) bytes announced, \(max(bytes.count - start, 0)) left)"
                )
            }
            let end = start + length
            let stored = readUInt32BE(bytes, end)
            let computed = CRC32.checksum(bytes[(position + 4)..<end])
            guard stored == computed else {
                throw ConvNetError.invalidData(
                    "\(name): CRC-32 mismatch in chunk \(type) at byte \(position) (stored \(hex32(stored)), computed \(hex32(computed)))"
                )
            }
            let chunk = bytes[start..<end]
            position = end + 4
            if header == nil && type != "IHDR" {
                throw ConvNetError.invalidData("\(name): the first PNG chunk is \(type), not IHDR")
            }
            switch type {
            case "IHDR":
                guard header == nil else { throw ConvNetError.invalidData("\(name): a second IHDR chunk") }
                header = try parseHeader(Array(chunk), name: name, limits: limits)
            case "PLTE":
                guard length % 3 == 0, length >= 3, length <= 768 else {
                    throw ConvNetError.invalidData(
                        "\(name): PLTE of \(length) bytes (need 1 to 256 entries of 3 bytes)")
                }
                guard !sawData else { throw ConvNetError.invalidData("\(name): PLTE after IDAT") }
                palette = Array(chunk)
            case "tRNS":
                transparency = Array(chunk)
            case "IDAT":
                sawData = true
                data.append(contentsOf: chunk)
            case "IEND":
                sawEnd = true
            default:
                // Ancillary chunks (lower-case first letter) are skipped; an unknown critical
                // chunk means the file cannot be read correctly (PNG §5.4).
                if typeBytes[0] & 0x20 == 0 {
                    throw ConvNetError.invalidData("\(name): unknown critical PNG chunk \(type)")
                }
            }
        }
        guard let header else { throw ConvNetError.invalidData("\(name): no IHDR chunk") }
        guard sawData else { throw ConvNetError.invalidData("\(name): no IDAT chunk (no image data)") }
        if header.colorType == 3 && palette.isEmpty {
            throw ConvNetError.invalidData("\(name): a palette image (colour type 3) without a PLTE chunk")
        }
        let filtered = try inflate(data, header: header, name: name, limits: limits)
        return try reconstruct(filtered, header: header, palette: palette, transparency: transparency, name: name)
    }

    static func parseHeader(_ chunk: [UInt8], name: String, limits: ReaderLimits) throws -> Header {
        guard chunk.count == 13 else {
            throw ConvNetError.invalidData("\(name): IHDR of \(chunk.count) bytes, expected 13")
        }
        let width = Int(readUInt32BE(chunk, 0))
        let height = Int(readUInt32BE(chunk, 4))
        let header = Header(
            width: width, height: height, bitDepth: Int(chunk[8]), colorType: Int(chunk[9]), interlace: Int(chunk[12]))
        guard width >= 1, height >= 1, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw ConvNetError.invalidData("\(name): IHDR size \(width)×\(height) (each side must be 1 to 2³¹−1)")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[header.colorType] else {
            throw ConvNetError.invalidData("\(name): IHDR colour type \(header.colorType) (PNG has 0, 2, 3, 4, 6)")
        }
        guard depths.contains(header.bitDepth) else {
            throw ConvNetError.invalidData(
                "\(name): IHDR bit depth \(header.bitDepth) is not allowed for colour type \(header.colorType) (allowed: \(depths.map(String.init).joined(separator: ", ")))"
            )
        }
        guard chunk[10] == 0, chunk[11] == 0, header.interlace <= 1 else {
            throw ConvNetError.invalidData(
                "\(name): IHDR compression \(chunk[10]), filter \(chunk[11]), interlace \(chunk[12]) (expected 0, 0, 0 or 1)"
            )
        }
        // The decoded image has up to four channels (a palette with tRNS becomes RGBA).
        try limits.checkImage(
            width: width, height: height, channels: header.colorType == 3 ? 4 : header.samplesPerPixel, name)
        return header
    }

    /// The (width, height) of each pass: one pass for a plain image, seven for Adam7 (some
    /// possibly empty).
    static func passSizes(_ header: Header) -> [(width: Int, height: Int)] {
        guard header.interlace == 1 else { return [(header.width, header.height)] }
        return adam7.map { pass in
            let width = header.width > pass.x ? (header.width - pass.x + pass.dx - 1) / pass.dx : 0
            let height = header.height > pass.y ? (header.height - pass.y + pass.dy - 1) / pass.dy : 0
            return (width, height)
        }
    }

    /// Bytes per row of `width` pixels (without the filter byte), or nil on overflow.
    static func rowBytes(_ width: Int, _ header: Header) -> Int? {
        guard let bits = checkedProduct([width, header.bitsPerPixel]) else { return nil }
        return bits / 8 + (bits % 8 == 0 ? 0 : 1)
    }

    /// The filtered byte count IHDR implies: Σ over non-empty passes of rows · (1 + row bytes).
    static func filteredSize(_ header: Header) -> Int? {
        var total = 0
        for pass in passSizes(header) where pass.width > 0 && pass.height > 0 {
            guard let row = rowBytes(pass.width, header), let bytes = checkedProduct([row + 1, pass.height]) else {
                return nil
            }
            let (sum, overflow) = total.addingReportingOverflow(bytes)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// Inflates the concatenated IDAT data (a zlib stream) to exactly the size IHDR implies.
    static func inflate(_ data: [UInt8], header: Header, name: String, limits: ReaderLimits) throws -> [UInt8] {
        guard let expected = filteredSize(header) else {
            throw ConvNetError.invalidData(
                "\(name): IHDR size \(header.width)×\(header.height) gives a byte count too large to count")
        }
        guard data.count >= 6 else {
            throw ConvNetError.invalidData("\(name): IDAT holds \(data.count) bytes, too few for zlib data")
        }
        guard data[0] & 0x0F == 8, data[0] >> 4 <= 7, (Int(data[0]) << 8 | Int(data[1])) % 31 == 0, data[1] & 0x20 == 0
        else {
            throw ConvNetError.invalidData("\(name): IDAT: bad zlib header \(hex(data[0])) \(hex(data[1]))")
        }
        // DEFLATE cannot expand more than 1032:1, so short data for a large image is refused
        // before anything is inflated or reserved.
        guard expected <= limits.inflatedCap(forCompressed: data.count) else {
            throw ConvNetError.invalidData(
                "\(name): IHDR \(header.width)×\(header.height) needs \(expected) bytes of image data, more than \(data.count) compressed IDAT bytes can hold "
                    + "(truncated, or above the limits of ReaderLimits: CONVNET_MAX_INFLATED_BYTES)")
        }
        let output: [UInt8]
        let end: Int
        do {
            (output, end) = try Inflate.decompress(
                data, from: 2, name: "\(name): IDAT", expectedSize: expected, maximumOutput: expected)
        } catch ConvNetError.invalidData(let message) where message.contains("decompressed data exceeds the limit") {
            throw ConvNetError.invalidData(
                "\(name): IDAT inflates to more than the \(expected) bytes that IHDR implies (\(header.width)×\(header.height))"
            )
        }
        guard output.count == expected else {
            throw ConvNetError.invalidData(
                "\(name): IDAT inflates to \(output.count) bytes, IHDR implies \(expected) (truncated image data)")
        }
        guard end + 4 <= data.count else {
            throw ConvNetError.invalidData("\(name): IDAT: truncated zlib trailer (no Adler-32)")
        }
        let stored = readUInt32BE(data, end)
        let adler = Adler32.checksum(output)
        guard stored == adler else {
            throw ConvNetError.invalidData(
                "\(name): IDAT: Adler-32 mismatch (stored \(hex32(stored)), computed \(hex32(adler)))")
        }
        return output
    }

    /// Undoes the filters pass by pass and scatters the pixels into the image.
    static func reconstruct(
        _ filtered: [UInt8], header: Header, palette: [UInt8], transparency: [UInt8]?, name: String
    ) throws -> DecodedImage {
        let width = header.width
        let height = header.height
        let isPalette = header.colorType == 3
        let hasPaletteAlpha = isPalette && transparency != nil
        let channels = isPalette ? (hasPaletteAlpha ? 4 : 3) : header.samplesPerPixel
        let wide = header.bitDepth == 16
        var bytes = [UInt8](repeating: 0, count: wide ? 0 : width * height * channels)
        var words = [UInt16](repeating: 0, count: wide ? width * height * channels : 0)
        // The palette as RGBA, 256 entries (missing entries black and opaque).
        var lookup = [UInt8](repeating: 0, count: 256 * 4)
        if isPalette {
            for entry in 0..<256 {
                lookup[entry * 4 + 3] = 255
                if entry * 3 + 2 < palette.count {
                    for c in 0..<3 { lookup[entry * 4 + c] = palette[entry * 3 + c] }
                }
                if let transparency, entry < transparency.count { lookup[entry * 4 + 3] = transparency[entry] }
            }
        }
        let bytesPerPixel = max(1, header.bitsPerPixel / 8)
        let passes = passSizes(header)
        var offset = 0
        var previous: [UInt8] = []
        var current: [UInt8] = []
        for (index, pass) in passes.enumerated() where pass.width > 0 && pass.height > 0 {
            let geometry = header.interlace == 1 ? adam7[index] : (x: 0, y: 0, dx: 1, dy: 1)
            let rowLength = (pass.width * header.bitsPerPixel + 7) / 8
            previous = [UInt8](repeating: 0, count: rowLength)
            current = [UInt8](repeating: 0, count: rowLength)
            for row in 0..<pass.height {
                let filter = filtered[offset]
                guard filter <= 4 else {
                    throw ConvNetError.invalidData(
                        "\(name): unknown PNG filter type \(filter) in row \(row)\(header.interlace == 1 ? " of Adam7 pass \(index + 1)" : "")"
                    )
                }
                unfilter(
                    Int(filter), source: filtered, at: offset + 1, into: &current, previous: previous,
                    bytesPerPixel: bytesPerPixel)
                offset += 1 + rowLength
                let y = geometry.y + row * geometry.dy
                current.withUnsafeBufferPointer { line in
                    for column in 0..<pass.width {
                        let x = geometry.x + column * geometry.dx
                        let target = (y * width + x) * channels
                        if wide {
                            for c in 0..<channels {
                                let at = (column * channels + c) * 2
                                words[target + c] = UInt16(line[at]) << 8 | UInt16(line[at + 1])
                            }
                        } else if header.bitDepth == 8 {
                            if isPalette {
                                let entry = Int(line[column]) * 4
                                for c in 0..<channels { bytes[target + c] = lookup[entry + c] }
                            } else {
                                for c in 0..<channels { bytes[target + c] = line[column * channels + c] }
                            }
                        } else {
                            // 1, 2 or 4 bits: gray or palette, one sample per pixel, high bits first.
                            let depth = header.bitDepth
                            let bit = column * depth
                            let value = Int(line[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & ((1 << depth) - 1)
                            if isPalette {
                                for c in 0..<channels { bytes[target + c] = lookup[value * 4 + c] }
                            } else {
                                bytes[target] = UInt8(value * (255 / ((1 << depth) - 1)))
                            }
                        }
                    }
                }
                swap(&previous, &current)
            }
        }
        return DecodedImage(unchecked: width, height, channels, wide ? .uint16(words) : .uint8(bytes))
    }

    /// Reverses one row's filter (PNG §9): 0 none, 1 Sub, 2 Up, 3 Average, 4 Paeth.
    static func unfilter(
        _ filter: Int, source: [UInt8], at start: Int, into row: inout [UInt8], previous: [UInt8], bytesPerPixel: Int
    ) {
        let count = row.count
        source.withUnsafeBufferPointer { s in
            previous.withUnsafeBufferPointer { up in
                row.withUnsafeMutableBufferPointer { out in
                    switch filter {
                    case 0:
                        for i in 0..<count { out[i] = s[start + i] }
                    case 1:
                        for i in 0..<count {
                            out[i] = s[start + i] &+ (i >= bytesPerPixel ? out[i - bytesPerPixel] : 0)
                        }
                    case 2:
                        for i in 0..<count { out[i] = s[start + i] &+ up[i] }
                    case 3:
                        for i in 0..<count {
                            let left = i >= bytesPerPixel ? Int(out[i - bytesPerPixel]) : 0
                            out[i] = s[start + i] &+ UInt8((left + Int(up[i])) >> 1)
                        }
                    default:
                        for i in 0..<count {
                            let a = i >= bytesPerPixel ? Int(out[i - bytesPerPixel]) : 0
                            let b = Int(up[i])
                            let c = i >= bytesPerPixel ? Int(up[i - bytesPerPixel]) : 0
                            out[i] = s[start + i] &+ UInt8(paeth(a, b, c))
                        }
                    }
                }
            }
        }
    }

    /// The Paeth predictor: whichever of left, up, upper-left is closest to left + up − upper-left
    /// (ties in that order).
    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a)
        let pb = abs(p - b)
        let pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}

func readUInt32BE(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
        | UInt32(bytes[offset + 3])
}
