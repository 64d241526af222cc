import Foundation
import Testing

@testable import ConvNet

/// ONNX export (`ONNXModel`, each layer's `exportONNX`):
///
/// - without Python, the encoded bytes are read back by the small schema-less protobuf reader
///   below (`ProtobufMessage`) and checked against what the network holds: IR and opset, the
///   node operators in order (lists written by hand from the specs), each node reading only
///   values made before it, initializers named and shaped as the state_dict with the same
///   float32 bits, the `input` [batch, C, H, W] and `scores` [batch, classes] declarations,
///   the metadata; and a few attributes byte for byte;
/// - with the project's Python (`torchPython()`) and onnx + onnxruntime in it, `onnx_check.py`
///   (beside this file) runs `onnx.checker.check_model(full_check=True)`, prepares raw images
///   from the model's `metadata_props` alone and runs onnxruntime; its scores are compared with
///   ConvNet's `Predictor` on the same raw images: max |onnxruntime − ConvNet| / max |ConvNet|
///   ≤ 1e-5 per architecture (the measured figure is printed).
///
/// Weights are PyTorch's default initialisation from a seed, then every bias and BatchNorm γ, β
/// moved off its initial value and the running statistics off (0, 1)
/// (`PyTorchParityTests.perturb`).
@Suite("ONNX export", .serialized)
struct ONNXExportTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let spec: String
        let inputShape: [Int]
        /// The node operators in order, written out from the spec by hand.
        let operators: [String]
        var opset = 17
        /// Preprocessing stored with the checkpoint: "image" (mean image, scale 255), "channel"
        /// (per-channel mean and std, scale 255), or "none" (float inputs as they are).
        var preprocessing = "channel"
        var testDescription: String { name }
    }

    static let residualBlock = ["Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization"]
    static let identityBlock = residualBlock + ["Add", "Relu"]
    static let projectionBlock = residualBlock + ["Conv", "BatchNormalization", "Add", "Relu"]

    static let cases: [Case] = [
        Case(
            name: "lenet5", spec: try! ModelPreset.lenet5.spec(classes: 10).description, inputShape: [1, 28, 28],
            operators: [
                "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm",
            ],
            preprocessing: "image"),
        Case(
            name: "resnet20", spec: try! ModelPreset.resnet20.spec(classes: 10).description, inputShape: [3, 32, 32],
            operators: ["Conv", "BatchNormalization", "Relu"] + identityBlock + identityBlock + identityBlock
                + projectionBlock + identityBlock + identityBlock + projectionBlock + identityBlock + identityBlock
                + ["GlobalAveragePool", "Flatten", "Gemm"]),
        Case(
            name: "vgg-bn", spec: try! ModelPreset.vggBN.spec(classes: 10).description, inputShape: [3, 16, 16],
            operators: [
                "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Relu", "MaxPool",
                "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Relu", "MaxPool",
                "Flatten", "Gemm", "Relu", "Gemm",
            ],
            preprocessing: "none"),
        Case(
            name: "every layer kind",
            spec: "conv(8,k=3,p=1,bias=false) bn relu conv(8,k=3,p=2,d=2,g=2) bn(affine=false) leakyrelu(0.1) "
                + "conv(8,k=3,p=1,g=8) tanh maxpool(3,s=2,ceil=true) avgpool(3,s=2,p=1,ceil=true) seq(identity dropout(0.3)) "
                + "res(conv(16,k=3,s=2,p=1,bias=false) bn relu conv(16,k=3,p=1) bn | conv(16,k=1,s=2,bias=false) bn) relu "
                + "block(24,s=2) gap flatten dense(12) bn sigmoid dropout(0.2) dense(5)",
            inputShape: [3, 17, 17],
            operators: [
                "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "LeakyRelu", "Conv", "Tanh",
                "MaxPool", "AveragePool",
            ]
                + [
                    "Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Conv", "BatchNormalization",
                    "Add", "Relu",
                ]
                + projectionBlock
                + ["GlobalAveragePool", "Flatten", "Gemm", "BatchNormalization", "Sigmoid", "Gemm"]),
        Case(
            name: "ceil-mode pools dropping a window that starts in the padding (opset 22)",
            spec: "conv(4,k=3) relu maxpool(2,s=2,p=1,ceil=true) avgpool(2,s=2,p=1,ceil=true) flatten dense(3)",
            inputShape: [2, 7, 7], operators: ["Conv", "Relu", "MaxPool", "AveragePool", "Flatten", "Gemm"], opset: 22),
    ]

    /// The project's Python (`torchPython()`) when onnx and onnxruntime import in it; looked up once.
    static let onnxPython: String? = {
        guard let python = torchPython() else { return nil }
        return pythonWith(["onnx", "onnxruntime", "numpy"], candidates: [python])
    }()

    /// The case's network (Float, as checkpoints are used) with non-trivial weights and statistics.
    static func network(_ testCase: Case) throws -> Sequential<Float> {
        let network: Sequential<Float> = try ModelSpec(parsing: testCase.spec)
            .makeNetwork(inputShape: testCase.inputShape, initializer: .pytorchDefault, seed: 11)
        PyTorchParityTests.perturb(network, seed: 12)
        return network
    }

    /// The case's checkpoint metadata: class names and the preprocessing it asks for.
    static func metadata(_ testCase: Case, classes: Int) throws -> CheckpointMetadata {
        let shape = testCase.inputShape
        let channels = shape[0]
        let size = shape.reduce(1, *)
        var random = SeededRandom(seed: 13)
        let preprocessing: Preprocessing?
        switch testCase.preprocessing {
        case "image":
            preprocessing = try Preprocessing(
                scale: 255, sampleShape: shape, mean: (0..<size).map { _ in Float(random.uniform(in: 0.2, 0.6)) })
        case "channel":
            preprocessing = try Preprocessing(
                scale: 255, sampleShape: shape, mean: (0..<channels).map { _ in Float(random.uniform(in: 0.3, 0.5)) },
                std: (0..<channels).map { _ in Float(random.uniform(in: 0.2, 0.3)) })
        default:
            preprocessing = nil
        }
        return CheckpointMetadata(
            spec: try ModelSpec(parsing: testCase.spec), inputShape: shape,
            classNames: (0..<classes).map { "class \($0) é" },
            preprocessing: preprocessing, extra: ["epoch": "3"])
    }

    // MARK: - The encoded bytes, read back without Python

    @Test(arguments: cases)
    func encodedModelHoldsTheNetwork(_ testCase: Case) throws {
        let network = try Self.network(testCase)
        let classes = try network.outputShape(forInputShape: testCase.inputShape)[0]
        let metadata = try Self.metadata(testCase, classes: classes)
        let model = try ONNXModel(network: network, metadata: metadata)
        let decoded = try ProtobufMessage(try model.encoded())

        // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 (version 2), metadata_props 14.
        #expect(decoded.integers(1) == [testCase.opset == 17 ? 8 : 10])
        #expect(decoded.strings(2) == ["ConvNet"])
        let opsets = try decoded.messages(8)
        #expect(opsets.count == 1 && opsets[0].strings(1).isEmpty && opsets[0].integers(2) == [Int64(testCase.opset)])
        let properties = try Dictionary(
            uniqueKeysWithValues: decoded.messages(14).map { ($0.strings(1)[0], $0.strings(2)[0]) })
        #expect(properties["spec"] == metadata.spec.description)
        #expect(properties["input_shape"] == "[" + testCase.inputShape.map(String.init).joined(separator: ",") + "]")
        #expect(
            properties["class_names"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
                == metadata.classNames)
        #expect(properties["preprocessing"] == (try metadata.preprocessing?.jsonString()))
        #expect(properties["epoch"] == "3" && properties["format"] == nil)
        #expect(decoded.strings(6).first?.contains("'scores' float32 [batch, \(classes)]") == true)

        let graph = try #require(try decoded.messages(7).first)
        // GraphProto: node 1, initializer 5, input 11, output 12.
        let nodes = try graph.messages(1)
        #expect(nodes.map { $0.strings(4).first ?? "?" } == testCase.operators)
        var known: Set<String> = ["input"]
        let initializers = try graph.messages(5)
        for initializer in initializers { known.insert(initializer.strings(8).first ?? "?") }
        for node in nodes {
            for input in node.strings(1) {
                #expect(known.contains(input), "\(node.strings(3)) reads \(input) before it exists")
            }
            for output in node.strings(2) { known.insert(output) }
        }
        #expect(nodes.last?.strings(2) == ["scores"])

        // Initializers: every parameter and floating buffer under its state_dict name, in
        // state_dict order, float32 [data_type 1] with the same bits (plus BatchNorm's
        // constant γ = 1, β = 0 without affine).
        let state =
            network.namedParameters.map { ($0.name, $0.parameter.value) }
            + network.namedBuffers.filter { !$0.buffer.isInteger }.map { ($0.name, $0.buffer.values) }
        let expected = Dictionary(uniqueKeysWithValues: state)
        let stateOrder = network.stateDictNames.filter { expected[$0] != nil }
        let names = initializers.map { $0.strings(8).first ?? "?" }
        #expect(names.filter { !$0.hasSuffix(".onnx_scale") && !$0.hasSuffix(".onnx_bias") } == stateOrder)
        for initializer in initializers {
            let name = initializer.strings(8).first ?? "?"
            #expect(initializer.integers(2) == [1], "\(name) data type")
            let raw = try #require(initializer.bytes(9).first, "\(name) has no raw_data")
            let values = stride(from: 0, to: raw.count, by: 4).map { offset in
                Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[offset + $1]) << (8 * $1) })
            }
            if let tensor = expected[name] {
                #expect(initializer.integers(1) == tensor.shape.map(Int64.init), "\(name) dims")
                #expect(values == tensor.scalars, "\(name) values")
            } else {
                let channels = Int(initializer.integers(1).first ?? 0)
                #expect(values == [Float](repeating: name.hasSuffix(".onnx_scale") ? 1 : 0, count: channels), "\(name)")
            }
        }

        // ValueInfoProto name 1, type 2 → tensor_type 1 → elem_type 1, shape 2 → dim 1 (dim_value 1, dim_param 2).
        func declaration(_ field: Int) throws -> (String, Int64, [String]) {
            let value = try #require(try graph.messages(field).first)
            let tensor = try #require(try value.messages(2).first?.messages(1).first)
            let dims =
                try tensor.messages(2).first?.messages(1).map {
                    $0.strings(2).first ?? String($0.integers(1).first ?? -1)
                } ?? []
            return (value.strings(1).first ?? "?", tensor.integers(1).first ?? 0, dims)
        }
        let (inputName, inputType, inputDims) = try declaration(11)
        #expect(inputName == "input" && inputType == 1 && inputDims == ["batch"] + testCase.inputShape.map(String.init))
        let (outputName, outputType, outputDims) = try declaration(12)
        #expect(outputName == "scores" && outputType == 1 && outputDims == ["batch", String(classes)])
    }

    /// Attributes byte for byte (onnx.proto's AttributeProto: name 1, f 2, ints 8, type 20),
    /// written out by hand: `kernel_shape` [3, 3] INTS and LeakyRelu's `alpha` 0.1 FLOAT
    /// (0x3DCCCCCD), and the model's first fields (ir_version 8, producer_name "ConvNet").
    @Test func knownFieldBytes() throws {
        let testCase = Self.cases[3]
        let network = try Self.network(testCase)
        let bytes = try ONNXModel(network: network, metadata: try Self.metadata(testCase, classes: 5)).encoded()
        #expect(Array(bytes.prefix(11)) == [0x08, 0x08, 0x12, 0x07] + Array("ConvNet".utf8))
        let kernelShape: [UInt8] =
            [0x0A, 0x0C] + Array("kernel_shape".utf8) + [0x40, 0x03, 0x40, 0x03, 0xA0, 0x01, 0x07]
        let alpha: [UInt8] = [0x0A, 0x05] + Array("alpha".utf8) + [0x15, 0xCD, 0xCC, 0xCC, 0x3D, 0xA0, 0x01, 0x01]
        // Each attribute is a field 5 of its node: key 0x2A, then its length.
        #expect(contains(bytes, [0x2A, UInt8(kernelShape.count)] + kernelShape))
        #expect(contains(bytes, [0x2A, UInt8(alpha.count)] + alpha))
        // The dilated grouped convolution: dilations [2, 2], group 2.
        #expect(contains(bytes, [0x0A, 0x09] + Array("dilations".utf8) + [0x40, 0x02, 0x40, 0x02, 0xA0, 0x01, 0x07]))
        #expect(contains(bytes, [0x0A, 0x05] + Array("group".utf8) + [0x18, 0x02, 0xA0, 0x01, 0x02]))
        // AveragePool's count_include_pad = 1 and the pools' ceil_mode = 1.
        #expect(contains(bytes, [0x0A, 0x11] + Array("count_include_pad".utf8) + [0x18, 0x01, 0xA0, 0x01, 0x02]))
        #expect(contains(bytes, [0x0A, 0x09] + Array("ceil_mode".utf8) + [0x18, 0x01, 0xA0, 0x01, 0x02]))
    }

    @Test func protobufWriterEncodings() {
        var writer = ProtobufWriter()
        writer.int64s(field: 1, [1, 300])
        writer.float(field: 2, 1)
        writer.littleEndianFloats(field: 9, [1, -2])
        writer.message(field: 7) { $0.string(field: 4, "Relu") }
        #expect(
            writer.bytes == [
                0x08, 0x01, 0x08, 0xAC, 0x02, 0x15, 0x00, 0x00, 0x80, 0x3F,
                0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,
                0x3A, 0x06, 0x22, 0x04,
            ] + Array("Relu".utf8))
    }

    /// The opset is 17 unless a ceil-mode pool's last window starts in the right padding.
    @Test func opsetFollowsThePoolingWindows() throws {
        func opset(_ spec: String, _ inputShape: [Int]) throws -> [Int] {
            let network: Sequential<Float> = try ModelSpec(parsing: spec).makeNetwork(inputShape: inputShape)
            let model = try ONNXModel(
                network: network,
                metadata: CheckpointMetadata(spec: try ModelSpec(parsing: spec), inputShape: inputShape))
            return [model.opset, model.irVersion]
        }
        // Output sizes: ConvNet and PyTorch vs ONNX's rule before opset 22.
        #expect(try opset("maxpool(2,s=2,p=1,ceil=true) flatten dense(2)", [1, 5, 5]) == [22, 10])  // 3 vs 4
        #expect(try opset("maxpool(2,s=2,p=1,ceil=true) flatten dense(2)", [1, 6, 6]) == [17, 8])  // 4 vs 4
        #expect(try opset("avgpool(3,s=3,p=1,ceil=true) flatten dense(2)", [1, 8, 8]) == [22, 10])  // 3 vs 4
        #expect(try opset("avgpool(3,s=2,p=1,ceil=true) flatten dense(2)", [1, 8, 8]) == [17, 8])  // 5 vs 5
        #expect(try opset("maxpool(2,p=1) flatten dense(2)", [1, 5, 5]) == [17, 8])  // floor mode
    }

    /// A network that changes nothing still has a `scores` output (an Identity node), and a
    /// Dense layer reading images flattens them first.
    @Test func passThroughNetworksAndDenseOnImages() throws {
        let identity: Sequential<Float> = Sequential([Identity<Float>(), try Dropout<Float>(probability: 0.5)])
        let passThrough = try ONNXModel(
            network: identity, metadata: CheckpointMetadata(spec: try ModelSpec(describing: identity), inputShape: [4]))
        #expect(passThrough.graph.nodes.map(\.opType) == ["Identity"] && passThrough.graph.nodes[0].inputs == ["input"])
        #expect(passThrough.graph.nodes[0].outputs == ["scores"])

        var random = SeededRandom(seed: 1)
        let dense: Sequential<Float> = Sequential([try Dense<Float>(inputSize: 12, outputSize: 2, random: &random)])
        let model = try ONNXModel(
            network: dense, metadata: CheckpointMetadata(spec: ModelSpec(layers: []), inputShape: [3, 2, 2]))
        #expect(model.graph.nodes.map(\.opType) == ["Flatten", "Gemm"])
        #expect(model.graph.nodes[1].inputs == [model.graph.nodes[0].outputs[0], "0.weight", "0.bias"])
    }

    /// A layer defined outside ConvNet without an export is refused by name; so are opsets
    /// ConvNet does not write and input shapes the network does not take.
    @Test func refusals() throws {
        let network: Sequential<Float> = Sequential([Flatten<Float>(), UnexportableLayer<Float>()])
        let metadata = CheckpointMetadata(spec: ModelSpec(layers: []), inputShape: [2, 3])
        #expect(
            thrownMessage { _ = try ONNXModel(network: network, metadata: metadata) }
                == "invalid argument: UnexportableLayer() cannot be exported to ONNX (its type does not implement exportONNX)"
        )
        let flat: Sequential<Float> = Sequential([Flatten<Float>()])
        #expect(
            thrownMessage { _ = try ONNXModel(network: flat, metadata: metadata, opset: 13) }?
                .contains("ONNX opset 13 is not one ConvNet writes") == true)
        let convolution: Sequential<Float> = try ModelSpec(parsing: "conv(2,k=3) flatten dense(2)").makeNetwork(
            inputShape: [1, 5, 5])
        #expect(
            thrownMessage {
                _ = try ONNXModel(
                    network: convolution,
                    metadata: CheckpointMetadata(spec: ModelSpec(layers: []), inputShape: [1, 2, 2]))
            }?.hasPrefix("shape mismatch") == true)
    }

    // MARK: - onnx.checker and onnxruntime against ConvNet

    @Test(arguments: cases)
    func onnxRuntimeAgreesWithConvNet(_ testCase: Case) throws {
        guard let python = Self.onnxPython else {
            print("skipping: no project Python with onnx and onnxruntime (make .venv, or set CONVNET_TORCH_PYTHON)")
            return
        }
        let folder = makeTemporaryDirectory("convnet-onnx")
        defer { try? FileManager.default.removeItem(at: folder) }
        let network = try Self.network(testCase)
        let classes = try network.outputShape(forInputShape: testCase.inputShape)[0]
        let checkpoint = folder.appendingPathComponent("model.safetensors")
        try Checkpoint.save(network, metadata: try Self.metadata(testCase, classes: classes), to: checkpoint)
        let model = try ONNXModel.export(checkpoint: checkpoint, to: folder.appendingPathComponent("model.onnx"))
        #expect(model.opset == testCase.opset)

        // Raw images: pixel values 0…255 as float32 when the checkpoint scales them, else values
        // around 0 (fed as they are).
        let batch = 3
        let size = testCase.inputShape.reduce(1, *)
        var random = SeededRandom(seed: 14)
        let raw = (0..<(batch * size)).map { _ in
            testCase.preprocessing == "none" ? Float(random.normal()) : Float(random.integer(below: 256))
        }
        let images = try ImageArray(shape: [batch] + testCase.inputShape, storage: .float32(raw))
        try NumPyArray(shape: images.shape, float32: raw).write(to: folder.appendingPathComponent("raw.npy"))
        let convnet = try Predictor(checkpoint: checkpoint).scores(images)

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("onnx_check.py")
        let result = try #require(
            runPython(
                try String(contentsOf: script, encoding: .utf8), arguments: [folder.path], python: python))
        try #require(result.status == 0, "onnx_check.py failed: \(result.output)")
        let runtime = try NumPyArray(contentsOf: folder.appendingPathComponent("scores.npy"))
        #expect(runtime.shape == convnet.shape)
        let difference = PyTorchParityTests.difference(
            convnet.scalars.map(Double.init), runtime.floatValues().map(Double.init))
        print(
            "ONNX \(testCase.name): opset \(model.opset), \(model.graph.nodes.count) nodes; onnxruntime vs ConvNet "
                + "max |difference| / max |ConvNet score| = \(String(format: "%.2e", difference))")
        #expect(difference <= 1e-5, "\(testCase.name): onnxruntime differs from ConvNet by \(difference)")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("summary.json")))
                as? [String: Any])
        #expect(summary["ops"] as? [String] == testCase.operators)
        #expect((summary["opset"] as? NSNumber)?.intValue == testCase.opset)
    }
}

