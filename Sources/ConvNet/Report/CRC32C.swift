/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI (RFC 3720) and by
/// TensorFlow's record files (TFRecord, TensorBoard event files).
///
/// Test vectors from RFC 3720 B.4: 32 zero bytes → 0x8A9136AA, 32 bytes of 0xFF → 0x62A8AB43;
/// `"123456789"` → 0xE3069283.
public enum CRC32C {
    /// The 256-entry lookup table for the reflected polynomial 0x82F63B78.
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? (0x82F6_3B78 ^ (c >> 1)) : (c >> 1) }
        return c
    }

    /// The CRC-32C of `bytes`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }

    /// The masked CRC-32C that TFRecord files store: `((crc >> 15) | (crc << 17)) &+ 0xA282EAD8`.
    public static func masked<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
