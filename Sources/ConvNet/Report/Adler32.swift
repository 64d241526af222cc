/// Adler-32, the checksum that ends every zlib stream (RFC 1950).
///
/// `Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E60398`.
public enum Adler32 {
    /// The Adler-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        let modulus: UInt32 = 65_521
        // 5552 is the largest block for which b cannot overflow 32 bits before the reduction.
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                let end = min(index + 5552, buffer.count)
                while index < end {
                    a &+= UInt32(buffer[index])
                    b &+= a
                    index += 1
                }
                a %= modulus
                b %= modulus
            }
        }
        return (b << 16) | a
    }
}
