import Foundation

/// A ConvNet network as an ONNX model, to run it outside ConvNet (onnxruntime, say):
///
/// ```python
/// import numpy as np, onnxruntime as ort
/// session = ort.InferenceSession("model.onnx")
/// scores = session.run(["scores"], {"input": x})[0]     # x: float32 [N, C, H, W], preprocessed
/// ```
///
/// The graph reads `input` float32 [batch, C, H, W] (`batch` dynamic; the checkpoint's input
/// shape otherwise) and writes `scores` float32 [batch, classes]. It computes what ConvNet
/// computes in inference: Dropout is the identity, BatchNorm uses its running statistics. Each
/// layer adds its own nodes (`Layer.exportONNX(to:input:)`); every parameter and BatchNorm
/// running statistic is an initializer under its state_dict name (`0.weight`, `3.bn1.running_var`),
/// float32 in PyTorch's layout (`num_batches_tracked`, read by no node, is left out).
///
/// The input is what the network sees, after the checkpoint's preprocessing
/// x = (raw / scale − mean) / std; `metadata_props` hold what a deployer needs to reproduce it
/// and to name the outputs: `preprocessing` (JSON: `scale`, `mean` per element of a sample or
/// per channel, `std` per channel, each possibly empty), `class_names`, `spec`, `input_shape`,
/// `loss`, and the checkpoint's other entries (`preset`, `epoch`, …). The model's doc string
/// says the same in words.
///
/// Opset 17 of the default domain (`ai.onnx`), IR version 8. A ceil-mode pooling whose last
/// window starts in the right padding raises it to opset 22 (IR version 10): ONNX's output size
/// rule keeps that window before opset 22, while PyTorch, ConvNet and onnxruntime drop it (so a
/// following Gemm would not load). Encoded by hand (`ProtobufWriter`, field numbers from
/// onnx/onnx.proto), with no code generation and no dependency.
public struct ONNXModel: Sendable {
    /// The opset written unless a layer needs a later one.
    public static let defaultOpset = 17
    /// The IR version of each opset ConvNet can write (ONNX's release table: 1.12 and 1.13 → IR 8,
    /// 1.14 and 1.15 → IR 9, 1.16 and 1.17 → IR 10).
    public static let irVersions: [Int: Int] = [17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10]

    /// The nodes and initializers.
    public let graph: ONNXGraph
    /// The graph's output, `scores`.
    public let output: ONNXValue
    /// What the checkpoint records beside the weights (spec, input shape, class names,
    /// preprocessing), written into `metadata_props`.
    public let metadata: CheckpointMetadata

    /// The opset of the default domain.
    public var opset: Int { graph.opset }
    /// The IR version that goes with it.
    public var irVersion: Int { ONNXModel.irVersions[graph.opset] ?? 8 }

    /// The ONNX graph of `network` for inputs of `metadata.inputShape`, at `opset` or the
    /// later one a layer needs. Throws when the network does not fit the input shape, when a
    /// layer cannot be exported, or for an opset outside 17...22.
    public init<Scalar: KernelScalar>(
        network: Sequential<Scalar>, metadata: CheckpointMetadata, opset: Int = ONNXModel.defaultOpset
    ) throws {
        guard ONNXModel.irVersions[opset] != nil else {
            throw ConvNetError.invalidArgument("ONNX opset \(opset) is not one ConvNet writes (17 to 22)")
        }
        let outputShape = try network.outputShape(forInputShape: metadata.inputShape)
        let input = ONNXValue(name: "input", sampleShape: metadata.inputShape)
        var graph = ONNXGraph(input: input, opset: opset)
        let last = try network.exportONNX(to: &graph, input: input)
        guard last.sampleShape == outputShape else {
            throw ConvNetError.shapeMismatch(
                "the ONNX graph gives samples \(describe(last.sampleShape)), the network \(describe(outputShape))")
        }
        guard ONNXModel.irVersions[graph.opset] != nil else {
            throw ConvNetError.invalidArgument(
                "a layer needs ONNX opset \(graph.opset), later than ConvNet writes (22)")
        }
        output = graph.finish(last, as: "scores")
        let exported = Set(graph.initializers.map(\.name))
        let state =
            network.namedParameters.map(\.name) + network.namedBuffers.filter { !$0.buffer.isInteger }.map(\.name)
        let missing = state.filter { !exported.contains($0) }
        guard missing.isEmpty else {
            throw ConvNetError.invalidArgument(
                "the ONNX graph reads no initializer for \(missing.joined(separator: ", ")): a layer's exportONNX left it out"
            )
        }
        self.graph = graph
        self.metadata = metadata
    }

    /// Loads a ConvNet checkpoint, exports it and writes the ONNX file atomically (what
    /// `convnet export CKPT --onnx FILE` does); returns the model written.
    @discardableResult
    public static func export(checkpoint: URL, to destination: URL) throws -> ONNXModel {
        guard try Checkpoint.metadata(at: checkpoint) != nil else {
            throw ConvNetError.invalidArgument(
                "\(checkpoint.lastPathComponent) has no ConvNet metadata (it was not saved by ConvNet); "
                    + "an ONNX export needs the spec and input shape that ConvNet records")
        }
        let loaded = try Checkpoint.load(from: checkpoint, as: Float.self)
        let model = try ONNXModel(network: loaded.model.network, metadata: loaded.metadata)
        try model.write(to: destination)
        return model
    }

