import Foundation

/// A NumPy `.npz` archive: a ZIP file of `.npy` members, stored (`np.savez`) or deflated
/// (`np.savez_compressed`), ZIP64 fields included (numpy always writes them).
///
/// The central directory is read first and every offset and size is checked against the
/// file; members are decompressed on demand and their CRC-32 verified.
public struct NPZArchive: Sendable {
    struct Member: Sendable {
        var method: Int
        var compressedSize: Int
        var size: Int
        var crc: UInt32
        var localHeaderOffset: Int
    }

    private let bytes: [UInt8]
    private let members: [String: Member]
    /// The archive's file name, for errors.
    public let fileName: String
    /// Array names (member names without `.npy`), in directory order.
    public let names: [String]

    /// Reads an archive.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: try readFileBytes(url), name: url.lastPathComponent)
    }

    /// Parses an archive's bytes.
    public init(bytes: [UInt8], name: String = "npz data") throws {
        func bad(_ what: String) -> ConvNetError { .invalidData("\(name): \(what)") }
        func u16(_ o: Int) -> Int { readUInt16LE(bytes, o) }
        func u32(_ o: Int) -> Int { Int(readUInt32LE(bytes, o)) }
        func u64(_ o: Int) -> Int? {
            let value = UInt64(readUInt32LE(bytes, o)) | UInt64(readUInt32LE(bytes, o + 4)) << 32
            return value <= UInt64(Int.max) ? Int(value) : nil
        }
        guard bytes.count >= 22 else { throw bad("\(bytes.count) bytes is too short for a ZIP archive") }
        var eocd = -1
        var p = bytes.count - 22
        while p >= max(0, bytes.count - 22 - 65_535) {
            if bytes[p] == 0x50, bytes[p + 1] == 0x4B, bytes[p + 2] == 5, bytes[p + 3] == 6 {
                eocd = p
                break
            }
            p -= 1
        }
        guard eocd >= 0 else { throw bad("not a ZIP/.npz archive (no end-of-central-directory record)") }
        var entryCount = u16(eocd + 10)
        var directorySize = u32(eocd + 12)
        var directoryOffset = u32(eocd + 16)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64 locator right before the record.
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4B50, let record = u64(locator + 8), record <= bytes.count - 56,
                u32(record) == 0x0606_4B50, let count = u64(record + 32), let size = u64(record + 40),
                let offset = u64(record + 48)
            else { throw bad("damaged ZIP64 end-of-central-directory record") }
            entryCount = count
            directorySize = size
            directoryOffset = offset
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw bad("central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the file")
        }
        var members: [String: Member] = [:]
        var names: [String] = []
        p = directoryOffset
        for _ in 0..<entryCount {
            guard p + 46 <= bytes.count, u32(p) == 0x0201_4B50 else {
                throw bad("damaged central directory entry at \(p)")
            }
            let flags = u16(p + 8)
            let method = u16(p + 10)
            let crc = readUInt32LE(bytes, p + 16)
            var compressedSize = u32(p + 20)
            var size = u32(p + 24)
            let nameLength = u16(p + 28)
            let extraLength = u16(p + 30)
            let commentLength = u16(p + 32)
            var localOffset = u32(p + 42)
            let end = p + 46 + nameLength + extraLength + commentLength
            guard end <= bytes.count else { throw bad("truncated central directory") }
            guard flags & 1 == 0 else { throw bad("encrypted members are not supported") }
            let memberName = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // ZIP64 extra field: the 0xFFFFFFFF fields, in order.
            var q = p + 46 + nameLength
            let extraEnd = q + extraLength
            while q + 4 <= extraEnd {
                let id = u16(q)
                let length = u16(q + 2)
                guard q + 4 + length <= extraEnd else { throw bad("damaged extra field of \(memberName)") }
                if id == 1 {
                    var r = q + 4
                    func next() throws -> Int {
                        guard r + 8 <= q + 4 + length, let value = u64(r) else {
                            throw bad("damaged ZIP64 field of \(memberName)")
                        }
                        r += 8
                        return value
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                q += 4 + length
            }
            guard method == 0 || method == 8 else {
                throw bad(
                    "member \(memberName) uses compression method \(method); only stored (0) and deflated (8) are supported"
                )
            }
            members[memberName] = Member(
                method: method, compressedSize: compressedSize, size: size, crc: crc, localHeaderOffset: localOffset)
            names.append(memberName.hasSuffix(".npy") ? String(memberName.dropLast(4)) : memberName)
            p = end
        }
        self.bytes = bytes
        self.members = members
        self.names = names
        self.fileName = name
    }

    /// The decompressed bytes of member `memberName`.
    func memberBytes(_ memberName: String) throws -> [UInt8] {
        func bad(_ what: String) -> ConvNetError { .invalidData("\(fileName): member \(memberName): \(what)") }
        guard let member = members[memberName] else {
            throw ConvNetError.invalidArgument(
                "\(fileName) has no array '\(memberName)'; it has \(names.joined(separator: ", "))")
        }
        let local = member.localHeaderOffset
        guard local <= bytes.count - 30, readUInt32LE(bytes, local) == 0x0403_4B50 else {
            throw bad("bad local header offset \(local)")
        }
        let start = local + 30 + readUInt16LE(bytes, local + 26) + readUInt16LE(bytes, local + 28)
        guard start <= bytes.count, member.compressedSize <= bytes.count - start else {
            throw bad("data (\(member.compressedSize) bytes at \(start)) runs past the end of the file")
        }
        let data = Array(bytes[start..<(start + member.compressedSize)])
        let output: [UInt8]
        if member.method == 0 {
            guard member.size == member.compressedSize else {
                throw bad("stored member of \(member.compressedSize) bytes, directory says \(member.size) uncompressed")
            }
            output = data
        } else {
            let cap = ReaderLimits.current.inflatedCap(forCompressed: member.compressedSize)
            guard member.size <= cap else {
                throw bad(
                    "directory says \(member.size) bytes uncompressed from \(member.compressedSize), above the limit of \(cap) "
                        + "(ReaderLimits: \(ReaderLimits.current.maximumInflationRatio)× the compressed size, CONVNET_MAX_INFLATED_BYTES)"
                )
            }
            output = try Inflate.decompress(
                data, name: "\(fileName): \(memberName)", expectedSize: member.size, maximumOutput: member.size
            ).bytes
        }
        guard output.count == member.size else {
            throw bad("decompressed to \(output.count) bytes, directory says \(member.size)")
        }
        guard CRC32.checksum(output) == member.crc else { throw bad("CRC-32 mismatch") }
        return output
    }

    /// The array called `name` (with or without `.npy`).
    public func array(_ name: String) throws -> NumPyArray {
        let memberName = members[name] != nil ? name : name + ".npy"
        return try NumPyArray(npy: try memberBytes(memberName), name: "\(fileName)[\(name)]")
    }

    /// Whether the archive holds an array called `name`.
    public func contains(_ name: String) -> Bool { members[name] != nil || members[name + ".npy"] != nil }
}
