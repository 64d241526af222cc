/// CRC-32 as used by PNG, zlib and gzip (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320).
///
/// `CRC32.checksum(Array("123456789".utf8)) == 0xCBF43926`.
public enum CRC32 {
    /// The 256-entry lookup table for the reflected polynomial 0xEDB88320.
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
        return c
    }

    /// Continues a running CRC with more bytes. Start with `crc = 0`.
    /// - Parameters:
    ///   - crc: the CRC of the bytes seen so far (0 for none).
    ///   - bytes: the next bytes.
    /// - Returns: the CRC of all bytes so far.
    public static func update<Bytes: Sequence>(_ crc: UInt32, _ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var c = ~crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }

    /// The CRC-32 of `bytes`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        update(0, bytes)
    }
}
