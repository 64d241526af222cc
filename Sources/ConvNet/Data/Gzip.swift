import Foundation

/// The gzip container (RFC 1952) around DEFLATE: header (magic 1f 8b, method 8, flags, optional
/// extra / name / comment / header CRC), the compressed data, then CRC-32 and size mod 2³².
/// Concatenated members are decoded one after another, as `gunzip` does.
public enum Gzip {
    /// Whether `bytes` starts with the gzip magic.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses every member; checks each member's CRC-32 and length.
    public static func decompress(_ bytes: [UInt8], name: String = "gzip data", maximumOutput: Int? = nil) throws
        -> [UInt8]
    {
        let maximumOutput = maximumOutput ?? ReaderLimits.current.inflatedCap(forCompressed: bytes.count)
        var output: [UInt8] = []
        var position = 0
        repeat {
            let (member, next) = try decompressMember(
                bytes, at: position, name: name, maximumOutput: maximumOutput - output.count)
            if output.isEmpty { output = member } else { output += member }
            position = next
            // Some writers pad with zeros after the last member.
        } while position + 2 <= bytes.count && bytes[position] == 0x1F && bytes[position + 1] == 0x8B
        return output
    }

    static func decompressMember(_ bytes: [UInt8], at start: Int, name: String, maximumOutput: Int) throws -> (
        [UInt8], Int
    ) {
        func truncated() -> ConvNetError { .invalidData("\(name): truncated gzip header") }
        guard bytes.count - start >= 18 else { throw truncated() }
        guard bytes[start] == 0x1F, bytes[start + 1] == 0x8B else {
            throw ConvNetError.invalidData(
                "\(name): not gzip data (magic \(hex(bytes[start])) \(hex(bytes[start + 1])), expected 1f 8b)")
        }
        guard bytes[start + 2] == 8 else {
            throw ConvNetError.invalidData("\(name): gzip compression method \(bytes[start + 2]) is not DEFLATE (8)")
        }
        let flags = bytes[start + 3]
        guard flags & 0xE0 == 0 else { throw ConvNetError.invalidData("\(name): reserved gzip flags set (\(flags))") }
        var p = start + 10
        if flags & 0x04 != 0 {  // FEXTRA
            guard p + 2 <= bytes.count else { throw truncated() }
            p += 2 + (Int(bytes[p]) | Int(bytes[p + 1]) << 8)
        }
        for flag in [UInt8(0x08), 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            while p < bytes.count && bytes[p] != 0 { p += 1 }
            p += 1
        }
        if flags & 0x02 != 0 { p += 2 }  // FHCRC
        guard p < bytes.count else { throw truncated() }
        let (member, end) = try Inflate.decompress(bytes, from: p, name: name, maximumOutput: maximumOutput)
        guard end + 8 <= bytes.count else { throw ConvNetError.invalidData("\(name): truncated gzip trailer") }
        let storedCRC = readUInt32LE(bytes, end)
        let storedSize = readUInt32LE(bytes, end + 4)
        let crc = CRC32.checksum(member)
        guard crc == storedCRC else {
            throw ConvNetError.invalidData(
                "\(name): gzip CRC-32 mismatch (stored \(hex32(storedCRC)), computed \(hex32(crc)))")
        }
        guard UInt32(truncatingIfNeeded: member.count) == storedSize else {
            throw ConvNetError.invalidData(
                "\(name): gzip length mismatch (stored \(storedSize), decoded \(member.count))")
        }
        return (member, end + 8)
    }
}

/// The zlib container (RFC 1950): 2-byte header, DEFLATE data, Adler-32 of the output.
public enum Zlib {
    /// Decompresses a zlib stream and checks its Adler-32.
    public static func decompress(_ bytes: [UInt8], name: String = "zlib data") throws -> [UInt8] {
        guard bytes.count >= 6 else {
            throw ConvNetError.invalidData("\(name): \(bytes.count) bytes is too short for zlib data")
        }
        guard bytes[0] & 0x0F == 8, (Int(bytes[0]) << 8 | Int(bytes[1])) % 31 == 0, bytes[1] & 0x20 == 0 else {
            throw ConvNetError.invalidData("\(name): bad zlib header \(hex(bytes[0])) \(hex(bytes[1]))")
        }
        let (output, end) = try Inflate.decompress(bytes, from: 2, name: name)
        guard end + 4 <= bytes.count else { throw ConvNetError.invalidData("\(name): truncated zlib trailer") }
        let stored =
            UInt32(bytes[end]) << 24 | UInt32(bytes[end + 1]) << 16 | UInt32(bytes[end + 2]) << 8
            | UInt32(bytes[end + 3])
        let adler = Adler32.checksum(output)
        guard stored == adler else {
            throw ConvNetError.invalidData(
                "\(name): Adler-32 mismatch (stored \(hex32(stored)), computed \(hex32(adler)))")
        }
        return output
    }
}

/// Reads a file, naming it in the error.
func readFileBytes(_ url: URL) throws -> [UInt8] {
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw ConvNetError.fileSystem("cannot read \(url.path): \(reason(error))")
    }
}

/// Reads a file and gunzips it when it starts with the gzip magic.
func readPossiblyGzipped(_ url: URL) throws -> [UInt8] {
    let bytes = try readFileBytes(url)
    return Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, name: url.lastPathComponent) : bytes
}

func readUInt32LE(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3])
        << 24
}

func readUInt16LE(_ bytes: [UInt8], _ offset: Int) -> Int {
    Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
}

func hex(_ byte: UInt8) -> String {
    let text = String(byte, radix: 16)
    return byte < 16 ? "0" + text : text
}

func hex32(_ value: UInt32) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 8 - text.count) + text
}
