/// A small zlib (RFC 1950) / DEFLATE (RFC 1951) encoder written for the PNG writer.
///
/// Two methods: `.stored` writes uncompressed blocks; `.fixedHuffman` runs a hash-chain LZ77
/// matcher and codes the result with the fixed Huffman code of RFC 1951 §3.2.6. Plots made of flat
/// colours typically shrink 20–100×. Neither is as tight as real zlib, but any inflater reads both.
public enum ZlibEncoder {
    /// How the DEFLATE stream is coded.
    public enum Method: Sendable {
        /// Uncompressed ("stored") blocks of at most 65,535 bytes.
        case stored
        /// LZ77 matches coded with the fixed Huffman tables.
        case fixedHuffman
    }

    /// Compresses `data` into a complete zlib stream: 2-byte header, DEFLATE blocks, Adler-32.
    public static func compress(_ data: [UInt8], method: Method = .fixedHuffman) -> [UInt8] {
        // CM = 8 (deflate), CINFO = 7 (32 KiB window); FCHECK makes it a multiple of 31.
        var out: [UInt8] = [0x78, 0x01]
        switch method {
        case .stored: appendStoredBlocks(data, to: &out)
        case .fixedHuffman: out.append(contentsOf: fixedHuffmanBlock(data))
        }
        let adler = Adler32.checksum(data)
        out.append(contentsOf: [
            UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF),
        ])
        return out
    }

    static func appendStoredBlocks(_ data: [UInt8], to out: inout [UInt8]) {
        var start = 0
        repeat {
            let length = min(65_535, data.count - start)
            let isFinal = start + length == data.count
            out.append(isFinal ? 1 : 0)  // BFINAL, BTYPE = 00; the rest of the byte is padding.
            out.append(UInt8(length & 0xFF))
            out.append(UInt8(length >> 8))
            let complement = ~UInt16(length)
            out.append(UInt8(complement & 0xFF))
            out.append(UInt8(complement >> 8))
            out.append(contentsOf: data[start..<(start + length)])
            start += length
        } while start < data.count
    }

    // RFC 1951 §3.2.5 length and distance tables.
    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    static let lengthExtra: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    /// Writes bits least-significant first, as DEFLATE requires.
    struct BitWriter {
        var bytes: [UInt8] = []
        var buffer: UInt64 = 0
        var count = 0

        mutating func write(_ value: Int, bits: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += bits
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                count -= 8
            }
        }

        /// Writes a Huffman code, whose bits are defined most-significant first.
        mutating func writeCode(_ code: Int, bits: Int) {
            var reversed = 0
            for i in 0..<bits where (code >> i) & 1 != 0 { reversed |= 1 << (bits - 1 - i) }
            write(reversed, bits: bits)
        }

        mutating func finish() -> [UInt8] {
            if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
            buffer = 0
            count = 0
            return bytes
        }
    }

    static func writeLiteral(_ symbol: Int, to writer: inout BitWriter) {
        switch symbol {
        case 0...143: writer.writeCode(0x30 + symbol, bits: 8)
        case 144...255: writer.writeCode(0x190 + symbol - 144, bits: 9)
        case 256...279: writer.writeCode(symbol - 256, bits: 7)
        default: writer.writeCode(0xC0 + symbol - 280, bits: 8)
        }
    }

    static func writeMatch(length: Int, distance: Int, to writer: inout BitWriter) {
        var li = lengthBase.count - 1
        while lengthBase[li] > length { li -= 1 }
        writeLiteral(257 + li, to: &writer)
        if lengthExtra[li] > 0 { writer.write(length - lengthBase[li], bits: lengthExtra[li]) }
        var di = distanceBase.count - 1
        while distanceBase[di] > distance { di -= 1 }
        writer.writeCode(di, bits: 5)
        if distanceExtra[di] > 0 { writer.write(distance - distanceBase[di], bits: distanceExtra[di]) }
    }

    /// One final fixed-Huffman block holding all of `data`, matched with hash chains
    /// (3-byte hashes, 32 KiB window, at most 32 candidates per position, greedy).
    static func fixedHuffmanBlock(_ data: [UInt8]) -> [UInt8] {
        var writer = BitWriter()
        writer.bytes.reserveCapacity(data.count / 8 + 64)
        writer.write(1, bits: 1)  // BFINAL
        writer.write(1, bits: 2)  // BTYPE = 01, fixed Huffman
        let window = 32_768
        let maxLength = 258
        let maxChain = 32
        let hashBits = 15
        let hashMask = (1 << 15) - 1
        var head = [Int](repeating: -1, count: 1 << hashBits)
        var previous = [Int](repeating: -1, count: window)
        data.withUnsafeBufferPointer { src in
            let n = src.count
            @inline(__always) func hash(_ i: Int) -> Int {
                (Int(src[i]) << 10 ^ Int(src[i + 1]) << 5 ^ Int(src[i + 2])) & hashMask
            }
            @inline(__always) func insert(_ i: Int) {
                guard i + 2 < n else { return }
                let h = hash(i)
                previous[i & (window - 1)] = head[h]
                head[h] = i
            }
            var i = 0
            while i < n {
                var bestLength = 0
                var bestDistance = 0
                if i + 2 < n {
                    var candidate = head[hash(i)]
                    var chain = 0
                    let limit = min(maxLength, n - i)
                    while candidate >= 0 && i - candidate <= window && chain < maxChain {
                        if src[candidate + bestLength] == src[i + bestLength] || bestLength == 0 {
                            var length = 0
                            while length < limit && src[candidate + length] == src[i + length] { length += 1 }
                            if length > bestLength {
                                bestLength = length
                                bestDistance = i - candidate
                                if length == limit { break }
                            }
                        }
                        let next = previous[candidate & (window - 1)]
                        if next >= candidate { break }
                        candidate = next
                        chain += 1
                    }
                }
                if bestLength >= 3 {
                    writeMatch(length: bestLength, distance: bestDistance, to: &writer)
                    for j in i..<(i + bestLength) { insert(j) }
                    i += bestLength
                } else {
                    writeLiteral(Int(src[i]), to: &writer)
                    insert(i)
                    i += 1
                }
            }
        }
        writeLiteral(256, to: &writer)  // end of block
        return writer.finish()
    }
}
