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
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
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
            #expect(image.width == item.width && image.height == item.height && image.channels == item.channels && image.bitDepth == item.depth,
                    "\(item.file): decoded \(image.width)×\(image.height)×\(image.channels) \(image.bitDepth)-bit")
            let raw = [UInt8](try Data(contentsOf: url.appendingPathExtension("raw")))
            let expected: [Int] = item.depth == 16
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
            #expect(largest <= item.tolerance, "\(item.file) (\(item.note)): largest difference \(largest), allowed \(item.tolerance)")
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
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("make_image_cases.py")
        let made = try #require(runPython(try String(contentsOf: script, encoding: .utf8), arguments: [folder.path], python: python))
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

    /// The integer IDCT against its naive twin (the formula in Double) on random blocks: never
    /// more than 1 apart, and equal on most samples.
    @Test func integerIDCTAgreesWithTheFormula() {
        var random = SeededRandom(seed: 7)
        var largest = 0, differing = 0
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
            let input = coefficients.map { Int16($0) }, table = quantization.map { Int32($0) }
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
