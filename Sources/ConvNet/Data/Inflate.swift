/// A DEFLATE decoder (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks, in pure
/// Swift so that `.gz` IDX files and deflated `.npz` members need no system library.
///
/// Every length, code and distance is checked against the input: a truncated or corrupt stream
/// throws `ConvNetError.invalidData` naming `name`, it never traps. `maximumOutput` bounds the
/// decoded size (a defence against decompression bombs); by default
/// `ReaderLimits.current.inflatedCap(forCompressed:)` of the input.
public enum Inflate {
    /// Decodes a raw DEFLATE stream starting at `start`; returns the bytes and the index of the
    /// first input byte after the final block (where a gzip or zlib trailer begins).
    public static func decompress(
        _ input: [UInt8], from start: Int = 0, name: String = "deflate stream",
        expectedSize: Int? = nil, maximumOutput: Int? = nil
    ) throws -> (bytes: [UInt8], end: Int) {
        let maximumOutput = maximumOutput ?? ReaderLimits.current.inflatedCap(forCompressed: input.count - start)
        var output: [UInt8] = []
        if let expectedSize, expectedSize >= 0, expectedSize <= maximumOutput { output.reserveCapacity(expectedSize) }
        let end = try input.withUnsafeBufferPointer { buffer -> Int in
            var reader = BitReader(bytes: buffer, position: start, name: name)
            var isFinal = false
            while !isFinal {
                isFinal = try reader.bits(1) == 1
                switch try reader.bits(2) {
                case 0: try copyStored(&reader, &output, maximumOutput)
                case 1: try inflateBlock(&reader, &output, fixedCodes.literal, fixedCodes.distance, maximumOutput)
                case 2:
                    let (literal, distance) = try readDynamicCodes(&reader)
                    try inflateBlock(&reader, &output, literal, distance, maximumOutput)
                default: throw ConvNetError.invalidData("\(name): invalid DEFLATE block type 3")
                }
            }
            reader.alignToByte()  // gives back whole bytes read ahead
            return reader.position
        }
        return (output, end)
    }

    /// Reads bits least-significant first.
    struct BitReader {
        let bytes: UnsafeBufferPointer<UInt8>
        /// The next byte to load into `buffer`.
        var position: Int
        let name: String
        var buffer: UInt64 = 0
        var count = 0

        init(bytes: UnsafeBufferPointer<UInt8>, position: Int, name: String) {
            self.bytes = bytes
            self.position = position
            self.name = name
        }

        mutating func need(_ n: Int) throws {
            while count < n {
                guard position < bytes.count else {
                    throw ConvNetError.invalidData("\(name): truncated DEFLATE data (ended at byte \(bytes.count))")
                }
                buffer |= UInt64(bytes[position]) << UInt64(count)
                position += 1
                count += 8
            }
        }

        /// Loads whole bytes while fewer than `n` bits are buffered and input remains.
        mutating func fill(_ n: Int) {
            while count < n && position < bytes.count {
                buffer |= UInt64(bytes[position]) << UInt64(count)
                position += 1
                count += 8
            }
        }

        mutating func bits(_ n: Int) throws -> Int {
            if n == 0 { return 0 }
            try need(n)
            let value = Int(buffer & ((1 << UInt64(n)) - 1))
            buffer >>= UInt64(n)
            count -= n
            return value
        }

        /// Drops the bits left in the current byte; whole unread bytes go back to the input.
        mutating func alignToByte() {
            let whole = count / 8
            position -= whole
            buffer = 0
            count = 0
        }
    }

    /// A canonical Huffman code as counts per length and symbols in code order (puff.c's form).
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []
        /// For codes of up to `lookupBits` bits: the next `lookupBits` input bits (LSB first)
        /// → symbol << 4 | length, 0 when the code is longer.
        var lookup = [UInt16](repeating: 0, count: 1 << Huffman.lookupBits)
        static let lookupBits = 9

