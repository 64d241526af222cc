import Foundation

/// A JPEG decoder (ITU-T T.81) in pure Swift: baseline and extended sequential Huffman
/// (SOF0/SOF1) and progressive Huffman (SOF2: spectral selection and successive
/// approximation), 8-bit samples, one (gray) or three components with any integral sampling
/// factors (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, …), restart intervals (DRI / RSTn).
///
/// The pixels follow libjpeg-turbo, the library behind Pillow, step by step, so that a file
/// decodes to the same bytes: its accurate integer IDCT (`jpeg_idct_islow`, see ``JPEGIDCT``),
/// its "fancy" triangle-filter upsampling for 2:1 chroma (`h2v1`, `h1v2`, `h2v2`; box
/// replication for other ratios and for chroma at most 2 samples wide), and its fixed-point
/// YCbCr → RGB tables (`jdcolor.c`, 16 fraction bits). The colour space is guessed as
/// libjpeg does: an Adobe marker with transform 0, or component ids 'R', 'G', 'B' without
/// JFIF, mean RGB; anything else with three components is YCbCr.
///
/// Bounded (``ReaderLimits``): width × height × components and the padded coefficient blocks
/// are checked against ``ReaderLimits/maximumImageSamples``, and the coded blocks against the
/// file's size (every block costs at least one bit) before coefficient memory is reserved.
/// Truncated or corrupt data — scan data that ends inside an MCU, an invalid Huffman code or
/// table, a missing restart marker, an unsupported or unknown marker — is one thrown
/// ``ConvNetError/invalidData(_:)`` naming the file and the segment; libjpeg's habit of
/// filling damaged data with gray is not copied.
///
/// Not supported (a one-line error): arithmetic coding, lossless and hierarchical JPEG, 12-bit
/// samples, four components (CMYK / YCCK), and progressive files that never refine some
/// coefficients (libjpeg smooths those blocks; such files are not written by common encoders).
public enum JPEGDecoder {
    /// Decodes a JPEG file's bytes; `name` starts every error message.
    public static func decode(_ bytes: [UInt8], name: String = "JPEG image", limits: ReaderLimits = .current) throws
        -> DecodedImage
    {
        let decoder = JPEGStream(bytes: bytes, name: name, limits: limits)
        try decoder.readMarkers()
        return try decoder.image()
    }

    /// Zig-zag position → natural (row-major) position in an 8×8 block.
    static let naturalOrder: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
        21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
        54, 47, 55, 62, 63,
    ]
}

/// A canonical Huffman table of a DHT segment, decoded nine bits at a time by lookup and
/// longer codes by the code-length limits (T.81 Annex F.2.2.3).
struct JPEGHuffmanTable {
    static let lookupBits = 9
    /// The next `lookupBits` bits (MSB first) → length << 8 | symbol; 0 for longer codes.
    var lookup: [UInt16]
    /// The largest code of each length 1…16 (−1 when there is none).
    var maximumCode: [Int]
    /// Added to a code of each length to index `symbols`.
    var symbolOffset: [Int]
    var symbols: [UInt8]

    /// Builds the table from the 16 code counts and the symbols; rejects more than 256 symbols,
    /// over-subscribed lengths and the all-ones code (as libjpeg's `jpeg_make_d_derived_tbl`),
    /// and DC symbols above 15.
    /// A table with no codes (decoding with it always fails).
    static let empty = JPEGHuffmanTable()

    private init() {
        lookup = [UInt16](repeating: 0, count: 1 << Self.lookupBits)
        maximumCode = [Int](repeating: -1, count: 17)
        symbolOffset = [Int](repeating: 0, count: 17)
        symbols = []
    }

