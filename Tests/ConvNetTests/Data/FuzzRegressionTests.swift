import Foundation
import Testing

@testable import ConvNet

/// Replays files through the parsing that the libFuzzer harnesses fuzz (Fuzz/Harnesses/NAME.swift
/// does the same to every input; Fuzz/run.sh runs them). Every file under FuzzRegressions/NAME/
/// — a crash a fuzzer found, minimised, or a hand-made hostile file of the kinds issue 8 lists
/// (see FuzzRegressions/README.md) — must be refused with a one-line `ConvNetError`: no trap, no
/// stack overflow, no giant allocation, no kilobyte-long message. Every seed of Fuzz/Corpus/NAME/
/// must still be read, so that the corpora stay valid files as the formats evolve.
struct FuzzRegressionTests {
    /// A file of one harness's folder.
    struct Input: Sendable, CustomTestStringConvertible {
        let harness: String
        let file: String
        let url: URL
        var testDescription: String { "\(harness)/\(file)" }
    }

    /// Each harness's parsing, by harness name. Where the harness only exercises a step (a
    /// secondary reading with `try?`), so does this; where the harness carries on after a step
    /// that failed (the npz members, the spec's builds), this throws, so that a regression file
    /// must be refused where it is meant to be.
    static let parsers: [String: @Sendable ([UInt8]) throws -> Void] = [
        "checkpoint": { bytes in
            let name = "fuzz.safetensors"
            let file = try SafeTensorsFile(bytes: wrappedSafeTensors(bytes), name: name)
            guard let metadata = try CheckpointMetadata(metadata: file.metadata, name: name) else { return }
            _ = try metadata.encoded()
            let network: Sequential<Float> = try metadata.spec.makeNetwork(
                inputShape: metadata.inputShape, initializer: .zeros)
            try Checkpoint.loadWeights(file, into: network, name: name)
            _ = try Model(network: network, loss: metadata.loss.makeLoss(), inputShape: metadata.inputShape)
        },
        "cifar": { _ = try CIFAR10.binaryBatch($0, name: "fuzz_batch.bin") },
        "gzip": { _ = try Gzip.decompress($0, name: "fuzz.gz") },
        "idx": { bytes in
            let raw = Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, name: "fuzz.idx.gz") : bytes
            _ = try IDXFile(data: Data(raw), name: "fuzz.idx")
        },
        "inflate": { _ = try Inflate.decompress($0, name: "fuzz.deflate") },
        "npy": { bytes in
            let array = try NumPyArray(npy: bytes, name: "fuzz.npy")
            _ = array.floatValues()
            _ = try? array.integerValues(name: "fuzz.npy")
            for layout in [ImageLayout.nchw, .nhwc] { _ = try? ImageArray(array, layout: layout) }
            _ = try NumPyArray(npy: array.encoded(), name: "fuzz.npy (written back)")
        },
        "png": { bytes in try decodeAndTransform(try PNGDecoder.decode(bytes, name: "fuzz.png")) },
        "jpeg": { bytes in try decodeAndTransform(try JPEGDecoder.decode(bytes, name: "fuzz.jpeg")) },
        "npz": { bytes in
            let archive = try NPZArchive(bytes: bytes, name: "fuzz.npz")
            for name in archive.names {
                let array = try archive.array(name)
                _ = array.floatValues()
                _ = try? array.integerValues(name: name)
            }
            guard archive.contains("x_train"), archive.contains("y_train") else { return }
            let folder = makeTemporaryDirectory("convnet-fuzz-regression")
            defer { try? FileManager.default.removeItem(at: folder) }
            let url = folder.appendingPathComponent("fuzz.npz")
            try Data(bytes).write(to: url)
            for layout in [ImageLayout.nchw, .nhwc] { _ = try ArrayDataset.load(from: url, layout: layout) }
        },
        "pickle": { bytes in
            _ = try RestrictedPickle.load(bytes, name: "fuzz_batch")
            _ = try? CIFAR10.pythonBatch(bytes, name: "fuzz_batch")
            _ = try? CIFAR10.pythonClassNames(bytes, name: "fuzz_batches.meta")
        },
        "safetensors": { bytes in
            let file = try SafeTensorsFile(bytes: bytes, name: "fuzz.safetensors")
            for (name, tensor) in file.tensors {
                _ = try? tensor.floatValues(name: name)
                _ = try? tensor.doubleValues(name: name)
                _ = try? tensor.integerValues(name: name)
            }
            _ = try SafeTensorsFile(bytes: file.encoded(), name: "fuzz.safetensors (written back)")
        },
        "spec": { bytes in
            let spec = try ModelSpec(parsing: String(decoding: bytes, as: UTF8.self))
            _ = try? ModelSpec(parsing: spec.description)
            // Built for the harness's three input shapes; refused when none of them builds.
            var built = false
            var refusal: Error?
            for shape in [[1, 8, 8], [2, 12, 12], [10]] {
                do {
                    let network: Sequential<Float> = try spec.makeNetwork(inputShape: shape, initializer: .zeros)
                    _ = network.pytorchModule
                    _ = try? network.layerShapes(forInputShape: shape)
                    built = true
                } catch {
                    refusal = error
                }
            }
            if !built, let refusal { throw refusal }
        },
        "training-state": { bytes in
            let name = "fuzz.state.safetensors"
            _ = try TrainingState(file: SafeTensorsFile(bytes: bytes, name: name), name: name)
        },
        "training-state-json": { bytes in
            var file = SafeTensorsFile()
            file.metadata = [
                "format": "convnet-training-state", "format_version": "1",
                "training_state": String(decoding: bytes, as: UTF8.self),
            ]
            let name = "fuzz.state.safetensors"
            _ = try TrainingState(file: SafeTensorsFile(bytes: file.encoded(), name: name), name: name)
        },
        "zlib": { _ = try Zlib.decompress($0, name: "fuzz.zlib") },
    ]

    /// The checkpoint harness's input (2-byte little-endian data length d, the JSON header, d
    /// bytes of data) as a safetensors file, as FuzzSupport's `safetensorsFile(wrapping:)` makes it.
    static func wrappedSafeTensors(_ input: [UInt8]) -> [UInt8] {
        guard input.count >= 2 else { return input }
        let dataLength = min(Int(input[0]) | Int(input[1]) << 8, input.count - 2)
        let header = input[2..<(input.count - dataLength)]
        var file: [UInt8] = []
        for shift in stride(from: 0, to: 64, by: 8) { file.append(UInt8(truncatingIfNeeded: header.count >> shift)) }
        return file + header + input[(input.count - dataLength)...]
    }

    static let testFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repositoryRoot = testFolder.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The files one level down in `folder`, by the harness their subfolder names (files
    /// directly in `folder`, such as a README, are not inputs).
    static func inputs(in folder: URL) -> [Input] {
        let manager = FileManager.default
        var result: [Input] = []
        for harness in ((try? manager.contentsOfDirectory(atPath: folder.path)) ?? []).sorted() {
            let subfolder = folder.appendingPathComponent(harness)
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: subfolder.path, isDirectory: &isFolder), isFolder.boolValue else {
                continue
            }
            for file in ((try? manager.contentsOfDirectory(atPath: subfolder.path)) ?? []).sorted()
            where !file.hasPrefix(".") {
                result.append(Input(harness: harness, file: file, url: subfolder.appendingPathComponent(file)))
            }
        }
        return result
    }

    static let regressions = inputs(in: testFolder.appendingPathComponent("FuzzRegressions"))
    static let seeds = inputs(in: repositoryRoot.appendingPathComponent("Fuzz/Corpus"))

    @Test func everyHarnessHasItsParsingSeedsAndRegressions() throws {
        let harnesses = try FileManager.default.contentsOfDirectory(
            atPath: Self.repositoryRoot.appendingPathComponent("Fuzz/Harnesses").path
        )
        .filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(".swift".count)) }
        #expect(
            Set(harnesses) == Set(Self.parsers.keys),
            "Fuzz/Harnesses and FuzzRegressionTests.parsers name different harnesses")
        #expect(Set(Self.seeds.map(\.harness)) == Set(harnesses), "every harness has seeds in Fuzz/Corpus/NAME")
        #expect(
            Set(Self.regressions.map(\.harness)).isSubset(of: Set(harnesses)), "every FuzzRegressions/NAME is a harness"
        )
        #expect(Self.regressions.count >= 30)
    }

    @Test(arguments: FuzzRegressionTests.regressions)
    func regressionIsRefusedInOneLine(_ input: Input) throws {
        let parse = try #require(Self.parsers[input.harness], "no harness '\(input.harness)'")
        let bytes = [UInt8](try Data(contentsOf: input.url))
        do {
            try parse(bytes)
            Issue.record("\(input.testDescription) was read; a regression file must be refused")
        } catch let error as ConvNetError {
            let message = error.description
            #expect(!message.contains("\n") && message.count <= 500, "\(input.testDescription): \(message)")
        } catch {
            Issue.record("\(input.testDescription): \(error) is not a ConvNetError")
        }
    }

    @Test(arguments: FuzzRegressionTests.seeds)
    func seedIsRead(_ input: Input) throws {
        let parse = try #require(Self.parsers[input.harness], "no harness '\(input.harness)'")
        try parse([UInt8](try Data(contentsOf: input.url)))
    }
}

/// What the png and jpeg harnesses do with a decoded image: floats, and the datasets' 8×8
/// gray and RGB conversions.
private func decodeAndTransform(_ image: DecodedImage) throws {
    _ = image.floatCHW()
    for channels in [1, 3] {
        _ = try ImageTransform(size: try ImageSize(height: 8, width: 8), channels: channels).apply(image)
    }
}
