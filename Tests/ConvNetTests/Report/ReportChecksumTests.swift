import Testing

@testable import ConvNet

/// Checksums against published test vectors.
@Suite struct ReportChecksumTests {
    @Test func crc32MatchesTheStandardCheckValues() {
        // "123456789" is the catalogued check value of CRC-32/ISO-HDLC (the PNG/zlib CRC).
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        #expect(CRC32.checksum([UInt8]()) == 0)
        // The CRC of the PNG IEND chunk type, as found in every PNG file: AE 42 60 82.
        #expect(CRC32.checksum(Array("IEND".utf8)) == 0xAE42_6082)
        // Updating in two parts equals one pass.
        let bytes = Array("hello, world".utf8)
        #expect(CRC32.update(CRC32.checksum(bytes[0..<5]), bytes[5...]) == CRC32.checksum(bytes))
    }

    @Test func crc32cMatchesRFC3720Vectors() {
        // RFC 3720, appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        // The catalogued check value of CRC-32/ISCSI.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func maskedCRC32CFollowsTheTFRecordFormula() {
        let crc = CRC32C.checksum(Array("123456789".utf8))
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    @Test func adler32MatchesKnownValues() {
        // The worked example on the Adler-32 Wikipedia page, and the empty input.
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Adler32.checksum([]) == 1)
        // A long input crosses the 5552-byte reduction blocks; value from Python's zlib.adler32(b'\xff' * 100000).
        #expect(Adler32.checksum([UInt8](repeating: 0xFF, count: 100_000)) == 0x149A_302C)
    }
}