    init(counts: [Int], symbols: [UInt8], isDC: Bool, name: String) throws {
        guard symbols.count <= 256, counts.reduce(0, +) == symbols.count else {
            throw ConvNetError.invalidData("\(name): \(counts.reduce(0, +)) Huffman codes (at most 256)")
        }
        if isDC, let bad = symbols.first(where: { $0 > 15 }) {
            throw ConvNetError.invalidData("\(name): DC Huffman symbol \(bad) (DC categories are 0 to 15)")
        }
        self.symbols = symbols
        lookup = [UInt16](repeating: 0, count: 1 << Self.lookupBits)
        maximumCode = [Int](repeating: -1, count: 17)
        symbolOffset = [Int](repeating: 0, count: 17)
        var code = 0
        var index = 0
        for length in 1...16 {
            symbolOffset[length] = index - code
            for _ in 0..<counts[length - 1] {
                // Codes must fit in `length` bits, and none may be all ones (libjpeg's check).
                guard code + 1 < 1 << length else {
                    throw ConvNetError.invalidData("\(name): bad Huffman table (codes of length \(length) overflow)")
                }
                if length <= Self.lookupBits {
                    let shift = Self.lookupBits - length
                    for fill in 0..<(1 << shift) {
                        lookup[(code << shift) | fill] = UInt16(length << 8) | UInt16(symbols[index])
                    }
                }
                code += 1
                index += 1
            }
            if counts[length - 1] > 0 { maximumCode[length] = code - 1 }
            code <<= 1
        }
    }
}

/// The entropy-coded data of a scan, read MSB first with 0xFF00 un-stuffed. Reading stops at
/// the next marker; past it zero bits are supplied for look-ahead, and consuming any of them
/// means the data ended inside an MCU (a truncated or corrupt scan).
struct JPEGBitReader {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to load.
    var position: Int
    /// Buffered bits in the low `count` bits.
    var buffer: UInt64 = 0
    var count = 0
    /// How many of the buffered low bits are padding supplied after the data ended.
    var padding = 0
    var atMarker = false
    let name: String

    init(bytes: UnsafeBufferPointer<UInt8>, position: Int, name: String) {
        self.bytes = bytes
        self.position = position
        self.name = name
    }

    @inline(__always)
    mutating func fill() {
        while count <= 56 {
            var byte: UInt8 = 0
            if atMarker || position >= bytes.count {
                atMarker = true
                padding += 8
            } else {
                byte = bytes[position]
                if byte == 0xFF {
                    let next = position + 1 < bytes.count ? bytes[position + 1] : 0xD9
                    if next == 0x00 {
                        position += 2
                    } else {
                        atMarker = true
                        padding += 8
                        byte = 0
                    }
                } else {
                    position += 1
                }
            }
            buffer = buffer << 8 | UInt64(byte)
            count += 8
        }
    }

    /// The next 16 bits without consuming them.
    @inline(__always)
    mutating func peek16() -> Int {
        if count < 16 { fill() }
        return Int(truncatingIfNeeded: buffer >> UInt64(count - 16)) & 0xFFFF
    }

    @inline(__always)
    mutating func consume(_ n: Int) throws {
        count -= n
        if count < padding {
            throw ConvNetError.invalidData("\(name): scan data ends inside an MCU (truncated or corrupt file)")
        }
    }

    /// `n` (0…16) bits as an unsigned number.
    @inline(__always)
    mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        if count < n { fill() }
        let value = Int(truncatingIfNeeded: buffer >> UInt64(count - n)) & ((1 << n) - 1)
        try consume(n)
        return value
    }

    /// `n` bits as a signed coefficient (T.81 F.2.2.1 EXTEND).
    @inline(__always)
    mutating func signed(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        let value = try bits(n)
        return value < 1 << (n - 1) ? value - (1 << n) + 1 : value
    }

    @inline(__always)
    mutating func decode(_ table: JPEGHuffmanTable) throws -> Int {
        let bits16 = peek16()
        let entry = Int(table.lookup[bits16 >> (16 - JPEGHuffmanTable.lookupBits)])
        if entry != 0 {
            try consume(entry >> 8)
            return entry & 0xFF
        }
        for length in (JPEGHuffmanTable.lookupBits + 1)...16 {
            let code = bits16 >> (16 - length)
            if code <= table.maximumCode[length] {
                try consume(length)
                return Int(table.symbols[code + table.symbolOffset[length]])
            }
        }
        throw ConvNetError.invalidData("\(name): invalid Huffman code in the scan data (corrupt file)")
    }

    /// Drops the buffered bits (at a restart or the end of a scan).
    mutating func reset() {
        buffer = 0
        count = 0
        padding = 0
        atMarker = false
    }
}

/// The decoding state of one file.
final class JPEGStream {
    struct Component {
        var id: Int
        var horizontal: Int
        var vertical: Int
        var quantizationIndex: Int
        /// Blocks per row and per column, padded to whole MCUs.
        var blocksPerLine = 0
        var blocksPerColumn = 0
        /// The quantization table (natural order), latched at the component's first scan.
        var quantization: [Int32]?
        /// Coefficients, 64 per block in natural order, block rows of `blocksPerLine`.
        var coefficients: [Int16] = []
        /// Samples per row and rows after downsampling: ⌈width · h / hmax⌉, ⌈height · v / vmax⌉.
        var sampledWidth = 0
        var sampledHeight = 0
        var dcPrediction = 0
        var dcTable = 0
        var acTable = 0
    }

