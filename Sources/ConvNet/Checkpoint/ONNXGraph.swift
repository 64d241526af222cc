/// A value flowing through an ONNX graph: its name and the shape of one sample. Every value
/// ConvNet exports has the batch first (the graph's dynamic dimension `batch`), which
/// `sampleShape` leaves out, as `Layer.outputShape(forInputShape:)` does.
public struct ONNXValue: Sendable, Equatable {
    /// The name nodes refer to it by.
    public let name: String
    /// The shape of one sample, e.g. [16, 32, 32].
    public let sampleShape: [Int]

    /// A value named `name` whose samples have `sampleShape`.
    public init(name: String, sampleShape: [Int]) {
        self.name = name
        self.sampleShape = sampleShape
    }
}

/// A node attribute (onnx.proto's `AttributeProto`) of the kinds ConvNet's layers need.
public enum ONNXAttribute: Sendable, Equatable {
    /// An `INT` attribute, e.g. `group`.
    case integer(String, Int)
    /// An `INTS` attribute, e.g. `kernel_shape`, `pads`.
    case integers(String, [Int])
    /// A `FLOAT` attribute, e.g. `alpha`, `epsilon`.
    case number(String, Float)

    /// The attribute's name.
    public var name: String {
        switch self {
        case .integer(let name, _), .integers(let name, _), .number(let name, _): return name
        }
    }
}

/// The graph of an ONNX model as the layers export themselves into it
/// (`Layer.exportONNX(to:input:)`): nodes in topological order and the initializers they read.
///
/// A container exports each sublayer with `export(_:named:input:)`, which sets the scope to
/// the sublayer's state_dict name (`3.conv1`), so that `parameter(_:)` and `buffer(_:)` name
/// each initializer exactly as in the checkpoint (`3.conv1.weight`, `3.bn1.running_var`) and
/// `node(_:_:_:sampleShape:)` names each node and its output after the layer that made it
/// (`3.conv1/Conv`). `ONNXModel` turns the finished graph into a `ModelProto`.
public struct ONNXGraph: Sendable {
    /// One operator call (onnx.proto's `NodeProto`), in the default `ai.onnx` domain.
    public struct Node: Sendable, Equatable {
        /// The operator, e.g. `Conv`.
        public var opType: String
        /// The node's name (that of its output).
        public var name: String
        /// The values it reads, in the operator's order.
        public var inputs: [String]
        /// The values it writes.
        public var outputs: [String]
        /// Its attributes.
        public var attributes: [ONNXAttribute]
    }

    /// A constant tensor (onnx.proto's `TensorProto`), stored as float32.
    public struct Initializer: Sendable, Equatable {
        /// Its name: the state_dict name for parameters and buffers.
        public var name: String
        /// Its shape, in PyTorch's layout.
        public var shape: [Int]
        /// Its values, row-major.
        public var values: [Float]
    }

    /// The nodes, in the order they run.
    public private(set) var nodes: [Node] = []
    /// The constant tensors.
    public private(set) var initializers: [Initializer] = []
    /// The lowest opset of the default domain that every node needs (`ONNXModel.defaultOpset`
    /// unless a layer asked for a later one).
    public private(set) var opset: Int
    /// The graph's input value.
    public let input: ONNXValue
    /// The state_dict names from the network down to the layer being exported.
    private var path: [String] = []
    /// Every value and initializer name given out so far.
    private var names: Set<String>

    /// An empty graph reading `input`, for opset `opset` or later.
    public init(input: ONNXValue, opset: Int) {
        self.input = input
        self.opset = opset
        names = [input.name]
    }

    /// The state_dict prefix of the layer being exported, e.g. `3.conv1` (empty for the network).
    public var scope: String { path.joined(separator: ".") }

    /// Exports `layer`, the sublayer called `name` of the layer being exported, reading `input`;
    /// returns the value it produces.
    public mutating func export<Scalar: KernelScalar>(_ layer: any Layer<Scalar>, named name: String, input: ONNXValue)
        throws -> ONNXValue
    {
        path.append(name)
        defer { path.removeLast() }
        return try layer.exportONNX(to: &self, input: input)
    }

    /// Appends a node running `opType` on `inputs`; returns its output, whose samples have
    /// `sampleShape`. The node and its output are named `SCOPE/OpType` (with a number added if
    /// the layer makes several of the same kind).
    @discardableResult
    public mutating func node(
        _ opType: String, _ inputs: [String], _ attributes: [ONNXAttribute] = [], sampleShape: [Int]
    ) -> ONNXValue {
        let name = uniqueName(scope.isEmpty ? opType : "\(scope)/\(opType)")
        nodes.append(Node(opType: opType, name: name, inputs: inputs, outputs: [name], attributes: attributes))
        return ONNXValue(name: name, sampleShape: sampleShape)
    }

    /// Adds `parameter` as an initializer under its state_dict name; returns that name.
    public mutating func parameter<Scalar: KernelScalar>(_ parameter: Parameter<Scalar>) -> String {
        constant(
            parameter.name, shape: parameter.value.shape, values: parameter.value.scalars.map { Float($0.doubleValue) })
    }

    /// Adds a floating-point `buffer` (BatchNorm's running statistics) as an initializer under
    /// its state_dict name; returns that name.
    public mutating func buffer<Scalar: KernelScalar>(_ buffer: Buffer<Scalar>) -> String {
        precondition(!buffer.isInteger, "\(buffer.name): integer buffers are not read by any ONNX node")
        return constant(buffer.name, shape: buffer.shape, values: buffer.values.scalars.map { Float($0.doubleValue) })
    }

    /// Adds a constant called `SCOPE.localName` (a tensor the layer needs that is not part of
    /// its state, such as BatchNorm's γ = 1 without affine); returns its name.
    public mutating func constant(_ localName: String, shape: [Int], values: [Float]) -> String {
        precondition(values.count == shape.reduce(1, *), "\(localName): \(values.count) values for \(shape)")
        let name = scope.isEmpty ? localName : "\(scope).\(localName)"
        precondition(!names.contains(name), "ONNX initializer \(name) added twice")
        names.insert(name)
        initializers.append(Initializer(name: name, shape: shape, values: values))
        return name
    }

    /// Raises the model's opset to at least `version` (when a node's meaning or shape rule
    /// differs in earlier ones).
    public mutating func requireOpset(_ version: Int) {
        opset = max(opset, version)
    }

    /// Makes `value` the graph's output under `name`: its producing node is renamed (an
    /// Identity node is added when the value is the graph's input itself).
    mutating func finish(_ value: ONNXValue, as name: String) -> ONNXValue {
        precondition(!names.contains(name), "ONNX value \(name) already exists")
        if value.name == input.name {
            nodes.append(Node(opType: "Identity", name: name, inputs: [value.name], outputs: [name], attributes: []))
        } else {
            for index in nodes.indices {
                nodes[index].inputs = nodes[index].inputs.map { $0 == value.name ? name : $0 }
                nodes[index].outputs = nodes[index].outputs.map { $0 == value.name ? name : $0 }
            }
        }
        names.insert(name)
        return ONNXValue(name: name, sampleShape: value.sampleShape)
    }

    /// `base`, or `base_2`, `base_3`, … when taken.
    private mutating func uniqueName(_ base: String) -> String {
        var name = base
        var number = 2
        while names.contains(name) {
            name = "\(base)_\(number)"
            number += 1
        }
        names.insert(name)
        return name
    }
}
