import Foundation
import Testing

@testable import ConvNet

/// The pure-Swift DEFLATE decoder against zlib's own output (python3's zlib and gzip modules,
/// and a committed gzip member) and against damaged streams.
struct InflateTests {
    /// `gzip.compress(b'ConvNet reads gzip. ConvNet reads gzip. ConvNet reads gzip!\n', mtime=0)`
    /// made by python3 3.11 (zlib 1.2.13): a fixed-Huffman block with back-references.
    static let committedGzip: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x73, 0xce, 0xcf, 0x2b, 0xf3, 0x4b, 0x2d, 0x51,
        0x28, 0x4a, 0x4d, 0x4c, 0x29, 0x56, 0x48, 0xaf, 0xca, 0x2c, 0xd0, 0x53, 0x70, 0x26, 0x4a, 0x4c, 0x91, 0x0b,
        0x00, 0xb8, 0xd8, 0xb3, 0x94, 0x3c, 0x00, 0x00, 0x00,
    ]

    @Test func committedGzipMemberDecodes() throws {
        let text = try Gzip.decompress(InflateTests.committedGzip)
        #expect(
            String(decoding: text, as: UTF8.self) == "ConvNet reads gzip. ConvNet reads gzip. ConvNet reads gzip!\n")
    }

    @Test func roundTripsTheLibrarysOwnEncoder() throws {
        var random = SeededRandom(seed: 5)
        var data: [UInt8] = []
        for i in 0..<100_000 { data.append(UInt8(i % 7 == 0 ? random.integer(below: 256) : (i / 13) % 41)) }
        for method in [ZlibEncoder.Method.stored, .fixedHuffman] {
            #expect(try Zlib.decompress(ZlibEncoder.compress(data, method: method)) == data)
        }
        #expect(try Zlib.decompress(ZlibEncoder.compress([])) == [])
    }

    /// Dynamic-Huffman blocks at every level, raw DEFLATE, zlib and multi-member gzip with a
    /// file name, all written by python3.
    @Test func decodesWhatPythonZlibWrites() throws {
        guard pythonWith(["zlib", "gzip"]) != nil else {
            print("skipped: python3 with zlib is not available")
            return
        }
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = """
            import gzip, io, random, sys, zlib
            out = sys.argv[1]
            rng = random.Random(7)
            data = bytes(rng.randrange(256) if i % 5 == 0 else (i // 11) % 53 for i in range(300000)) + b'abc' * 5000
            open(out + '/raw', 'wb').write(data)
            for level in range(10):
                c = zlib.compressobj(level, zlib.DEFLATED, -15)
                open(out + '/deflate%d' % level, 'wb').write(c.compress(data) + c.flush())
            open(out + '/zlib', 'wb').write(zlib.compress(data, 6))
            buffer = io.BytesIO()
            with gzip.GzipFile(filename='payload.bin', mode='wb', fileobj=buffer, mtime=1) as f:
                f.write(data[:1000])
            with gzip.GzipFile(mode='wb', fileobj=buffer, mtime=1) as f:
                f.write(data[1000:])
            open(out + '/two-members.gz', 'wb').write(buffer.getvalue())
            """
        let result = try #require(runPython(script, arguments: [folder.path]))
        #expect(result.status == 0, "\(result.output)")
        let raw = try readFileBytes(folder.appendingPathComponent("raw"))
        for level in 0..<10 {
            let stream = try readFileBytes(folder.appendingPathComponent("deflate\(level)"))
            let (bytes, end) = try Inflate.decompress(stream)
            #expect(bytes == raw, "level \(level)")
            #expect(end == stream.count)
        }
        #expect(try Zlib.decompress(readFileBytes(folder.appendingPathComponent("zlib"))) == raw)
        #expect(try readPossiblyGzipped(folder.appendingPathComponent("two-members.gz")) == raw)
    }

    @Test func damagedStreamsThrowClearErrors() throws {
        let good = InflateTests.committedGzip
        #expect(thrownMessage { _ = try Gzip.decompress(Array(good.prefix(30))) }?.contains("truncated") == true)
        var badCRC = good
        badCRC[good.count - 6] ^= 0xFF
        #expect(thrownMessage { _ = try Gzip.decompress(badCRC) }?.contains("CRC-32 mismatch") == true)
        var badMagic = good
        badMagic[1] = 0
        #expect(thrownMessage { _ = try Gzip.decompress(badMagic) }?.contains("not gzip") == true)
        #expect(thrownMessage { _ = try Inflate.decompress([0x07]) }?.contains("block type 3") == true)
        // A fixed-Huffman block whose first symbol is a match: distance before the start.
        // Bits (LSB first): BFINAL 1, BTYPE 01, length code 257 = 0000001 (7 bits), distance 0 = 00000.
        #expect(
            thrownMessage { _ = try Inflate.decompress([0x03, 0x02, 0x00, 0x00]) }?.contains("before the start") == true
        )
        // Stored block whose length does not match its complement.
        #expect(
            thrownMessage { _ = try Inflate.decompress([0x01, 0x05, 0x00, 0x00, 0x00]) }?.contains("complement") == true
        )
        // Output limit.
        let big = ZlibEncoder.compress([UInt8](repeating: 1, count: 10_000))
        #expect(
            thrownMessage { _ = try Inflate.decompress(big, from: 2, maximumOutput: 100) }?.contains("exceeds") == true)
    }

    /// Random corruption of a valid stream: every outcome is a value or a ConvNetError.
    @Test func randomCorruptionNeverTraps() {
        var random = SeededRandom(seed: 11)
        let data: [UInt8] = (0..<5000).map { (i: Int) -> UInt8 in UInt8((i * 7 + i / 100) % 251) }
        let stream = ZlibEncoder.compress(data)
        for _ in 0..<300 {
            var damaged = stream
            for _ in 0..<(1 + random.integer(below: 4)) {
                damaged[random.integer(below: damaged.count)] = UInt8(random.integer(below: 256))
            }
            if random.integer(below: 4) == 0 { damaged = Array(damaged.prefix(random.integer(below: damaged.count))) }
            do {
                _ = try Zlib.decompress(damaged)
            } catch let error as ConvNetError {
                #expect(!error.message.isEmpty)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}