        /// Builds the code from per-symbol lengths (0 = unused); rejects over-subscribed sets.
        init(lengths: [Int], name: String) throws {
            for length in lengths { counts[length] += 1 }
            counts[0] = 0
            var left = 1
            for length in 1..<16 {
                left <<= 1
                left -= counts[length]
                guard left >= 0 else { throw ConvNetError.invalidData("\(name): over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
            // Canonical codes (RFC 1951 §3.2.2), bit-reversed into the lookup table.
            var nextCode = [Int](repeating: 0, count: 16)
            var code = 0
            for length in 1..<16 {
                nextCode[length] = code
                code = (code + counts[length]) << 1
            }
            for (symbol, length) in lengths.enumerated() where length != 0 {
                let value = nextCode[length]
                nextCode[length] += 1
                guard length <= Huffman.lookupBits else { continue }
                var reversed = 0
                for bit in 0..<length where value & (1 << (length - 1 - bit)) != 0 { reversed |= 1 << bit }
                var fill = 0
                while fill < 1 << (Huffman.lookupBits - length) {
                    lookup[reversed | fill << length] = UInt16(symbol << 4 | length)
                    fill += 1
                }
            }
        }

        func decode(_ reader: inout BitReader) throws -> Int {
            reader.fill(Huffman.lookupBits)
            let entry = Int(lookup[Int(reader.buffer & UInt64((1 << Huffman.lookupBits) - 1))])
            let length = entry & 15
            if entry != 0 && length <= reader.count {
                reader.buffer >>= UInt64(length)
                reader.count -= length
                return entry >> 4
            }
            var code = 0
            var first = 0
            var index = 0
            for length in 1..<16 {
                code |= try reader.bits(1)
                let count = counts[length]
                if code - count < first { return symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw ConvNetError.invalidData("\(reader.name): invalid Huffman code in DEFLATE data")
        }
    }

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    static let fixedCodes: (literal: Huffman, distance: Huffman) = {
        var lengths = [Int](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        return (
            try! Huffman(lengths: lengths, name: "fixed code"),
            try! Huffman(lengths: [Int](repeating: 5, count: 30), name: "fixed code")
        )
    }()

    /// The error of a stream that inflates past `maximum` bytes.
    static func tooLarge(_ name: String, _ maximum: Int) -> ConvNetError {
        .invalidData(
            "\(name): decompressed data exceeds the limit of \(maximum) bytes (ReaderLimits: at most "
                + "\(ReaderLimits.current.maximumInflationRatio)× the compressed size and CONVNET_MAX_INFLATED_BYTES = "
                + "\(ReaderLimits.current.maximumInflatedBytes))")
    }

    static func copyStored(_ reader: inout BitReader, _ output: inout [UInt8], _ maximum: Int) throws {
        reader.alignToByte()
        let p = reader.position
        guard p + 4 <= reader.bytes.count else {
            throw ConvNetError.invalidData("\(reader.name): truncated stored DEFLATE block header")
        }
        let length = Int(reader.bytes[p]) | Int(reader.bytes[p + 1]) << 8
        let complement = Int(reader.bytes[p + 2]) | Int(reader.bytes[p + 3]) << 8
        guard length == (~complement & 0xFFFF) else {
            throw ConvNetError.invalidData(
                "\(reader.name): stored block length \(length) does not match its complement")
        }
        guard p + 4 + length <= reader.bytes.count else {
            throw ConvNetError.invalidData("\(reader.name): truncated stored DEFLATE block (\(length) bytes announced)")
        }
        guard output.count + length <= maximum else {
            throw tooLarge(reader.name, maximum)
        }
        output.append(contentsOf: reader.bytes[(p + 4)..<(p + 4 + length)])
        reader.position = p + 4 + length
    }

    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static func readDynamicCodes(_ reader: inout BitReader) throws -> (Huffman, Huffman) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw ConvNetError.invalidData(
                "\(reader.name): bad dynamic block header (\(literalCount) literal codes, \(distanceCount) distance codes)"
            )
        }
        var codeLengths = [Int](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengths[codeLengthOrder[i]] = try reader.bits(3) }
        let lengthCode = try Huffman(lengths: codeLengths, name: reader.name)
        var lengths: [Int] = []
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try lengthCode.decode(&reader)
            var repeatValue = 0
            var repeatCount = 0
            switch symbol {
            case 0..<16:
                lengths.append(symbol)
                continue
            case 16:
                guard let last = lengths.last else {
                    throw ConvNetError.invalidData("\(reader.name): code-length repeat with no previous length")
                }
                repeatValue = last
                repeatCount = 3 + (try reader.bits(2))
            case 17: repeatCount = 3 + (try reader.bits(3))
            default: repeatCount = 11 + (try reader.bits(7))
            }
            guard lengths.count + repeatCount <= literalCount + distanceCount else {
                throw ConvNetError.invalidData("\(reader.name): code lengths overrun the dynamic block header")
            }
            lengths.append(contentsOf: repeatElement(repeatValue, count: repeatCount))
        }
        guard lengths[256] != 0 else {
            throw ConvNetError.invalidData("\(reader.name): dynamic block has no end-of-block code")
        }
        return (
            try Huffman(lengths: Array(lengths[0..<literalCount]), name: reader.name),
            try Huffman(lengths: Array(lengths[literalCount...]), name: reader.name)
        )
    }

    static func inflateBlock(
        _ reader: inout BitReader, _ output: inout [UInt8], _ literal: Huffman, _ distance: Huffman, _ maximum: Int
    ) throws {
        while true {
            let symbol = try literal.decode(&reader)
            if symbol < 256 {
                guard output.count < maximum else {
                    throw tooLarge(reader.name, maximum)
                }
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < 29 else {
                    throw ConvNetError.invalidData("\(reader.name): invalid length code \(symbol)")
                }
                let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
                let distanceSymbol = try distance.decode(&reader)
                guard distanceSymbol < 30 else {
                    throw ConvNetError.invalidData("\(reader.name): invalid distance code \(distanceSymbol)")
                }
                let back = distanceBase[distanceSymbol] + (try reader.bits(distanceExtra[distanceSymbol]))
                guard back <= output.count else {
                    throw ConvNetError.invalidData(
                        "\(reader.name): distance \(back) reaches before the start of the data")
                }
                guard output.count + length <= maximum else {
                    throw tooLarge(reader.name, maximum)
                }
                // Byte by byte: appending a slice of `output` to itself would copy the whole array.
                let from = output.count - back
                for i in 0..<length { output.append(output[from + i]) }
            }
        }
    }
}
