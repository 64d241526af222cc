import Foundation
import Testing

@testable import ConvNet

/// The PNG and JPEG decoders against pixels computed another way: the arrays a test PNG was
/// encoded from (and Pillow's reading of the same file), and Pillow's (libjpeg-turbo's)
/// decoding of JPEGs it saved. `make_image_cases.py` beside this file writes the cases; with
/// Pillow the tests run it on ~600 fresh files, and without it they still run the committed
/// fixture set (Fixtures/Images, made by the same script with `small`).
struct ImageDecoderTests {
    /// One image of cases.json and the samples it must decode to.
    struct Case: Decodable {
        var file: String
        var width: Int
        var height: Int
        var channels: Int
        var depth: Int
        var kind: String
        var note: String
        var tolerance: Int
    }

    /// Per-format agreement over a folder of cases.
    struct Agreement {
        var files = 0
        var largest = 0
        var differing = 0
        var samples = 0
        var sum = 0
        var mean: Double { samples == 0 ? 0 : Double(sum) / Double(samples) }
    }

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/Images")
    }

    /// Decodes every case of `folder` and compares it with its `.raw` samples; returns the
    /// agreement per kind ("png", "jpeg"). Sizes, channels and depth must match exactly.
    static func compare(_ folder: URL) throws -> [String: Agreement] {
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
        var result: [String: Agreement] = [:]
        for item in cases {
            let url = folder.appendingPathComponent(item.file)
            let image: DecodedImage
            do {
                image = try ImageDecoder.decode(contentsOf: url)
            } catch {
                Issue.record("\(item.file) (\(item.note)): \(error)")
                continue
            }
            #expect(
                image.width == item.width && image.height == item.height && image.channels == item.channels
                    && image.bitDepth == item.depth,
                "\(item.file): decoded \(image.width)×\(image.height)×\(image.channels) \(image.bitDepth)-bit")
            let raw = [UInt8](try Data(contentsOf: url.appendingPathExtension("raw")))
            let expected: [Int] =
                item.depth == 16
                ? (0..<(raw.count / 2)).map { Int(raw[2 * $0]) << 8 | Int(raw[2 * $0 + 1]) }
                : raw.map { Int($0) }
            let actual: [Int]
            switch image.samples {
            case .uint8(let values): actual = values.map { Int($0) }
            case .uint16(let values): actual = values.map { Int($0) }
            }
            guard actual.count == expected.count else {
                Issue.record("\(item.file): \(actual.count) samples, expected \(expected.count)")
                continue
            }
            var agreement = result[item.kind] ?? Agreement()
            var largest = 0
            for (a, b) in zip(actual, expected) {
                let difference = abs(a - b)
                largest = max(largest, difference)
                agreement.sum += difference
                if difference != 0 { agreement.differing += 1 }
            }
            agreement.samples += expected.count
            agreement.largest = max(agreement.largest, largest)
            agreement.files += 1
            result[item.kind] = agreement
            #expect(
                largest <= item.tolerance,
                "\(item.file) (\(item.note)): largest difference \(largest), allowed \(item.tolerance)")
        }
        return result
    }

    static func summary(_ agreements: [String: Agreement]) -> String {
        agreements.sorted { $0.key < $1.key }.map { kind, a in
            "\(kind): \(a.files) files, \(a.samples) samples, largest difference \(a.largest), \(a.differing) differing, mean \(String(format: "%.6f", a.mean))"
        }.joined(separator: "; ")
    }

    @Test func decodesLikePillowOnFreshFiles() throws {
        guard let python = pillowPython() else {
            print("skipped: no python with Pillow and numpy (make .venv, or set CONVNET_TORCH_PYTHON)")
            return
        }
        let folder = makeTemporaryDirectory("convnet-images")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "make_image_cases.py")
        let made = try #require(
            runPython(try String(contentsOf: script, encoding: .utf8), arguments: [folder.path], python: python))
        try #require(made.status == 0, "\(made.output)")
        let agreements = try Self.compare(folder)
        print("image decoders against Pillow: \(Self.summary(agreements))")
        #expect((agreements["png"]?.files ?? 0) > 200 && (agreements["jpeg"]?.files ?? 0) > 300)
        #expect(agreements["png"]?.largest == 0)
    }

    @Test func decodesTheCommittedFixtures() throws {
        let agreements = try Self.compare(Self.fixtures)
        print("image decoders on the committed fixtures: \(Self.summary(agreements))")
        #expect((agreements["png"]?.files ?? 0) >= 40 && (agreements["jpeg"]?.files ?? 0) >= 10)
    }

    /// DecodedImage's conversions, worked by hand: [C, H, W] floats in [0, 1], 16 → 8 bits by
    /// round(v / 257), alpha dropped.
    @Test func decodedImageConversions() throws {
        let image = try DecodedImage(width: 2, height: 1, channels: 2, samples: .uint16([0, 65535, 128, 129]))
        #expect(image.floatCHW() == [0, 128 / 65535, 1, 129 / 65535])
        #expect(try image.tensor().shape == [2, 1, 2])
        #expect(image.eightBit().samples == .uint8([0, 255, 0, 1]))
        #expect(try image.converted(toChannels: 1).samples == .uint8([0, 0]))
        #expect(try image.converted(toChannels: 3).samples == .uint8([0, 0, 0, 0, 0, 0]))
        #expect(thrownMessage { _ = try image.converted(toChannels: 2) }?.contains("1 (gray) or 3 (RGB)") == true)
        #expect(
            thrownMessage { _ = try DecodedImage(width: 2, height: 2, channels: 1, samples: .uint8([1])) }?.contains(
                "needs 4 samples, found 1") == true)
    }

    /// The integer IDCT against its naive twin (the formula in Double) on random blocks: never
    /// more than 1 apart, and equal on most samples.
    @Test func integerIDCTAgreesWithTheFormula() {
        var random = SeededRandom(seed: 7)
        var largest = 0
        var differing = 0
        for trial in 0..<400 {
            var coefficients = [Int](repeating: 0, count: 64)
            let quantization = (0..<64).map { _ in 1 + Int(random.uniform() * 30) }
            // Decaying magnitudes, as in real blocks; some blocks DC-only or sparse.
            for k in 0..<64 where trial % 5 != 0 || k == 0 {
                let natural = JPEGDecoder.naturalOrder[k]
                let scale = 60.0 / Double(1 + k) / Double(quantization[natural]) * 8
                coefficients[natural] = Int((random.uniform() * 2 - 1) * scale * (k == 0 ? 3 : 1))
            }
            let naive = JPEGIDCT.naive(coefficients, quantization: quantization)
            var output = [UInt8](repeating: 0, count: 64)
            let input = coefficients.map { Int16($0) }
            let table = quantization.map { Int32($0) }
            input.withUnsafeBufferPointer { c in
                table.withUnsafeBufferPointer { q in
                    output.withUnsafeMutableBufferPointer { o in JPEGIDCT.islow(c, 0, q, o, 0, stride: 8) }
                }
            }
            for (a, b) in zip(output, naive) {
                largest = max(largest, abs(Int(a) - Int(b)))
                if a != b { differing += 1 }
            }
        }
        #expect(largest <= 1, "largest difference \(largest)")
        #expect(differing < 400 * 64 / 20, "\(differing) of \(400 * 64) samples differ")
    }
}