/// `convnet export CKPT --onnx FILE`: the library's bytes, written atomically; bad input gives
/// one `error:` line and exit code 1.
extension CommandLineTests {
    @Test func onnxExportCommand() throws {
        let folder = makeTemporaryDirectory("convnet-onnx-cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        let testCase = ONNXExportTests.cases[0]
        let network = try ONNXExportTests.network(testCase)
        let checkpoint = folder.appendingPathComponent("lenet.safetensors")
        let metadata = try ONNXExportTests.metadata(testCase, classes: 10)
        try Checkpoint.save(network, metadata: metadata, to: checkpoint)
        let destination = folder.appendingPathComponent("lenet.onnx")
        guard let exported = try run(["export", checkpoint.path, "--onnx", destination.path]) else { return }
        #expect(exported.status == 0, "\(exported.error)")
        #expect(
            exported.output.hasPrefix("wrote \(destination.path): ONNX opset 17 (IR 8), 12 nodes, 10 initializers"),
            "\(exported.output)")
        let loaded = try Checkpoint.load(from: checkpoint, as: Float.self)
        let library = try ONNXModel(network: loaded.model.network, metadata: loaded.metadata).encoded()
        #expect(Array(try Data(contentsOf: destination)) == library)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)

        let foreign = folder.appendingPathComponent("torch.safetensors")
        try Checkpoint.stateDict(of: network, metadata: nil).write(to: foreign)
        for (arguments, message) in [
            (["export", checkpoint.path], "Missing expected argument '--onnx <onnx>'"),
            (
                ["export", folder.appendingPathComponent("missing.safetensors").path, "--onnx", destination.path],
                "missing.safetensors"
            ),
            (["export", foreign.path, "--onnx", destination.path], "torch.safetensors has no ConvNet metadata"),
            (
                ["export", checkpoint.path, "--onnx", folder.appendingPathComponent("no/such/folder/m.onnx").path],
                "cannot write"
            ),
        ] {
            let result = try #require(try run(arguments))
            #expect(result.status == 1, "\(arguments)")
            #expect(
                result.error.hasPrefix("error: ") && result.error.contains(message), "\(arguments): \(result.error)")
            #expect(result.error.split(separator: "\n").count == 1, "\(arguments): \(result.error)")
        }
    }
}

