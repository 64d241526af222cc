/// A network written as text, e.g.
/// `conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)`: a `Sequential` of the
/// supported layers whose input size is inferred from the data.
///
/// Grammar (case-insensitive; layers are separated by spaces, `,`, `;` or `->`):
///
///     spec     := layer { separator layer }
///     layer    := name [ "(" argument { "," argument } ")" ]
///     argument := integer | key "=" integer
///
/// | layer | arguments (positional order, then keys) | PyTorch module |
/// | --- | --- | --- |
/// | `conv` (`conv2d`) | filters, k, s, p — keys `f`/`filters`, `k`/`kernel`, `s`/`stride`, `p`/`padding`; k = 3, s = 1, p = 0 by default | `nn.Conv2d(C, filters, k, stride=s, padding=p)` |
/// | `maxpool` (`pool`) | k, s, p; k = 2, s = k, p = 0 | `nn.MaxPool2d(k, s, p)` |
/// | `avgpool` | k, s, p; as maxpool | `nn.AvgPool2d(k, s, p)` |
/// | `dense` (`linear`, `fc`) | units (`n`/`units`), required | `nn.Linear(D, units)` |
/// | `relu`, `sigmoid`, `tanh`, `flatten` | none | `nn.ReLU()`, `nn.Sigmoid()`, `nn.Tanh()`, `nn.Flatten()` |
///
/// In-channels of `conv` and in-features of `dense` come from the shape flowing through the
/// network, starting at the sample shape of the data ([C, H, W] or [D]). A `dense` whose input
/// has more than one dimension needs a `flatten` before it (PyTorch's `nn.Linear` would not
/// flatten, and the layer indices of the state_dict must match). Parameter names follow the
/// layer index, as in `nn.Sequential`: the spec above has `0.weight`, `0.bias`, `4.weight`,
/// `4.bias`, `6.weight`, `6.bias`.
///
/// Errors name the offending token and its 1-based character position.
public struct ModelSpec: Sendable, Equatable, CustomStringConvertible {
    /// One layer of a spec.
    public enum LayerSpec: Sendable, Equatable {
        /// `nn.Conv2d`: filters, square kernel, stride, zero padding.
        case conv(filters: Int, kernel: Int, stride: Int, padding: Int)
        /// `nn.MaxPool2d`.
        case maxPool(kernel: Int, stride: Int, padding: Int)
        /// `nn.AvgPool2d`.
        case avgPool(kernel: Int, stride: Int, padding: Int)
        /// `nn.Linear` with this many outputs.
        case dense(units: Int)
        /// `nn.ReLU`.
        case relu
        /// `nn.Sigmoid`.
        case sigmoid
        /// `nn.Tanh`.
        case tanh
        /// `nn.Flatten`.
        case flatten

        /// The canonical text, defaults left out: `conv(32,k=7,p=3)`, `maxpool(2)`, `dense(10)`.
        public var text: String {
            switch self {
            case .conv(let f, let k, let s, let p):
                return "conv(\(f),k=\(k)" + (s != 1 ? ",s=\(s)" : "") + (p != 0 ? ",p=\(p)" : "") + ")"
            case .maxPool(let k, let s, let p): return "maxpool" + ModelSpec.poolArguments(k, s, p)
            case .avgPool(let k, let s, let p): return "avgpool" + ModelSpec.poolArguments(k, s, p)
            case .dense(let n): return "dense(\(n))"
            case .relu: return "relu"
            case .sigmoid: return "sigmoid"
            case .tanh: return "tanh"
            case .flatten: return "flatten"
            }
        }
    }

    /// The layers, first applied first.
    public var layers: [LayerSpec]
    /// The text the spec was parsed from (for error messages), if any.
    public let source: String?
    /// 1-based character position of each layer's name in `source`.
    let positions: [Int]

    /// A spec from layers.
    public init(layers: [LayerSpec]) {
        self.layers = layers
        self.source = nil
        self.positions = []
    }

    public static func == (a: ModelSpec, b: ModelSpec) -> Bool { a.layers == b.layers }

    /// The canonical text: layers separated by single spaces; parsing it gives the same spec.
    public var description: String { layers.map(\.text).joined(separator: " ") }

    static func poolArguments(_ k: Int, _ s: Int, _ p: Int) -> String {
        "(\(k)" + (s != k ? ",s=\(s)" : "") + (p != 0 ? ",p=\(p)" : "") + ")"
    }

    // MARK: Parsing

