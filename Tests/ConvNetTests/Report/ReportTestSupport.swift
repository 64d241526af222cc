import Foundation

@testable import ConvNet

/// Helpers shared by the Report tests: temporary directories, an external-process runner,
/// a synthetic run record.
enum ReportTestSupport {
    /// This process's folder of test files, removed when the test process exits.
    static let root: URL = {
        atexit {
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("convnet-report-tests-\(ProcessInfo.processInfo.processIdentifier)")
            try? FileManager.default.removeItem(at: folder)
        }
        return FileManager.default.temporaryDirectory
            .appendingPathComponent("convnet-report-tests-\(ProcessInfo.processInfo.processIdentifier)")
    }()

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = root.appendingPathComponent(name + "-" + UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `/usr/bin/env <arguments>`; nil when the program cannot be started.
    static func run(_ arguments: [String], timeout: TimeInterval = 120) -> ProcessResult? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "convnet-proc-\(UUID().uuidString).out")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "convnet-proc-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        guard let outHandle = try? FileHandle(forWritingTo: outURL),
            let errHandle = try? FileHandle(forWritingTo: errURL)
        else { return nil }
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        process.waitUntilExit()
        try? outHandle.close()
        try? errHandle.close()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return ProcessResult(status: process.terminationStatus, stdout: out, stderr: err)
    }

    /// Whether Python (`projectPython()`: the project's .venv, else python3) can be run.
    static let hasPython: Bool = run([projectPython(), "-c", "import sys, zlib, struct"], timeout: 30)?.status == 0

    /// Runs a Python script with arguments (with `projectPython()`).
    static func python(_ script: String, _ arguments: [String] = [], timeout: TimeInterval = 120) -> ProcessResult? {
        run([projectPython(), "-c", script] + arguments, timeout: timeout)
    }

    /// A stdlib-only Python PNG decoder (8-bit, colour types 0/2/4/6, no interlace, all five
    /// filters), independent of the Swift encoder: verifies every chunk CRC with zlib.crc32,
    /// inflates IDAT with zlib, writes the raw pixels to argv[2] and prints "width height channels".
    static let pythonPNGDecoder = #"""
        import sys, struct, zlib
        def decode(path):
            data = open(path, 'rb').read()
            assert data[:8] == b'\x89PNG\r\n\x1a\n', 'bad signature'
            pos, idat, ihdr, seen_end = 8, b'', None, False
            while pos < len(data):
                length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
                assert zlib.crc32(ctype + body) & 0xffffffff == crc, 'bad CRC in %r' % ctype
                if ctype == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
                elif ctype == b'IDAT': idat += body
                elif ctype == b'IEND': seen_end = True; break
                pos += 12 + length
            assert seen_end, 'no IEND'
            w, h, depth, ctype, comp, filt, interlace = ihdr
            assert depth == 8 and interlace == 0, 'unsupported PNG'
            ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
            raw = zlib.decompress(idat)
            stride = w * ch
            assert len(raw) == h * (stride + 1), 'bad data length'
            out = bytearray(h * stride)
            prev = bytearray(stride)
            for y in range(h):
                f = raw[y * (stride + 1)]
                line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
                if f == 1:
                    for i in range(ch, stride): line[i] = (line[i] + line[i - ch]) & 255
                elif f == 2:
                    for i in range(stride): line[i] = (line[i] + prev[i]) & 255
                elif f == 3:
                    for i in range(stride):
                        a = line[i - ch] if i >= ch else 0
                        line[i] = (line[i] + ((a + prev[i]) >> 1)) & 255
                elif f == 4:
                    for i in range(stride):
                        a = line[i - ch] if i >= ch else 0
                        b = prev[i]; c = prev[i - ch] if i >= ch else 0
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        pr = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                        line[i] = (line[i] + pr) & 255
                else:
                    assert f == 0, 'bad filter %d' % f
                out[y * stride:(y + 1) * stride] = line
                prev = line
            return w, h, ch, bytes(out)
        w, h, ch, pixels = decode(sys.argv[1])
        open(sys.argv[2], 'wb').write(pixels)
        print(w, h, ch)
        """#

    /// Decodes a PNG file with the Python decoder; nil with a reason when Python is missing.
    static func decodeWithPython(_ png: URL) throws -> (width: Int, height: Int, channels: Int, pixels: [UInt8])? {
        guard hasPython else { return nil }
        let rawURL = png.appendingPathExtension("raw")
        guard let result = python(pythonPNGDecoder, [png.path, rawURL.path]) else { return nil }
        guard result.status == 0 else {
            throw ReportError.invalidInput("python PNG decoder failed: \(result.stderr)")
        }
        let parts = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        let pixels = [UInt8](try Data(contentsOf: rawURL))
        return (parts[0], parts[1], parts[2], pixels)
    }

    /// A synthetic but realistic run: 10 classes, 5 epochs of 60 iterations, 3×5×5 filters.
    static func sampleRecord(epochs: Int = 5, iterationsPerEpoch: Int = 60) throws -> RunRecord {
        var generator = SplitMix64(seed: 42)
        var iterations: [IterationRecord] = []
        var epochRecords: [EpochRecord] = []
        for e in 1...epochs {
            for b in 1...iterationsPerEpoch {
                let i = (e - 1) * iterationsPerEpoch + b
                let t = Double(i) / Double(epochs * iterationsPerEpoch)
                let loss = 2.3 * exp(-2.2 * t) + 0.25 + 0.18 * (generator.nextUnit() - 0.5)
                iterations.append(
                    IterationRecord(iteration: i, epoch: e, loss: loss, learningRate: 1e-3 * pow(0.95, Double(e - 1))))
            }
            let t = Double(e) / Double(epochs)
            epochRecords.append(
                EpochRecord(
                    epoch: e, trainLoss: 2.3 * exp(-2.2 * t) + 0.25,
                    trainAccuracy: 0.35 + 0.55 * (1 - exp(-3 * t)),
                    validationLoss: 2.3 * exp(-1.8 * t) + 0.4,
                    validationAccuracy: 0.33 + 0.42 * (1 - exp(-3 * t)), seconds: 12.5 + Double(e) * 0.1))
        }
        var filterValues: [Float] = []
        for f in 0..<32 {
            for c in 0..<3 {
                for y in 0..<5 {
                    for x in 0..<5 {
                        // Oriented edges and colour blobs, plus noise.
                        let angle = Double(f) * 0.4
                        let edge = cos(angle) * Double(x - 2) + sin(angle) * Double(y - 2)
                        let colour = c == f % 3 ? 0.6 : -0.2
                        filterValues.append(Float(0.5 * edge + colour + 0.3 * (generator.nextUnit() - 0.5)))
                    }
                }
            }
        }
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for i in 0..<10 {
            for j in 0..<10 { matrix[i][j] = i == j ? 60 + 7 * i : Int(generator.nextUnit() * 12) }
        }
        return RunRecord(
            title: "ThreeLayerConvNet on CIFAR-10 <sample>",
            startedAt: Date(timeIntervalSince1970: 1_700_000_000),
            configuration: [
                KeyValue("dataset", "cifar10 (49000 train / 1000 val / 1000 test)"),
                KeyValue("model", "ThreeLayerConvNet"), KeyValue("seed", "0"),
                KeyValue("command", "convnet train --model three-layer --epochs 5 --out runs/a&b"),
            ],
            hyperParameters: [
                KeyValue("optimizer", "adam"), KeyValue("learning rate", "0.001"),
                KeyValue("lr decay", "0.95"), KeyValue("batch size", "50"),
                KeyValue("epochs", "\(epochs)"), KeyValue("weight decay", "0.001"),
            ],
            modelSummary: [
                ModelSummaryRow(layer: "Conv2D(3→32, 5×5, pad 2)", outputShape: "32×32×32", parameterCount: 2432),
                ModelSummaryRow(layer: "ReLU", outputShape: "32×32×32", parameterCount: 0),
                ModelSummaryRow(layer: "MaxPool2D(2×2)", outputShape: "32×16×16", parameterCount: 0),
                ModelSummaryRow(layer: "Dense(8192→100)", outputShape: "100", parameterCount: 819_300),
                ModelSummaryRow(layer: "ReLU", outputShape: "100", parameterCount: 0),
                ModelSummaryRow(layer: "Dense(100→10)", outputShape: "10", parameterCount: 1010),
            ],
            iterations: iterations,
            epochs: epochRecords,
            finalMetrics: FinalMetrics(testLoss: 0.8123, testAccuracy: 0.7175, totalSeconds: 63.5),
            classNames: names,
            confusionMatrix: matrix,
            firstLayerFilters: try FilterBank(count: 32, channels: 3, height: 5, width: 5, values: filterValues))
    }
}

/// A tiny seeded generator so the sample data are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