/// A layer written outside ConvNet that does not implement `exportONNX` (y = 2x).
final class UnexportableLayer<Scalar: KernelScalar>: Layer {
    var description: String { "UnexportableLayer()" }
    var specification: LayerSpec { LayerSpec(token: "identity") }
    var pytorchModule: String { "Doubling()" }
    func outputShape(forInputShape inputShape: [Int]) throws -> [Int] { inputShape }
    func forward(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try Tensor(shape: input.shape, scalars: input.scalars.map { $0 + $0 })
    }
    func backward(_ outputGradient: Tensor<Scalar>, needsInputGradient: Bool) throws -> Tensor<Scalar>? {
        try Tensor(shape: outputGradient.shape, scalars: outputGradient.scalars.map { $0 + $0 })
    }
}

/// Whether `sequence` occurs in `bytes`.
private func contains(_ bytes: [UInt8], _ sequence: [UInt8]) -> Bool {
    guard !sequence.isEmpty, bytes.count >= sequence.count else { return false }
    return (0...(bytes.count - sequence.count)).contains { start in
        bytes[start..<(start + sequence.count)].elementsEqual(sequence)
    }
}

/// A protobuf message read field by field without a schema (the wire format only), to check
/// what `ProtobufWriter` wrote by another route than the one that wrote it.
struct ProtobufMessage {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes([UInt8])
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The fields in the order they appear.
    var fields: [(number: Int, value: Value)] = []