    private struct Token {
        enum Kind: Equatable { case word, number, open, close, comma, equals, separator, end }
        var kind: Kind
        var text: String
        var position: Int
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            let position = i + 1
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
            } else if c.properties.isAlphabetic || c == "_" {
                var j = i
                while j < scalars.count, scalars[j].properties.isAlphabetic || scalars[j] == "_" || ("0"..."9").contains(scalars[j]) { j += 1 }
                tokens.append(Token(kind: .word, text: String(String.UnicodeScalarView(scalars[i..<j])), position: position))
                i = j
            } else if ("0"..."9").contains(c) || c == "-" && i + 1 < scalars.count && ("0"..."9").contains(scalars[i + 1]) {
                var j = i + 1
                while j < scalars.count, ("0"..."9").contains(scalars[j]) { j += 1 }
                tokens.append(Token(kind: .number, text: String(String.UnicodeScalarView(scalars[i..<j])), position: position))
                i = j
            } else if c == "-" && i + 1 < scalars.count && scalars[i + 1] == ">" {
                tokens.append(Token(kind: .separator, text: "->", position: position))
                i += 2
            } else {
                let kind: Token.Kind
                switch c {
                case "(": kind = .open
                case ")": kind = .close
                case ",": kind = .comma
                case "=": kind = .equals
                case ";", "|": kind = .separator
                default:
                    throw ConvNetError.invalidArgument(
                        "model spec '\(text)': unexpected character '\(c)' at position \(position)")
                }
                tokens.append(Token(kind: kind, text: String(c), position: position))
                i += 1
            }
        }
        tokens.append(Token(kind: .end, text: "end of spec", position: scalars.count + 1))
        return tokens
    }

    /// Argument names per layer, in positional order, with their aliases.
    private static let argumentNames: [String: [(name: String, aliases: [String])]] = [
        "conv": [("filters", ["f", "filters", "out", "channels"]), ("kernel", ["k", "kernel", "kernel_size"]),
                 ("stride", ["s", "stride"]), ("padding", ["p", "pad", "padding"])],
        "pool": [("kernel", ["k", "kernel", "kernel_size"]), ("stride", ["s", "stride"]), ("padding", ["p", "pad", "padding"])],
        "dense": [("units", ["n", "units", "out", "out_features"])],
    ]

    private static let layerNames: [String: String] = [
        "conv": "conv", "conv2d": "conv", "maxpool": "maxpool", "pool": "maxpool", "maxpool2d": "maxpool",
        "avgpool": "avgpool", "avgpool2d": "avgpool", "dense": "dense", "linear": "dense", "fc": "dense",
        "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "flatten": "flatten",
    ]

    /// Parses `text`; throws `ConvNetError.invalidArgument` naming the bad token and position.
    public init(parsing text: String) throws {
        let tokens = try ModelSpec.tokenize(text)
        func fail(_ token: Token, _ what: String) -> ConvNetError {
            .invalidArgument("model spec '\(text)': \(what) at position \(token.position) ('\(token.text)')")
        }
        var layers: [LayerSpec] = []
        var positions: [Int] = []
        var index = 0
        while tokens[index].kind != .end {
            if tokens[index].kind == .separator || tokens[index].kind == .comma {
                index += 1
                continue
            }
            let nameToken = tokens[index]
            guard nameToken.kind == .word else { throw fail(nameToken, "expected a layer name") }
            guard let name = ModelSpec.layerNames[nameToken.text.lowercased()] else {
                throw fail(nameToken, "unknown layer (use conv, maxpool, avgpool, dense, relu, sigmoid, tanh, flatten)")
            }
            index += 1
            // Arguments.
            let group = name == "conv" ? "conv" : name == "dense" ? "dense" : (name == "maxpool" || name == "avgpool") ? "pool" : ""
            let expected = ModelSpec.argumentNames[group] ?? []
            var values: [String: Int] = [:]
            if tokens[index].kind == .open {
                guard !expected.isEmpty else { throw fail(tokens[index], "\(name) takes no arguments") }
                index += 1
                var positional = 0
                var sawKey = false
                while tokens[index].kind != .close {
                    let token = tokens[index]
                    var slot: String
                    if token.kind == .word {
                        guard let match = expected.first(where: { $0.aliases.contains(token.text.lowercased()) }) else {
                            throw fail(token, "unknown argument for \(name) (accepted: "
                                + expected.map { $0.aliases.first! }.joined(separator: ", ") + ")")
                        }
                        slot = match.name
                        index += 1
                        guard tokens[index].kind == .equals else { throw fail(tokens[index], "expected '=' after '\(token.text)'") }
                        index += 1
                        sawKey = true
                    } else if token.kind == .number {
                        guard !sawKey else { throw fail(token, "positional argument after a keyword argument") }
                        guard positional < expected.count else {
                            throw fail(token, "too many arguments for \(name) (at most \(expected.count))")
                        }
                        slot = expected[positional].name
                        positional += 1
                    } else {
                        throw fail(token, "expected an argument")
                    }
                    let valueToken = tokens[index]
                    guard valueToken.kind == .number, let value = Int(valueToken.text) else {
                        throw fail(valueToken, "expected a whole number")
                    }
                    guard values[slot] == nil else { throw fail(valueToken, "\(slot) given twice") }
                    let minimum = slot == "padding" ? 0 : 1
                    guard value >= minimum, value <= 1 << 20 else {
                        throw fail(valueToken, "\(slot) must be \(minimum == 0 ? "≥ 0" : "positive")")
                    }
                    values[slot] = value
                    index += 1
                    if tokens[index].kind == .comma {
                        index += 1
                        guard tokens[index].kind != .close else { throw fail(tokens[index], "expected an argument") }
                    } else if tokens[index].kind != .close {
                        throw fail(tokens[index], "expected ',' or ')'")
                    }
                }
                index += 1
            }
            let layer: LayerSpec
            switch name {
            case "conv":
                guard let filters = values["filters"] else { throw fail(nameToken, "conv needs a filter count, e.g. conv(32,k=3)") }
                layer = .conv(filters: filters, kernel: values["kernel"] ?? 3, stride: values["stride"] ?? 1, padding: values["padding"] ?? 0)
            case "maxpool", "avgpool":
                let k = values["kernel"] ?? 2
                let s = values["stride"] ?? k
                let p = values["padding"] ?? 0
                guard p <= k / 2 else { throw fail(nameToken, "pooling padding \(p) exceeds half the kernel \(k)") }
                layer = name == "maxpool" ? .maxPool(kernel: k, stride: s, padding: p) : .avgPool(kernel: k, stride: s, padding: p)
            case "dense":
                guard let units = values["units"] else { throw fail(nameToken, "dense needs a unit count, e.g. dense(10)") }
                layer = .dense(units: units)
            case "relu": layer = .relu
            case "sigmoid": layer = .sigmoid
            case "tanh": layer = .tanh
            default: layer = .flatten
            }
            layers.append(layer)
            positions.append(nameToken.position)
            let next = tokens[index]
            guard [.separator, .comma, .end, .word].contains(next.kind) else {
                throw fail(next, "expected a layer name")
            }
        }
        guard !layers.isEmpty else {
            throw ConvNetError.invalidArgument("model spec '\(text)' has no layers")
        }
        self.layers = layers
        self.source = text
        self.positions = positions
    }

    // MARK: Shapes and building

    private func layerError(_ index: Int, _ what: String) -> ConvNetError {
        let place = index < positions.count ? " at position \(positions[index])" : ""
        let spec = source.map { "model spec '\($0)'" } ?? "model spec '\(description)'"
        return .shapeMismatch("\(spec): layer \(index) '\(layers[index].text)'\(place): \(what)")
    }

    /// The per-sample shape after each layer for samples of `inputShape`; throws naming the
    /// first layer that does not fit.
    public func layerShapes(forInputShape inputShape: [Int]) throws -> [[Int]] {
        var shape = inputShape
        var shapes: [[Int]] = []
        for (index, layer) in layers.enumerated() {
            switch layer {
            case .conv(_, let k, let s, let p), .maxPool(let k, let s, let p), .avgPool(let k, let s, let p):
                guard shape.count == 3 else {
                    throw layerError(index, "needs input [C, H, W], found \(describe(shape))")
                }
                var output = [0, 0]
                for axis in 0..<2 {
                    let span = shape[axis + 1] + 2 * p - k
                    guard span >= 0 else {
                        throw layerError(index, "input \(describe(shape)) is smaller than the \(k)×\(k) window")
                    }
                    if case .conv = layer, span % s != 0 {
                        throw layerError(index, "input \(describe(shape)) does not fit: (\(shape[axis + 1]) + 2·\(p) − \(k)) / \(s) is not whole")
                    }
                    output[axis] = span / s + 1
                }
                if case .conv(let filters, _, _, _) = layer {
                    shape = [filters, output[0], output[1]]
                } else {
                    shape = [shape[0], output[0], output[1]]
                }
            case .dense(let n):
                guard shape.count == 1 else {
                    throw layerError(index, "input \(describe(shape)) has \(shape.count) dimensions; put 'flatten' before dense (as nn.Linear needs)")
                }
                shape = [n]
            case .flatten:
                shape = [shape.reduce(1, *)]
            case .relu, .sigmoid, .tanh:
                break
            }
            shapes.append(shape)
        }
        return shapes
    }

    /// The shape of one output sample.
    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        try layerShapes(forInputShape: inputShape).last ?? inputShape
    }

    /// Builds the network for samples of `inputShape` ([C, H, W] or [D]); weights from
    /// `initializer` with a generator seeded by `seed`.
    public func makeNetwork<Scalar: KernelScalar>(
        inputShape: [Int], initializer: Initializer = .heNormal, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        let shapes = try layerShapes(forInputShape: inputShape)
        var random = SeededRandom(seed: seed)
        var built: [any Layer<Scalar>] = []
        for (index, layer) in layers.enumerated() {
            let input = index == 0 ? inputShape : shapes[index - 1]
            switch layer {
            case .conv(let f, let k, let s, let p):
                built.append(try Conv2D<Scalar>(
                    inputChannels: input[0], outputChannels: f, kernelSize: k, stride: s, padding: p,
                    initializer: initializer, random: &random))
            case .maxPool(let k, let s, let p): built.append(try MaxPool2D<Scalar>(kernelSize: k, stride: s, padding: p))
            case .avgPool(let k, let s, let p): built.append(try AvgPool2D<Scalar>(kernelSize: k, stride: s, padding: p))
            case .dense(let n):
                built.append(try Dense<Scalar>(inputSize: input[0], outputSize: n, initializer: initializer, random: &random))
            case .relu: built.append(ReLU<Scalar>())
            case .sigmoid: built.append(Sigmoid<Scalar>())
            case .tanh: built.append(Tanh<Scalar>())
            case .flatten: built.append(Flatten<Scalar>())
            }
        }
        return Sequential(built)
    }

    /// The spec of an existing network; throws when it holds a layer the language cannot
    /// express.
    public init<Scalar: KernelScalar>(describing network: Sequential<Scalar>) throws {
        var layers: [LayerSpec] = []
        for layer in network.layers {
            if let conv = layer as? Conv2D<Scalar> {
                layers.append(.conv(filters: conv.outputChannels, kernel: conv.kernelSize, stride: conv.stride, padding: conv.padding))
            } else if let pool = layer as? MaxPool2D<Scalar> {
                layers.append(.maxPool(kernel: pool.window.kernelSize, stride: pool.window.stride, padding: pool.window.padding))
            } else if let pool = layer as? AvgPool2D<Scalar> {
                layers.append(.avgPool(kernel: pool.window.kernelSize, stride: pool.window.stride, padding: pool.window.padding))
            } else if let dense = layer as? Dense<Scalar> {
                layers.append(.dense(units: dense.outputSize))
            } else if layer is ReLU<Scalar> {
                layers.append(.relu)
            } else if layer is Sigmoid<Scalar> {
                layers.append(.sigmoid)
            } else if layer is Tanh<Scalar> {
                layers.append(.tanh)
            } else if layer is Flatten<Scalar> {
                layers.append(.flatten)
            } else {
                throw ConvNetError.invalidArgument("layer \(layer) has no model-spec equivalent")
            }
        }
        self.init(layers: layers)
    }

    /// The equivalent PyTorch module, e.g. `nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), ...)`
    /// for samples of `inputShape` (for documentation and interop tests).
    public func pytorchSource(inputShape: [Int]) throws -> String {
        let shapes = try layerShapes(forInputShape: inputShape)
        var modules: [String] = []
        for (index, layer) in layers.enumerated() {
            let input = index == 0 ? inputShape : shapes[index - 1]
            switch layer {
            case .conv(let f, let k, let s, let p):
                modules.append("nn.Conv2d(\(input[0]), \(f), \(k), stride=\(s), padding=\(p))")
            case .maxPool(let k, let s, let p): modules.append("nn.MaxPool2d(\(k), stride=\(s), padding=\(p))")
            case .avgPool(let k, let s, let p): modules.append("nn.AvgPool2d(\(k), stride=\(s), padding=\(p))")
            case .dense(let n): modules.append("nn.Linear(\(input[0]), \(n))")
            case .relu: modules.append("nn.ReLU()")
            case .sigmoid: modules.append("nn.Sigmoid()")
            case .tanh: modules.append("nn.Tanh()")
            case .flatten: modules.append("nn.Flatten()")
            }
        }
        return "nn.Sequential(" + modules.joined(separator: ", ") + ")"
    }
}