/// Damaged and hostile images: each is one thrown ConvNetError naming the file (and the chunk or
/// segment), never a trap or a huge allocation.
extension ImageDecoderTests {
    /// A PNG made of `chunks` (type, data), each with its CRC-32 (unless `badCRC` names it).
    static func png(_ chunks: [(String, [UInt8])], badCRC: String? = nil) -> [UInt8] {
        var file = PNGDecoder.signature
        for (type, data) in chunks {
            var crc = CRC32.checksum(Array(type.utf8) + data)
            if type == badCRC { crc ^= 1 }
            file += bigEndian(UInt32(data.count)) + Array(type.utf8) + data + bigEndian(crc)
        }
        return file
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func header(width: UInt32, height: UInt32, depth: UInt8 = 8, colorType: UInt8 = 0, interlace: UInt8 = 0) -> (
        String, [UInt8]
    ) {
        ("IHDR", bigEndian(width) + bigEndian(height) + [depth, colorType, 0, 0, interlace])
    }

    /// Decodes `bytes` as "bad.x" and returns the error's message (nil when it decoded).
    static func failure(_ bytes: [UInt8]) -> String? {
        thrownMessage { _ = try ImageDecoder.decode(bytes, name: "bad.x") }
    }

    @Test func hostilePNGs() throws {
        // A valid 2×2 gray image to start from: rows of filter byte 0 and two samples.
        let pixels: [UInt8] = [0, 10, 20, 0, 30, 40]
        let good = Self.png([Self.header(width: 2, height: 2), ("IDAT", ZlibEncoder.compress(pixels)), ("IEND", [])])
        #expect(
            try ImageDecoder.decode(good)
                == DecodedImage(width: 2, height: 2, channels: 1, samples: .uint8([10, 20, 30, 40])))
        let cases: [(String, [UInt8], String)] = [
            (
                "bad CRC",
                Self.png(
                    [Self.header(width: 2, height: 2), ("IDAT", ZlibEncoder.compress(pixels)), ("IEND", [])],
                    badCRC: "IDAT"),
                "CRC-32 mismatch in chunk IDAT"
            ),
            (
                "huge",
                Self.png([
                    Self.header(width: 100_000, height: 100_000, colorType: 6), ("IDAT", ZlibEncoder.compress(pixels)),
                    ("IEND", []),
                ]),
                "a 100000×100000 image with 4 channels is above the limit of 268435456 samples"
            ),
            (
                "large, little data",
                Self.png([
                    Self.header(width: 10_000, height: 10_000), ("IDAT", ZlibEncoder.compress(pixels)), ("IEND", []),
                ]),
                "needs 100010000 bytes of image data, more than"
            ),
            (
                "zero width",
                Self.png([Self.header(width: 0, height: 5), ("IDAT", ZlibEncoder.compress(pixels)), ("IEND", [])]),
                "IHDR size 0×5"
            ),
            (
                "bad depth", Self.png([Self.header(width: 2, height: 2, depth: 4, colorType: 2), ("IEND", [])]),
                "bit depth 4 is not allowed for colour type 2"
            ),
            (
                "bad filter",
                Self.png([
                    Self.header(width: 2, height: 2), ("IDAT", ZlibEncoder.compress([5, 1, 2, 0, 3, 4])), ("IEND", []),
                ]),
                "unknown PNG filter type 5 in row 0"
            ),
            (
                "too much data",
                Self.png([
                    Self.header(width: 2, height: 2), ("IDAT", ZlibEncoder.compress(pixels + [0, 0, 0])), ("IEND", []),
                ]),
                "IDAT inflates to more than the 6 bytes that IHDR implies"
            ),
            (
                "too little data",
                Self.png([
                    Self.header(width: 2, height: 2), ("IDAT", ZlibEncoder.compress(Array(pixels.prefix(4)))),
                    ("IEND", []),
                ]),
                "IDAT inflates to 4 bytes, IHDR implies 6"
            ),
            (
                "no palette",
                Self.png([
                    Self.header(width: 2, height: 2, colorType: 3), ("IDAT", ZlibEncoder.compress(pixels)),
                    ("IEND", []),
                ]),
                "without a PLTE chunk"
            ),
            (
                "critical chunk", Self.png([Self.header(width: 2, height: 2), ("ABCD", []), ("IEND", [])]),
                "unknown critical PNG chunk ABCD"
            ),
            ("no IDAT", Self.png([Self.header(width: 2, height: 2), ("IEND", [])]), "no IDAT chunk"),
            (
                "IDAT first", Self.png([("IDAT", ZlibEncoder.compress(pixels)), ("IEND", [])]),
                "the first PNG chunk is IDAT, not IHDR"
            ),
            (
                "lying length", Array(good.prefix(33)) + Self.bigEndian(0x7000_0000) + Array("IDAT".utf8),
                "truncated PNG chunk IDAT"
            ),
            (
                "not zlib",
                Self.png([Self.header(width: 2, height: 2), ("IDAT", [1, 2, 3, 4, 5, 6, 7]), ("IEND", [])]),
                "IDAT: bad zlib header"
            ),
        ]
        for (label, bytes, expected) in cases {
            let message = Self.failure(bytes)
            #expect(
                message?.hasPrefix("invalid data: bad.x: ") == true && message?.contains(expected) == true,
                "\(label): \(message ?? "decoded")")
        }
        // Cut anywhere, the file is one error, not a trap.
        for length in 0..<good.count {
            #expect(
                Self.failure(Array(good.prefix(length)))?.hasPrefix("invalid data: bad.x: ") == true, "cut at \(length)"
            )
        }
    }

    /// A JPEG from marker segments (code, body) between SOI and EOI, with `scan` after the SOS.
    static func jpeg(_ segments: [(UInt8, [UInt8])], scan: [UInt8] = [], end: Bool = true) -> [UInt8] {
        var file: [UInt8] = [0xFF, 0xD8]
        for (code, body) in segments {
            file += [0xFF, code, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 0xFF)] + body
            if code == 0xDA { file += scan }
        }
        return file + (end ? [0xFF, 0xD9] : [])
    }

    @Test func hostileJPEGs() throws {
        let fixture = try [UInt8](
            Data(
                contentsOf: Self.fixtures.appendingPathComponent(
                    "jpeg_RGB_33x31_progressiveFalse_quality75_subsampling1.jpg")))
        #expect(try ImageDecoder.decode(fixture).width == 33)
        let quantization: (UInt8, [UInt8]) = (0xDB, [0] + [UInt8](repeating: 1, count: 64))
        func frame(width: Int, height: Int, components: Int = 1, code: UInt8 = 0xC0) -> (UInt8, [UInt8]) {
            (
                code,
                [
                    8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF),
                    UInt8(components),
                ]
                    + (0..<components).flatMap { [UInt8($0 + 1), 0x11, 0] }
            )
        }
        // One DC and one AC table of a single 1-bit code (symbol 0): a block is "0 0" (DC 0, EOB).
        let tables: [(UInt8, [UInt8])] = [
            (0xC4, [0x00, 1] + [UInt8](repeating: 0, count: 15) + [0]),
            (0xC4, [0x10, 1] + [UInt8](repeating: 0, count: 15) + [0]),
        ]
        let scanHeader: (UInt8, [UInt8]) = (0xDA, [1, 1, 0x00, 0, 63, 0])
        let tiny = Self.jpeg([quantization, frame(width: 8, height: 8)] + tables + [scanHeader], scan: [0x3F])
        #expect(
            try ImageDecoder.decode(tiny)
                == DecodedImage(width: 8, height: 8, channels: 1, samples: .uint8([UInt8](repeating: 128, count: 64))))
        let cases: [(String, [UInt8], String)] = [
            (
                "huge",
                Self.jpeg(
                    [quantization, frame(width: 65535, height: 65535, components: 3)] + tables + [scanHeader],
                    scan: [0x3F]),
                "a 65535×65535 image with 3 channels is above the limit of 268435456 samples"
            ),
            (
                "large, little data",
                Self.jpeg([quantization, frame(width: 20000, height: 10000)] + tables + [scanHeader], scan: [0x3F]),
                "SOF0: 20000×10000 has 3125000 blocks, more than the"
            ),
            ("zero height", Self.jpeg([quantization, frame(width: 8, height: 0)]), "SOF0: height 0"),
            ("zero width", Self.jpeg([quantization, frame(width: 0, height: 8)]), "SOF0: width 0"),
            ("CMYK", Self.jpeg([quantization, frame(width: 8, height: 8, components: 4)]), "4 components (CMYK/YCCK"),
            (
                "lossless", Self.jpeg([quantization, frame(width: 8, height: 8, code: 0xC3)]),
                "SOF3: lossless JPEG is not supported"
            ),
            (
                "arithmetic", Self.jpeg([quantization, frame(width: 8, height: 8, code: 0xC9)]),
                "SOF9: arithmetic-coded JPEG is not supported"
            ),
            (
                "over-subscribed Huffman",
                Self.jpeg([(0xC4, [0x00, 3] + [UInt8](repeating: 0, count: 15) + [0, 1, 2])]),
                "DHT DC table 0: bad Huffman table (codes of length 1 overflow)"
            ),
            (
                "all-ones code", Self.jpeg([(0xC4, [0x00, 2] + [UInt8](repeating: 0, count: 15) + [0, 1])]),
                "codes of length 1 overflow"
            ),
            (
                "DC symbol", Self.jpeg([(0xC4, [0x00, 1] + [UInt8](repeating: 0, count: 15) + [16])]),
                "DC Huffman symbol 16"
            ),
            (
                "short DHT", Self.jpeg([(0xC4, [0x00, 0, 5] + [UInt8](repeating: 0, count: 14) + [0, 1])]),
                "announces 5 symbols, the segment holds 2"
            ),
            ("unknown marker", Self.jpeg([(0x02, [1, 2])]), "unknown or unsupported marker ff02"),
            (
                "segment past the end", [0xFF, 0xD8, 0xFF, 0xE0, 0x40, 0x00, 1, 2, 3],
                "truncated APP0 segment at byte 2 (16384 bytes announced"
            ),
            (
                "garbage between segments", [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0x12, 0x34],
                "expected a marker at byte 8, found 12"
            ),
            ("no scan", Self.jpeg([quantization, frame(width: 8, height: 8)]), "EOI before any scan"),
            ("scan before frame", Self.jpeg([scanHeader]), "SOS before the frame header"),
            (
                "undefined table", Self.jpeg([quantization, frame(width: 8, height: 8), scanHeader], scan: [0x3F]),
                "DC Huffman table 0 of component 1 is not defined"
            ),
            (
                "undefined quantization", Self.jpeg([frame(width: 8, height: 8)] + tables + [scanHeader], scan: [0x3F]),
                "quantization table 0 of component 1 is not defined"
            ),
            (
                "scan data ends early",
                Self.jpeg([quantization, frame(width: 64, height: 8)] + tables + [scanHeader], scan: [0x00]),
                "scan 1: scan data ends inside an MCU"
            ),
            (
                "no EOI",
                Self.jpeg(
                    [quantization, frame(width: 8, height: 8)] + tables + [scanHeader], scan: [0x3F], end: false),
                "no EOI marker"
            ),
            (
                "bad Huffman code",
                Self.jpeg([quantization, frame(width: 8, height: 8)] + tables + [scanHeader], scan: [0xFF, 0x00]),
                "invalid Huffman code in the scan data"
            ),
            (
                "missing restart",
                Self.jpeg(
                    [quantization, frame(width: 16, height: 8), (0xDD, [0, 1])] + tables + [scanHeader],
                    scan: [0x3F, 0x3F]),
                "expected RST0 after 1-MCU interval 1, found EOI"
            ),
            (
                "wrong restart",
                Self.jpeg(
                    [quantization, frame(width: 16, height: 8), (0xDD, [0, 1])] + tables + [scanHeader],
                    scan: [0x3F, 0xFF, 0xD3, 0x3F]),
                "expected RST0 after 1-MCU interval 1, found RST3"
            ),
            (
                "too many blocks per MCU",
                Self.jpeg(
                    [quantization, (0xC0, [8, 0, 16, 0, 16, 3, 1, 0x22, 0, 2, 0x22, 0, 3, 0x22, 0])] + tables
                        + [(0xDA, [3, 1, 0, 2, 0, 3, 0, 0, 63, 0])], scan: [0x3F]),
                "interleaved scan of 12 blocks per MCU (at most 10)"
            ),
            (
                "fractional sampling",
                Self.jpeg([quantization, (0xC0, [8, 0, 16, 0, 16, 3, 1, 0x32, 0, 2, 0x22, 0, 3, 0x11, 0])]),
                "not integral ratios"
            ),
        ]
        for (label, bytes, expected) in cases {
            let message = Self.failure(bytes)
            #expect(
                message?.hasPrefix("invalid data: bad.x: ") == true && message?.contains(expected) == true,
                "\(label): \(message ?? "decoded")")
        }
        // Cut anywhere, baseline or progressive, the file is one error, not a trap.
        let progressive = try [UInt8](
            Data(
                contentsOf: Self.fixtures.appendingPathComponent(
                    "jpeg_RGB_33x31_progressiveTrue_quality70_restart_marker_blocks2_subsampling2.jpg")))
        for file in [fixture, progressive] {
            for length in 0..<file.count {
                #expect(Self.failure(Array(file.prefix(length))) != nil, "cut at \(length)")
            }
        }
    }

    /// Seeded random damage (1 to 4 bytes replaced) to every committed fixture: each mutant
    /// decodes or throws a ConvNetError; nothing traps. The libFuzzer harness's poor cousin, run
    /// in every test run.
    @Test func randomDamageNeverTraps() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter {
            $0.hasSuffix(".png") || $0.hasSuffix(".jpg")
        }.sorted()
        var random = SeededRandom(seed: 2024)
        var failures = 0
        var decoded = 0
        for name in names {
            let original = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
            for _ in 0..<60 {
                var bytes = original
                for _ in 0...Int(random.uniform() * 4) {
                    bytes[min(Int(random.uniform() * Double(bytes.count)), bytes.count - 1)] = UInt8(
                        min(Int(random.uniform() * 256), 255))
                }
                do {
                    _ = try ImageDecoder.decode(bytes, name: name)
                    decoded += 1
                } catch is ConvNetError {
                    failures += 1
                } catch {
                    Issue.record("\(name): unexpected error type \(error)")
                }
            }
        }
        #expect(failures > 0 && decoded > 0, "\(failures) refused, \(decoded) decoded")
    }
}