    init(_ bytes: [UInt8]) throws {
        var position = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < bytes.count, shift < 64 else {
                    throw Malformed(description: "truncated varint at \(position)")
                }
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
        }
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, count <= bytes.count - position else {
                throw Malformed(description: "\(count) bytes past the end at \(position)")
            }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
        func littleEndian(_ slice: ArraySlice<UInt8>) -> UInt64 {
            slice.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        while position < bytes.count {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: fields.append((number, .varint(try varint())))
            case 1: fields.append((number, .fixed64(littleEndian(try take(8)))))
            case 2: fields.append((number, .bytes(Array(try take(Int(try varint()))))))
            case 5: fields.append((number, .fixed32(UInt32(littleEndian(try take(4))))))
            default: throw Malformed(description: "wire type \(key & 7) at \(position)")
            }
        }
    }

    /// The varint fields `number` (int64, int32, enum), in order.
    func integers(_ number: Int) -> [Int64] {
        fields.compactMap {
            $0.number == number
                ? { if case .varint(let v) = $0 { return Int64(bitPattern: v) } else { return nil } }($0.value) : nil
        }
    }

    /// The length-delimited fields `number`, as bytes.
    func bytes(_ number: Int) -> [[UInt8]] {
        fields.compactMap {
            $0.number == number ? { if case .bytes(let b) = $0 { return b } else { return nil } }($0.value) : nil
        }
    }

    /// The length-delimited fields `number`, as UTF-8 strings.
    func strings(_ number: Int) -> [String] { bytes(number).map { String(decoding: $0, as: UTF8.self) } }

    /// The length-delimited fields `number`, as nested messages.
    func messages(_ number: Int) throws -> [ProtobufMessage] { try bytes(number).map(ProtobufMessage.init) }
}
