import Foundation
import Testing

@testable import ConvNet

/// The PNG writer, checked by an independent decoder (Python's zlib + struct) and by reading the
/// chunk structure in Swift.
@Suite struct ReportPNGTests {
    static func pattern(width: Int, height: Int, channels: Int, seed: UInt64) throws -> RasterImage {
        var generator = SplitMix64(seed: seed)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    // Smooth gradients, flat areas (long matches) and noise (literals).
                    let v: Int
                    if x < width / 3 {
                        v = (x * 7 + y * 3 + c * 50) & 255
                    } else if x < 2 * width / 3 {
                        v = c * 80
                    } else {
                        v = Int(generator.next() & 255)
                    }
                    pixels[(y * width + x) * channels + c] = UInt8(v)
                }
            }
        }
        return try RasterImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    @Test(arguments: [1, 3, 4])
    func pythonDecodesExactlyTheWrittenPixels(channels: Int) throws {
        guard ReportTestSupport.hasPython else {
            print("skipped: python3 not found; the PNG files are checked in Swift only")
            return
        }
        let directory = try ReportTestSupport.temporaryDirectory("png")
        let image = try Self.pattern(width: 67, height: 45, channels: channels, seed: UInt64(channels))
        for method in [ZlibEncoder.Method.stored, .fixedHuffman] {
            let url = directory.appendingPathComponent("c\(channels)-\(method).png")
            try PNGEncoder.write(image, to: url, method: method)
            let decoded = try #require(try ReportTestSupport.decodeWithPython(url))
            #expect(decoded.width == 67)
            #expect(decoded.height == 45)
            #expect(decoded.channels == channels)
            #expect(decoded.pixels == image.pixels)
        }
    }

    @Test func pythonDecodesARenderedPlot() throws {
        guard ReportTestSupport.hasPython else {
            print("skipped: python3 not found")
            return
        }
        let record = try ReportTestSupport.sampleRecord()
        let figure = TrainingPlots.summaryFigure(iterations: record.iterations, epochs: record.epochs)
        let raster = figure.rasterize()
        let url = try ReportTestSupport.temporaryDirectory("plot").appendingPathComponent("summary.png")
        try figure.write(png: url)
        let decoded = try #require(try ReportTestSupport.decodeWithPython(url))
        #expect(decoded.width == 800 && decoded.height == 760 && decoded.channels == 3)
        #expect(decoded.pixels == raster.pixels)
        // Flat-colour plots compress well with the LZ77 coder.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        #expect(size < raster.pixels.count / 10)
    }

    @Test func zlibStreamsInflateWithPythonZlib() throws {
        guard ReportTestSupport.hasPython else {
            print("skipped: python3 not found")
            return
        }
        var generator = SplitMix64(seed: 7)
        let inputs: [[UInt8]] = [
            [],
            [42],
            [UInt8](repeating: 9, count: 100_000),  // runs longer than 258
            (0..<70_000).map { _ in UInt8(generator.next() & 255) },  // incompressible, > one stored block
            (0..<200_000).map { UInt8(($0 * 31 + $0 / 1000) & 255) },  // repetition at many distances
            Array(String(repeating: "abcabcabd", count: 5000).utf8),
        ]
        let directory = try ReportTestSupport.temporaryDirectory("zlib")
        let script = """
            import sys, zlib
            for a, b in zip(sys.argv[1::2], sys.argv[2::2]):
                original = open(a, 'rb').read()
                assert zlib.decompress(open(b, 'rb').read()) == original, b
            print('ok')
            """
        var arguments: [String] = []
        for (i, input) in inputs.enumerated() {
            for method in [ZlibEncoder.Method.stored, .fixedHuffman] {
                let a = directory.appendingPathComponent("in\(i)")
                let b = directory.appendingPathComponent("out\(i)-\(method)")
                try Data(input).write(to: a)
                try Data(ZlibEncoder.compress(input, method: method)).write(to: b)
                arguments += [a.path, b.path]
            }
        }
        let result = try #require(ReportTestSupport.python(script, arguments))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("ok"))
    }

    @Test func chunkStructureIsValid() throws {
        // 81,090 raw bytes: two stored blocks
        let image = try Self.pattern(width: 300, height: 90, channels: 3, seed: 3)
        for method in [ZlibEncoder.Method.stored, .fixedHuffman] {
            let png = PNGEncoder.encode(image, method: method)
            #expect(Array(png[0..<8]) == PNGEncoder.signature)
            var position = 8
            var types: [String] = []
            var idat: [UInt8] = []
            while position < png.count {
                let length = png[position..<(position + 4)].reduce(0) { $0 << 8 | Int($1) }
                let type = Array(png[(position + 4)..<(position + 8)])
                let body = Array(png[(position + 8)..<(position + 8 + length)])
                let stored = png[(position + 8 + length)..<(position + 12 + length)].reduce(UInt32(0)) {
                    $0 << 8 | UInt32($1)
                }
                #expect(stored == CRC32.checksum(type + body))
                let name = String(decoding: type, as: UTF8.self)
                types.append(name)
                if name == "IHDR" {
                    #expect(body == [0, 0, 1, 44, 0, 0, 0, 90, 8, 2, 0, 0, 0])
                }
                if name == "IDAT" { idat += body }
                position += 12 + length
            }
            #expect(types == ["IHDR", "IDAT", "IEND"])
            #expect((Int(idat[0]) * 256 + Int(idat[1])) % 31 == 0)
            #expect(idat[0] & 0x0F == 8)
            // The stream ends with the Adler-32 of the filtered scanlines (filter byte 0 + row).
            var raw: [UInt8] = []
            for y in 0..<90 {
                raw.append(0)
                raw += image.pixels[(y * 900)..<((y + 1) * 900)]
            }
            let adler = idat.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(adler == Adler32.checksum(raw))
            if method == .stored {
                // Stored block: header byte, LEN, NLEN, then the bytes as they are.
                #expect(idat[2] == 0)
                #expect(Int(idat[3]) | Int(idat[4]) << 8 == 65_535)
                #expect(Int(idat[5]) | Int(idat[6]) << 8 == 0)
                #expect(Array(idat[7..<(7 + 901)]) == Array(raw[0..<901]))
            }
        }
    }

    @Test func rasterImageRejectsBadInput() {
        #expect(throws: ReportError.self) { try RasterImage(width: 0, height: 3) }
        #expect(throws: ReportError.self) { try RasterImage(width: 2, height: 2, channels: 2) }
        #expect(throws: ReportError.self) { try RasterImage(width: 2, height: 2, channels: 3, pixels: [1, 2, 3]) }
    }
}