    /// Writes the encoded model to `url` atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    /// The `metadata_props` entries, sorted by key: the checkpoint's metadata without its
    /// format entries.
    public func metadataProperties() throws -> [(key: String, value: String)] {
        var map = try metadata.encoded()
        map["format"] = nil
        map["format_version"] = nil
        return map.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    /// The model's doc string: what the graph computes and how to prepare its input.
    public var documentation: String {
        let preparation: String
        if let preprocessing = metadata.preprocessing {
            let mean =
                preprocessing.mean.isEmpty
                ? "0"
                : preprocessing.mean.count == preprocessing.sampleShape.reduce(1, *)
                    ? "the mean image" : "the per-channel mean"
            let std = preprocessing.std.isEmpty ? "1" : "the per-channel std"
            preparation =
                "input = (raw / \(preprocessing.scale) − mean) / std, with mean = \(mean) and std = \(std) "
                + "as stored in metadata_props 'preprocessing' (JSON: scale, mean, std, sampleShape)"
        } else {
            preparation =
                "no preprocessing was stored: ConvNet feeds float images as they are and divides uint8 images by 255"
        }
        return "ConvNet network '\(metadata.spec)' for inference (Dropout is the identity, BatchNorm uses its running "
            + "statistics). Input 'input' float32 \(describeBatch(metadata.inputShape)): \(preparation). "
            + "Output 'scores' float32 \(describeBatch(output.sampleShape)): raw class scores (softmax gives probabilities), "
            + "classes named in metadata_props 'class_names'."
    }

    /// onnx.proto's `ModelProto`: ir_version = 1, producer_name = 2, doc_string = 6, graph = 7,
    /// opset_import = 8 (OperatorSetIdProto: version = 2; the default domain is the empty
    /// string, left out), metadata_props = 14 (StringStringEntryProto: key = 1, value = 2).
    public func encoded() throws -> [UInt8] {
        var model = ProtobufWriter()
        model.int64(field: 1, Int64(irVersion))
        model.string(field: 2, "ConvNet")
        model.string(field: 6, documentation)
        model.message(field: 7) { encodeGraph(into: &$0) }
        model.message(field: 8) { $0.int64(field: 2, Int64(opset)) }
        for (key, value) in try metadataProperties() {
            model.message(field: 14) {
                $0.string(field: 1, key)
                $0.string(field: 2, value)
            }
        }
        // Protobuf messages are limited to 2 GiB; larger models need ONNX's external data.
        guard model.bytes.count < Int(Int32.max) else {
            throw ConvNetError.invalidArgument(
                "the ONNX model would take \(model.bytes.count) bytes, over protobuf's 2 GiB limit "
                    + "(ONNX's external data files are not written by ConvNet)")
        }
        return model.bytes
    }

    /// `GraphProto`: node = 1, name = 2, initializer = 5, input = 11, output = 12.
    private func encodeGraph(into writer: inout ProtobufWriter) {
        for node in graph.nodes {
            writer.message(field: 1) { Self.encode(node, into: &$0) }
        }
        writer.string(field: 2, metadata.preset ?? "convnet")
        for initializer in graph.initializers {
            writer.message(field: 5) { Self.encode(initializer, into: &$0) }
        }
        writer.message(field: 11) { Self.encode(graph.input, into: &$0) }
        writer.message(field: 12) { Self.encode(output, into: &$0) }
    }

    /// `NodeProto`: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
    private static func encode(_ node: ONNXGraph.Node, into writer: inout ProtobufWriter) {
        for input in node.inputs { writer.string(field: 1, input) }
        for output in node.outputs { writer.string(field: 2, output) }
        writer.string(field: 3, node.name)
        writer.string(field: 4, node.opType)
        for attribute in node.attributes {
            writer.message(field: 5) { encode(attribute, into: &$0) }
        }
    }

    /// `AttributeProto`: name = 1, f = 2, i = 3, ints = 8, type = 20 (FLOAT 1, INT 2, INTS 7).
    private static func encode(_ attribute: ONNXAttribute, into writer: inout ProtobufWriter) {
        writer.string(field: 1, attribute.name)
        switch attribute {
        case .number(_, let value):
            writer.float(field: 2, value)
            writer.int64(field: 20, 1)
        case .integer(_, let value):
            writer.int64(field: 3, Int64(value))
            writer.int64(field: 20, 2)
        case .integers(_, let values):
            writer.int64s(field: 8, values.map(Int64.init))
            writer.int64(field: 20, 7)
        }
    }

    /// `TensorProto`: dims = 1, data_type = 2 (FLOAT 1), name = 8, raw_data = 9 (little-endian).
    private static func encode(_ initializer: ONNXGraph.Initializer, into writer: inout ProtobufWriter) {
        writer.int64s(field: 1, initializer.shape.map(Int64.init))
        writer.int64(field: 2, 1)
        writer.string(field: 8, initializer.name)
        writer.littleEndianFloats(field: 9, initializer.values)
    }

    /// `ValueInfoProto` (name = 1, type = 2) of a float32 value [batch, sample shape…]:
    /// TypeProto.tensor_type = 1 → elem_type = 1 (FLOAT), shape = 2 → dim = 1 → dim_param = 2
    /// ("batch") or dim_value = 1.
    private static func encode(_ value: ONNXValue, into writer: inout ProtobufWriter) {
        writer.string(field: 1, value.name)
        writer.message(field: 2) { type in
            type.message(field: 1) { tensor in
                tensor.int64(field: 1, 1)
                tensor.message(field: 2) { shape in
                    shape.message(field: 1) { $0.string(field: 2, "batch") }
                    for size in value.sampleShape {
                        shape.message(field: 1) { $0.int64(field: 1, Int64(size)) }
                    }
                }
            }
        }
    }
}

/// "[batch, 1, 28, 28]".
private func describeBatch(_ sampleShape: [Int]) -> String {
    "[" + (["batch"] + sampleShape.map(String.init)).joined(separator: ", ") + "]"
}
