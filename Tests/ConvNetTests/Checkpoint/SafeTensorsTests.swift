import Foundation
import Testing

@testable import ConvNet

/// The safetensors format and model checkpoints: round trips, hostile headers, and PyTorch
/// reading ConvNet's files and writing files ConvNet reads.
struct SafeTensorsTests {
    @Test func fileRoundTrip() throws {
        var file = SafeTensorsFile()
        try file.set("0.weight", SafeTensor(shape: [2, 3], float32: [1, 2, 3, 4, 5, -6]))
        try file.set("0.bias", SafeTensor(shape: [2], float64: [0.5, -0.25]))
        try file.set("empty", SafeTensor(shape: [0, 3], float32: []))
        file.metadata = ["spec": "dense(2)", "quote\"d": "line\nbreak \u{1}"]
        let bytes = file.encoded()
        #expect((Int(bytes[0]) + 8) % 8 == 0, "header padded to 8 bytes")
        let read = try SafeTensorsFile(bytes: bytes)
        #expect(read.metadata == file.metadata)
        #expect(read["0.weight"] == file["0.weight"])
        #expect(try read["0.bias"]?.floatValues() == [0.5, -0.25])
        #expect(read["empty"]?.shape == [0, 3])
    }

    @Test func halfPrecisionConverts() throws {
        // F16 1.0 = 0x3C00, −2.5 = 0xC100, 2⁻²⁴ = 0x0001; BF16 1.0 = 0x3F80.
        let half = try SafeTensor(dtype: .F16, shape: [3], bytes: [0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00])
        #expect(try half.doubleValues() == [1, -2.5, 0x1p-24])
        let brain = try SafeTensor(dtype: .BF16, shape: [1], bytes: [0x80, 0x3F])
        #expect(try brain.floatValues() == [1])
        #expect(
            thrownMessage {
                _ = try SafeTensor(dtype: .I64, shape: [1], bytes: [UInt8](repeating: 0, count: 8)).floatValues()
            }?
            .contains("dtype I64") == true)
    }

    private func file(header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) }
        bytes += h + data
        return bytes
    }

    @Test func hostileFilesThrowClearErrors() throws {
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], String)] = [
            ("too short", [1, 2, 3], "too short"),
            ("header length overflows", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D], "exceeds"),
            ("header past end", [100, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8), "exceeds"),
            ("not json", file(header: "{nope"), "not valid JSON"),
            (
                "offsets out of range",
                file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
                "fall outside"
            ),
            (
                "shape mismatch", file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
                "does not match"
            ),
            (
                "shape overflow",
                file(
                    header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight),
                "no valid shape"
            ),
            (
                "negative offsets",
                file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, data: eight), "data_offsets"
            ),
            (
                "reversed offsets",
                file(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: eight), "fall outside"
            ),
            (
                "overlap",
                file(
                    header:
                        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                    data: eight), "overlap"
            ),
            (
                "unknown dtype", file(header: #"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: eight),
                "unsupported dtype C64"
            ),
            ("metadata not strings", file(header: #"{"__metadata__":{"a":1}}"#), "not a string"),
        ]
        for (label, bytes, fragment) in cases {
            let message = thrownMessage { _ = try SafeTensorsFile(bytes: bytes, name: "bad.safetensors") }
            #expect(message?.contains(fragment) == true, "\(label): \(message ?? "no error")")
            #expect(message?.contains("bad.safetensors") == true, "\(label) names the file")
        }
    }

    @Test func checkpointRoundTripKeepsWeightsAndMetadata() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ModelPreset.lenet5.makeModel(inputShape: [1, 28, 28], classes: 10, seed: 3, scalar: Float.self)
        let preprocessing = try Preprocessing(scale: 255, sampleShape: [1, 28, 28], mean: [0.13], std: [0.31])
        let url = folder.appendingPathComponent("lenet.safetensors")
        let names = (0..<10).map { "digit \($0)" }
        try Checkpoint.save(model, to: url, classNames: names, preprocessing: preprocessing, preset: "lenet5")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(leftovers == ["lenet.safetensors"], "no temporary file remains")
        let loaded = try Checkpoint.load(from: url, as: Float.self)
        #expect(try loaded.metadata.spec == ModelPreset.lenet5.spec())
        #expect(loaded.metadata.inputShape == [1, 28, 28])
        #expect(loaded.metadata.classNames == names)
        #expect(loaded.metadata.preprocessing == preprocessing)
        #expect(loaded.metadata.preset == "lenet5")
        #expect(loaded.metadata.loss == .softmaxCrossEntropy)
        for ((name, a), (_, b)) in zip(model.network.namedParameters, loaded.model.network.namedParameters) {
            #expect(a.value == b.value, "\(name)")
        }
        // Double loads the same file.
        let asDouble = try Checkpoint.load(from: url, as: Double.self)
        #expect(asDouble.model.parameters[0].value.scalars[0] == Double(model.parameters[0].value.scalars[0]))
        // Wrong spec: the error names the tensor.
        let message = thrownMessage {
            _ = try Checkpoint.load(
                from: url,
                spec: ModelSpec(
                    parsing:
                        "conv(6,k=3,p=1) relu maxpool(2) conv(16,k=5) relu maxpool(2) flatten dense(120) relu dense(84) relu dense(10)"
                ), as: Float.self)
        }
        #expect(
            message?.contains("'0.weight' has shape [6, 1, 5, 5], the model needs [6, 1, 3, 3]") == true,
            "\(message ?? "")")
        // A file without metadata needs a spec.
        var bare = try SafeTensorsFile(contentsOf: url)
        bare.metadata = [:]
        let bareURL = folder.appendingPathComponent("bare.safetensors")
        try bare.write(to: bareURL)
        #expect(
            thrownMessage { _ = try Checkpoint.load(from: bareURL, as: Float.self) }?.contains("give the model spec")
                == true)
        let fromBare = try Checkpoint.load(
            from: bareURL, spec: ModelPreset.lenet5.spec(), inputShape: [1, 28, 28], as: Float.self)
        #expect(fromBare.model.parameters.last?.value == model.parameters.last?.value)
    }

    /// ConvNet → PyTorch: `model.load_state_dict(safetensors.torch.load_file(path))` into the
    /// equivalent nn.Sequential gives the same outputs; PyTorch → ConvNet: a state_dict saved
    /// with `safetensors.torch.save_file` loads with a spec and gives PyTorch's outputs.
    @Test func pytorchLoadsConvNetCheckpointsAndBack() throws {
        guard let python = torchPython() else {
            print("skipped: no python with torch and safetensors (set CONVNET_TORCH_PYTHON)")
            return
        }
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let specs: [(String, [Int])] = [
            (try ModelPreset.lenet5.spec().description, [1, 28, 28]),
            (
                "conv(4,k=3,s=2,p=1) tanh avgpool(2) conv(6,k=3,p=1) relu maxpool(3,s=2,p=1) sigmoid flatten dense(7)",
                [2, 13, 13]
            ),
            (try ModelPreset.threeLayerConvNet.spec(classes: 5, hiddenSizes: [20]).description, [3, 16, 16]),
        ]
        for (index, (text, inputShape)) in specs.enumerated() {
            let spec = try ModelSpec(parsing: text)
            let network: Sequential<Float> = try spec.makeNetwork(
                inputShape: inputShape, initializer: .pytorchDefault, seed: UInt64(index))
            let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: inputShape)
            let checkpoint = folder.appendingPathComponent("convnet\(index).safetensors")
            try Checkpoint.save(model, to: checkpoint, classNames: [])
            let input: Tensor<Float> = randomTensor([3] + inputShape, seed: 100 + UInt64(index))
            try NumPyArray(shape: input.shape, float32: input.scalars).write(
                to: folder.appendingPathComponent("input\(index).npy"))
            let output = try network.forward(input)
            try NumPyArray(shape: output.shape, float32: output.scalars).write(
                to: folder.appendingPathComponent("output\(index).npy"))
            let script = """
                import sys, numpy as np, torch, torch.nn as nn, safetensors.torch
                folder, i = sys.argv[1], sys.argv[2]
                model = \(try spec.pytorchSource(inputShape: inputShape))
                model.load_state_dict(safetensors.torch.load_file(folder + '/convnet%s.safetensors' % i))
                x = torch.from_numpy(np.load(folder + '/input%s.npy' % i))
                with torch.no_grad():
                    y = model(x).numpy()
                expected = np.load(folder + '/output%s.npy' % i)
                assert y.shape == expected.shape, (y.shape, expected.shape)
                error = float(np.abs(y - expected).max())
                assert error < 1e-4, 'ConvNet vs PyTorch max abs difference %g' % error
                torch.manual_seed(int(i) + 7)
                other = \(try spec.pytorchSource(inputShape: inputShape))
                safetensors.torch.save_file(other.state_dict(), folder + '/torch%s.safetensors' % i)
                with torch.no_grad():
                    np.save(folder + '/torch_output%s.npy' % i, other(x).numpy())
                print('max abs difference', error)
                """
            let result = try #require(runPython(script, arguments: [folder.path, String(index)], python: python))
            #expect(result.status == 0, "\(text): \(result.output)")
            print("PyTorch interop (\(text)): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            guard result.status == 0 else { continue }
            let loaded = try Checkpoint.load(
                from: folder.appendingPathComponent("torch\(index).safetensors"), spec: spec, inputShape: inputShape,
                as: Float.self)
            let mine = try loaded.model.network.forward(input)
            let theirs = try NumPyArray(contentsOf: folder.appendingPathComponent("torch_output\(index).npy"))
            #expect(theirs.shape == mine.shape)
            let difference = zip(mine.scalars, theirs.floatValues()).map { abs($0 - $1) }.max() ?? 0
            #expect(difference < 1e-4, "\(text): PyTorch → ConvNet max abs difference \(difference)")
        }
    }
}