    let bytes: [UInt8]
    let name: String
    let limits: ReaderLimits
    var position = 2
    var width = 0
    var height = 0
    var progressive = false
    var components: [Component] = []
    var maximumHorizontal = 1
    var maximumVertical = 1
    var quantizationTables = [[Int32]?](repeating: nil, count: 4)
    var dcTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    var acTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    var restartInterval = 0
    var sawJFIF = false
    var adobeTransform: Int?
    var scans = 0
    var eobRun = 0

    init(bytes: [UInt8], name: String, limits: ReaderLimits) {
        self.bytes = bytes
        self.name = name
        self.limits = limits
    }

    func fail(_ message: String) -> ConvNetError { .invalidData("\(name): \(message)") }

    static func markerName(_ code: UInt8) -> String {
        switch code {
        case 0xC0: return "SOF0"
        case 0xC1: return "SOF1"
        case 0xC2: return "SOF2"
        case 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF: return "SOF\(code - 0xC0)"
        case 0xC4: return "DHT"
        case 0xCC: return "DAC"
        case 0xD0...0xD7: return "RST\(code - 0xD0)"
        case 0xD8: return "SOI"
        case 0xD9: return "EOI"
        case 0xDA: return "SOS"
        case 0xDB: return "DQT"
        case 0xDC: return "DNL"
        case 0xDD: return "DRI"
        case 0xE0...0xEF: return "APP\(code - 0xE0)"
        case 0xFE: return "COM"
        default: return "marker ff\(hex(code))"
        }
    }

    /// Reads segments from after SOI to EOI, decoding every scan.
    func readMarkers() throws {
        guard bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
            throw fail("not a JPEG file (no SOI marker)")
        }
        while true {
            guard position < bytes.count else {
                throw fail("truncated JPEG (no EOI marker; the file ends at byte \(bytes.count))")
            }
            guard bytes[position] == 0xFF else {
                throw fail("expected a marker at byte \(position), found \(hex(bytes[position]))")
            }
            while position < bytes.count && bytes[position] == 0xFF { position += 1 }  // fill bytes
            guard position < bytes.count else { throw fail("truncated JPEG (no EOI marker)") }
            let code = bytes[position]
            let markerStart = position - 1
            position += 1
            switch code {
            case 0xD9:
                guard scans > 0 else { throw fail("EOI before any scan (no image data)") }
                return
            case 0xD0...0xD7, 0x01:
                continue  // parameterless; outside a scan libjpeg ignores them too
            case 0xD8:
                throw fail("a second SOI marker at byte \(markerStart)")
            case 0x00:
                throw fail("stray ff00 at byte \(markerStart) outside scan data")
            default:
                break
            }
            let segmentName = Self.markerName(code)
            guard position + 2 <= bytes.count else {
                throw fail("truncated \(segmentName) segment at byte \(markerStart)")
            }
            let length = Int(bytes[position]) << 8 | Int(bytes[position + 1])
            guard length >= 2 else {
                throw fail("\(segmentName) segment at byte \(markerStart) has length \(length) (at least 2)")
            }
            guard position + length <= bytes.count else {
                throw fail(
                    "truncated \(segmentName) segment at byte \(markerStart) (\(length) bytes announced, \(bytes.count - position) left)"
                )
            }
            let body = (position + 2)..<(position + length)
            position += length
            switch code {
            case 0xC0, 0xC1, 0xC2:
                try readFrame(body, progressive: code == 0xC2, segment: segmentName)
            case 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                let kind =
                    [0xC3: "lossless", 0xC5: "hierarchical", 0xC6: "hierarchical", 0xC7: "hierarchical"][Int(code)]
                    ?? "arithmetic-coded"
                throw fail("\(segmentName): \(kind) JPEG is not supported (baseline and progressive Huffman only)")
            case 0xCC:
                throw fail("DAC: arithmetic-coded JPEG is not supported")
            case 0xC4:
                try readHuffmanTables(body)
            case 0xDB:
                try readQuantizationTables(body)
            case 0xDD:
                guard body.count == 2 else { throw fail("DRI segment of \(body.count) bytes, expected 2") }
                restartInterval = Int(bytes[body.lowerBound]) << 8 | Int(bytes[body.lowerBound + 1])
            case 0xDA:
                try readScan(body)
            case 0xDC:
                throw fail("DNL: a height defined after the scan is not supported")
            case 0xE0:
                if body.count >= 5 && Array(bytes[body.prefix(5)]) == Array("JFIF\0".utf8) { sawJFIF = true }
            case 0xEE:
                if body.count >= 12 && Array(bytes[body.prefix(5)]) == Array("Adobe".utf8) {
                    adobeTransform = Int(bytes[body.lowerBound + 11])
                }
            case 0xE1...0xEF, 0xFE:
                break
            default:
                throw fail("unknown or unsupported \(segmentName) at byte \(markerStart)")
            }
        }
    }

    func readFrame(_ body: Range<Int>, progressive: Bool, segment: String) throws {
        guard components.isEmpty else { throw fail("a second frame header (\(segment))") }
        guard body.count >= 6 else { throw fail("\(segment) segment of \(body.count) bytes is too short") }
        let b = body.lowerBound
        let precision = Int(bytes[b])
        height = Int(bytes[b + 1]) << 8 | Int(bytes[b + 2])
        width = Int(bytes[b + 3]) << 8 | Int(bytes[b + 4])
        let count = Int(bytes[b + 5])
        guard precision == 8 else { throw fail("\(segment): \(precision)-bit samples are not supported (8-bit only)") }
        guard height > 0 else { throw fail("\(segment): height 0 (a height given later by DNL is not supported)") }
        guard width > 0 else { throw fail("\(segment): width 0") }
        guard count == 1 || count == 3 else {
            throw fail(
                "\(segment): \(count) components (\(count == 4 ? "CMYK/YCCK" : "unsupported"); gray or 3-component colour only)"
            )
        }
        guard body.count == 6 + 3 * count else {
            throw fail("\(segment) segment of \(body.count) bytes, expected \(6 + 3 * count)")
        }
        try limits.checkImage(width: width, height: height, channels: count, name)
        self.progressive = progressive
        for index in 0..<count {
            let p = b + 6 + 3 * index
            let component = Component(
                id: Int(bytes[p]), horizontal: Int(bytes[p + 1] >> 4), vertical: Int(bytes[p + 1] & 15),
                quantizationIndex: Int(bytes[p + 2]))
            guard (1...4).contains(component.horizontal), (1...4).contains(component.vertical) else {
                throw fail(
                    "\(segment): component \(component.id) has sampling factors \(component.horizontal)×\(component.vertical) (1 to 4)"
                )
            }
            guard component.quantizationIndex < 4 else {
                throw fail(
                    "\(segment): component \(component.id) uses quantization table \(component.quantizationIndex) (0 to 3)"
                )
            }
            guard !components.contains(where: { $0.id == component.id }) else {
                throw fail("\(segment): component id \(component.id) appears twice")
            }
            components.append(component)
        }
        maximumHorizontal = components.map(\.horizontal).max() ?? 1
        maximumVertical = components.map(\.vertical).max() ?? 1
        for component in components
        where maximumHorizontal % component.horizontal != 0 || maximumVertical % component.vertical != 0 {
            throw fail(
                "\(segment): sampling factors \(components.map { "\($0.horizontal)×\($0.vertical)" }.joined(separator: ", ")) are not integral ratios (not supported, as in libjpeg)"
            )
        }
        // Sizes: all bounded by the image check above (sides ≤ 65535, factors ≤ 4).
        let mcuColumns = (width + 8 * maximumHorizontal - 1) / (8 * maximumHorizontal)
        let mcuRows = (height + 8 * maximumVertical - 1) / (8 * maximumVertical)
        var storedSamples = 0
        var codedBlocks = 0
        for index in components.indices {
            var component = components[index]
            component.blocksPerLine = mcuColumns * component.horizontal
            component.blocksPerColumn = mcuRows * component.vertical
            component.sampledWidth = (width * component.horizontal + maximumHorizontal - 1) / maximumHorizontal
            component.sampledHeight = (height * component.vertical + maximumVertical - 1) / maximumVertical
            storedSamples += component.blocksPerLine * component.blocksPerColumn * 64
            codedBlocks += ((component.sampledWidth + 7) / 8) * ((component.sampledHeight + 7) / 8)
            components[index] = component
        }
        guard storedSamples <= limits.maximumImageSamples else {
            throw fail(
                "\(segment): \(width)×\(height) needs \(storedSamples) coefficients in whole MCUs, above the limit of \(limits.maximumImageSamples) samples (set CONVNET_MAX_IMAGE_SAMPLES to raise it)"
            )
        }
        // Every block of every component costs at least one bit of scan data.
        guard codedBlocks <= 8 * bytes.count else {
            throw fail(
                "\(segment): \(width)×\(height) has \(codedBlocks) blocks, more than the \(bytes.count)-byte file can code (truncated or hostile header)"
            )
        }
        for index in components.indices {
            components[index].coefficients = [Int16](
                repeating: 0, count: components[index].blocksPerLine * components[index].blocksPerColumn * 64)
        }
    }

    func readQuantizationTables(_ body: Range<Int>) throws {
        var p = body.lowerBound
        while p < body.upperBound {
            let precision = Int(bytes[p] >> 4)
            let index = Int(bytes[p] & 15)
            guard precision <= 1, index < 4 else {
                throw fail("DQT: table \(index) with precision \(precision) (tables 0 to 3, precision 0 or 1)")
            }
            let size = precision == 0 ? 64 : 128
            guard p + 1 + size <= body.upperBound else { throw fail("DQT: truncated table \(index)") }
            var table = [Int32](repeating: 0, count: 64)
            for k in 0..<64 {
                let value =
                    precision == 0
                    ? Int32(bytes[p + 1 + k]) : Int32(bytes[p + 1 + 2 * k]) << 8 | Int32(bytes[p + 2 + 2 * k])
                table[JPEGDecoder.naturalOrder[k]] = value
            }
            quantizationTables[index] = table
            p += 1 + size
        }
    }

    func readHuffmanTables(_ body: Range<Int>) throws {
        var p = body.lowerBound
        while p < body.upperBound {
            guard p + 17 <= body.upperBound else { throw fail("DHT: truncated table header") }
            let tableClass = Int(bytes[p] >> 4)
            let index = Int(bytes[p] & 15)
            guard tableClass <= 1, index < 4 else {
                throw fail("DHT: table class \(tableClass) id \(index) (class 0 or 1, id 0 to 3)")
            }
            let counts = (0..<16).map { Int(bytes[p + 1 + $0]) }
            let total = counts.reduce(0, +)
            guard p + 17 + total <= body.upperBound else {
                throw fail(
                    "DHT: table \(tableClass == 0 ? "DC" : "AC") \(index) announces \(total) symbols, the segment holds \(body.upperBound - p - 17)"
                )
            }
            let symbols = Array(bytes[(p + 17)..<(p + 17 + total)])
            let table = try JPEGHuffmanTable(
                counts: counts, symbols: symbols, isDC: tableClass == 0,
                name: "\(name): DHT \(tableClass == 0 ? "DC" : "AC") table \(index)")
            if tableClass == 0 { dcTables[index] = table } else { acTables[index] = table }
            p += 17 + total
        }
    }

    func readScan(_ body: Range<Int>) throws {
        guard !components.isEmpty else { throw fail("SOS before the frame header (no SOF)") }
        guard body.count >= 1 else { throw fail("SOS segment is empty") }
        let b = body.lowerBound
        let count = Int(bytes[b])
        guard (1...4).contains(count), body.count == 4 + 2 * count else {
            throw fail("SOS with \(count) components in \(body.count) bytes")
        }
        var scanComponents: [Int] = []
        for i in 0..<count {
            let id = Int(bytes[b + 1 + 2 * i])
            guard let index = components.firstIndex(where: { $0.id == id }) else {
                throw fail("SOS names component \(id), not in the frame")
            }
            guard !scanComponents.contains(index) else { throw fail("SOS names component \(id) twice") }
            let tables = bytes[b + 2 + 2 * i]
            components[index].dcTable = Int(tables >> 4)
            components[index].acTable = Int(tables & 15)
            guard components[index].dcTable < 4, components[index].acTable < 4 else {
                throw fail(
                    "SOS: component \(id) uses Huffman tables \(components[index].dcTable)/\(components[index].acTable) (0 to 3)"
                )
            }
            scanComponents.append(index)
        }
        let p = b + 1 + 2 * count
        let start = Int(bytes[p])
        let end = Int(bytes[p + 1])
        let high = Int(bytes[p + 2] >> 4)
        let low = Int(bytes[p + 2] & 15)
        if progressive {
            guard start <= end, end <= 63, (start == 0) == (end == 0), high <= 13, low <= 13 else {
                throw fail(
                    "SOS: spectral selection \(start)…\(end), approximation \(high)/\(low) is not valid for a progressive scan"
                )
            }
            guard start == 0 || count == 1 else {
                throw fail("SOS: a progressive AC scan with \(count) components (must be 1)")
            }
        }  // (a sequential scan's spectral fields are ignored, as libjpeg does)
        for index in scanComponents where components[index].quantization == nil {
            guard let table = quantizationTables[components[index].quantizationIndex] else {
                throw fail(
                    "SOS: quantization table \(components[index].quantizationIndex) of component \(components[index].id) is not defined"
                )
            }
            components[index].quantization = table  // latched, as libjpeg does
        }
        if count > 1 {
            let blocks = scanComponents.reduce(0) { $0 + components[$1].horizontal * components[$1].vertical }
            guard blocks <= 10 else { throw fail("SOS: an interleaved scan of \(blocks) blocks per MCU (at most 10)") }
        }
        let needsDC = !progressive || (start == 0 && high == 0)
        let needsAC = !progressive || start > 0
        for index in scanComponents {
            if needsDC && dcTables[components[index].dcTable] == nil {
                throw fail(
                    "SOS: DC Huffman table \(components[index].dcTable) of component \(components[index].id) is not defined"
                )
            }
            if needsAC && acTables[components[index].acTable] == nil {
                throw fail(
                    "SOS: AC Huffman table \(components[index].acTable) of component \(components[index].id) is not defined"
                )
            }
        }
        try decodeScan(
            scanComponents, start: progressive ? start : 0, end: progressive ? end : 63, high: progressive ? high : 0,
            low: progressive ? low : 0)
        scans += 1
    }

    /// Decodes one scan's entropy-coded data starting at `position`, leaving `position` at the
    /// marker that follows it.
    func decodeScan(_ scanComponents: [Int], start: Int, end: Int, high: Int, low: Int) throws {
        for index in components.indices { components[index].dcPrediction = 0 }
        eobRun = 0
        let single = scanComponents.count == 1
        let mcuColumns: Int
        let mcuRows: Int
        if single {
            let component = components[scanComponents[0]]
            mcuColumns = (component.sampledWidth + 7) / 8
            mcuRows = (component.sampledHeight + 7) / 8
        } else {
            mcuColumns = (width + 8 * maximumHorizontal - 1) / (8 * maximumHorizontal)
            mcuRows = (height + 8 * maximumVertical - 1) / (8 * maximumVertical)
        }
        let total = mcuColumns * mcuRows
        let scanName = "\(name): scan \(scans + 1)"
        // Pulls each scan component's coefficients out for the duration of the scan.
        var storage = scanComponents.map { index -> [Int16] in
            let values = components[index].coefficients
            components[index].coefficients = []
            return values
        }
        defer { for (slot, index) in scanComponents.enumerated() { components[index].coefficients = storage[slot] } }
        let natural = JPEGDecoder.naturalOrder
        // Tables per scan component (readScan checked that the ones this scan uses exist).
        let dc = scanComponents.map { dcTables[components[$0].dcTable] ?? JPEGHuffmanTable.empty }
        let ac = scanComponents.map { acTables[components[$0].acTable] ?? JPEGHuffmanTable.empty }
        try bytes.withUnsafeBufferPointer { file in
            var reader = JPEGBitReader(bytes: file, position: position, name: scanName)
            var restartsSeen = 0
            for mcu in 0..<total {
                if restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0 {
                    reader.reset()
                    reader.position = try expectRestart(
                        file, at: reader.position, number: restartsSeen, scanName: scanName)
                    restartsSeen += 1
                    for index in components.indices { components[index].dcPrediction = 0 }
                    eobRun = 0
                }
                let mcuRow = mcu / mcuColumns
                let mcuColumn = mcu % mcuColumns
                for (slot, index) in scanComponents.enumerated() {
                    let component = components[index]
                    let blocksWide = single ? 1 : component.horizontal
                    let blocksHigh = single ? 1 : component.vertical
                    for v in 0..<blocksHigh {
                        for h in 0..<blocksWide {
                            let row = mcuRow * blocksHigh + v
                            let column = mcuColumn * blocksWide + h
                            let offset = (row * component.blocksPerLine + column) * 64
                            try storage[slot].withUnsafeMutableBufferPointer { all in
                                guard let base = all.baseAddress else { return }
                                let block = base + offset
                                if !progressive {
                                    try decodeBaseline(&reader, block, index, dc[slot], ac[slot], natural)
                                } else if start == 0 {
                                    if high == 0 {
                                        let category = try reader.decode(dc[slot])
                                        components[index].dcPrediction += try reader.signed(category)
                                        block[0] = Int16(truncatingIfNeeded: components[index].dcPrediction << low)
                                    } else if try reader.bits(1) == 1 {
                                        block[0] |= Int16(truncatingIfNeeded: 1 << low)
                                    }
                                } else if high == 0 {
                                    try decodeACFirst(&reader, block, ac[slot], start, end, low, natural)
                                } else {
                                    try decodeACRefine(&reader, block, ac[slot], start, end, low, natural)
                                }
                            }
                        }
                    }
                }
            }
            // The scan is done: continue with the marker after its data (skipping stray bytes,
            // as libjpeg does with a warning).
            var p = reader.position
            while p + 1 < file.count
                && !(file[p] == 0xFF && file[p + 1] != 0x00 && !(0xD0...0xD7).contains(file[p + 1]))
            { p += 1 }
            position = p + 1 < file.count ? p : file.count
        }
    }

    /// Finds the restart marker RSTn (n = `number` mod 8) that must follow an interval's data.
    func expectRestart(_ file: UnsafeBufferPointer<UInt8>, at start: Int, number: Int, scanName: String) throws -> Int {
        var p = start
        // Bytes left unread in the interval (none in a well-formed file) are skipped as libjpeg does.
        while p + 1 < file.count && !(file[p] == 0xFF && file[p + 1] != 0x00 && file[p + 1] != 0xFF) { p += 1 }
        let expected = UInt8(0xD0 + number % 8)
        guard p + 1 < file.count else {
            throw ConvNetError.invalidData(
                "\(scanName): data ends where RST\(number % 8) was expected (truncated file)")
        }
        guard file[p + 1] == expected else {
            throw ConvNetError.invalidData(
                "\(scanName): expected RST\(number % 8) after \(restartInterval)-MCU interval \(number + 1), found \(Self.markerName(file[p + 1]))"
            )
        }
        return p + 2
    }

    @inline(__always)
    func decodeBaseline(
        _ reader: inout JPEGBitReader, _ block: UnsafeMutablePointer<Int16>, _ index: Int, _ dc: JPEGHuffmanTable,
        _ table: JPEGHuffmanTable, _ natural: [Int]
    ) throws {
        let category = try reader.decode(dc)
        components[index].dcPrediction += try reader.signed(category)
        block[0] = Int16(truncatingIfNeeded: components[index].dcPrediction)
        var k = 1
        while k < 64 {
            let symbol = try reader.decode(table)
            let run = symbol >> 4
            let size = symbol & 15
            if size == 0 {
                if run != 15 { break }
                k += 16
                continue
            }
            k += run
            guard k < 64 else {
                throw ConvNetError.invalidData(
                    "\(reader.name): AC coefficients run past the end of a block (corrupt data)")
            }
            block[natural[k]] = Int16(truncatingIfNeeded: try reader.signed(size))
            k += 1
        }
    }

    /// A progressive AC scan's first pass over band `start…end` (T.81 G.1.2.2).
    @inline(__always)
    func decodeACFirst(
        _ reader: inout JPEGBitReader, _ block: UnsafeMutablePointer<Int16>, _ table: JPEGHuffmanTable,
        _ start: Int, _ end: Int, _ low: Int, _ natural: [Int]
    ) throws {
        if eobRun > 0 {
            eobRun -= 1
            return
        }
        var k = start
        while k <= end {
            let symbol = try reader.decode(table)
            let run = symbol >> 4
            let size = symbol & 15
            if size != 0 {
                k += run
                guard k <= end else {
                    throw ConvNetError.invalidData(
                        "\(reader.name): AC run past the end of the spectral band (corrupt data)")
                }
                block[natural[k]] = Int16(truncatingIfNeeded: try reader.signed(size) << low)
            } else if run == 15 {
                k += 15
            } else {
                eobRun = (1 << run) - 1
                if run > 0 { eobRun += try reader.bits(run) }
                break
            }
            k += 1
        }
    }

    /// A progressive AC refinement pass (T.81 G.1.2.3; libjpeg's `decode_mcu_AC_refine`).
    @inline(__always)
    func decodeACRefine(
        _ reader: inout JPEGBitReader, _ block: UnsafeMutablePointer<Int16>, _ table: JPEGHuffmanTable,
        _ start: Int, _ end: Int, _ low: Int, _ natural: [Int]
    ) throws {
        let plus = Int16(truncatingIfNeeded: 1 << low)
        let minus = Int16(truncatingIfNeeded: -1 << low)
        var k = start
        if eobRun == 0 {
            while k <= end {
                let symbol = try reader.decode(table)
                var run = symbol >> 4
                let size = symbol & 15
                var value: Int16 = 0
                if size != 0 {
                    guard size == 1 else {
                        throw ConvNetError.invalidData(
                            "\(reader.name): refinement coefficient of size \(size) (must be 1; corrupt data)")
                    }
                    value = try reader.bits(1) == 1 ? plus : minus
                } else if run != 15 {
                    eobRun = 1 << run
                    if run > 0 { eobRun += try reader.bits(run) }
                    break
                }
                // Skip `run` zero coefficients, refining the non-zero ones passed on the way.
                while k <= end {
                    let position = natural[k]
                    if block[position] != 0 {
                        if try reader.bits(1) == 1 && block[position] & plus == 0 {
                            block[position] = block[position] >= 0 ? block[position] &+ plus : block[position] &+ minus
                        }
                    } else {
                        if run == 0 { break }
                        run -= 1
                    }
                    k += 1
                }
                if value != 0 {
                    guard k <= end else {
                        throw ConvNetError.invalidData(
                            "\(reader.name): refinement run past the end of the spectral band (corrupt data)")
                    }
                    block[natural[k]] = value
                }
                k += 1
            }
        }
        if eobRun > 0 {
            while k <= end {
                let position = natural[k]
                if block[position] != 0 {
                    if try reader.bits(1) == 1 && block[position] & plus == 0 {
                        block[position] = block[position] >= 0 ? block[position] &+ plus : block[position] &+ minus
                    }
                }
                k += 1
            }
            eobRun -= 1
        }
    }

    /// The decoded pixels: IDCT of every block, upsampling, colour conversion.
    func image() throws -> DecodedImage {
        var planes: [[UInt8]] = []
        for component in components {
            guard let quantization = component.quantization else {
                throw fail("component \(component.id) has no scan data (truncated file?)")
            }
            let stride = component.blocksPerLine * 8
            var plane = [UInt8](repeating: 0, count: stride * component.blocksPerColumn * 8)
            component.coefficients.withUnsafeBufferPointer { coefficients in
                quantization.withUnsafeBufferPointer { table in
                    plane.withUnsafeMutableBufferPointer { output in
                        for blockRow in 0..<component.blocksPerColumn {
                            for blockColumn in 0..<component.blocksPerLine {
                                let block = (blockRow * component.blocksPerLine + blockColumn) * 64
                                JPEGIDCT.islow(
                                    coefficients, block, table, output, blockRow * 8 * stride + blockColumn * 8,
                                    stride: stride)
                            }
                        }
                    }
                }
            }
            planes.append(plane)
        }
        let full = components.enumerated().map { index, component in
            JPEGUpsampling.upsample(
                planes[index], stride: component.blocksPerLine * 8, sampledWidth: component.sampledWidth,
                sampledHeight: component.sampledHeight, horizontalFactor: maximumHorizontal / component.horizontal,
                verticalFactor: maximumVertical / component.vertical, width: width, height: height)
        }
        if components.count == 1 {
            return DecodedImage(unchecked: width, height, 1, .uint8(full[0]))
        }
        let isRGB: Bool
        if sawJFIF {
            isRGB = false
        } else if let adobeTransform {
            isRGB = adobeTransform == 0
        } else {
            isRGB = components.map(\.id) == [82, 71, 66]
        }
        let pixels =
            isRGB
            ? JPEGColor.interleave(full[0], full[1], full[2])
            : JPEGColor.yccToRGB(full[0], full[1], full[2])
        return DecodedImage(unchecked: width, height, 3, .uint8(pixels))
    }
}
