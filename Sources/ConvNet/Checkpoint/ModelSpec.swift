/// A network written as text, e.g.
/// `conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)`: a `Sequential` of
/// layers whose input size is inferred from the data.
///
/// Grammar (case-insensitive; layers are separated by spaces, `,`, `;` or `->`):
///
///     spec     := layer { separator layer }
///     layer    := name [ "(" arguments ")" ]
///     arguments:= argument { "," argument }            for most layers
///               | spec { "|" spec }                     for containers (res)
///     argument := value | key "=" value
///     value    := integer | number | true | false
///
/// The layer names, their arguments and defaults come from `LayerRegistry` (each layer kind
/// supplies its own row); `convnet train --help` and the README list them. In-channels of
/// `conv` and in-features of `dense` come from the shape flowing through the network, starting
/// at the sample shape of the data ([C, H, W] or [D]); shapes are each layer's own
/// `outputShape(forInputShape:)`. Parameter names follow the layer index, as in
/// `nn.Sequential`: the spec above has `0.weight`, `0.bias`, `4.weight`, …
///
/// Errors name the offending token and its 1-based character position.
public struct ModelSpec: Sendable, Equatable, CustomStringConvertible {
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

    /// The canonical text: layers separated by single spaces, defaults left out; parsing it
    /// gives the same spec.
    public var description: String { layers.map(\.text).joined(separator: " ") }

    // MARK: Parsing

    /// Parses `text`; throws `ConvNetError.invalidArgument` naming the bad token and position.
    public init(parsing text: String) throws {
        var parser = try SpecParser(text: text)
        let (layers, positions) = try parser.parseSequence(nested: false)
        guard parser.atEnd else { throw parser.fail(parser.current, "expected a layer name") }
        guard !layers.isEmpty else {
            throw ConvNetError.invalidArgument("model spec '\(excerpt(text, limit: 200))' has no layers")
        }
        self.layers = layers
        self.source = text
        self.positions = positions
    }

    init(layers: [LayerSpec], source: String, positions: [Int]) {
        self.layers = layers
        self.source = source
        self.positions = positions
    }

    // MARK: Shapes and building

    /// Prefixes a layer's error with the spec, the layer's index and its position.
    private func layerError(_ index: Int, _ error: Error) -> ConvNetError {
        let what = (error as? ConvNetError)?.message ?? "\(error)"
        // An error inside a nested spec already names its own layer and position.
        if what.hasPrefix("model spec '") { return .shapeMismatch(what) }
        let place = index < positions.count ? " at position \(positions[index])" : ""
        let spec = "model spec '\(excerpt(source ?? description, limit: 200))'"
        return .shapeMismatch("\(spec): layer \(index) '\(layers[index].text)'\(place): \(what)")
    }

    /// Builds the layers for samples of `inputShape` with `context`'s initializer and generator.
    func makeLayers<Scalar: KernelScalar>(
        inputShape: [Int], context: inout LayerBuildContext, scalar: Scalar.Type = Scalar.self
    ) throws -> [any Layer<Scalar>] {
        let limits = ReaderLimits.current
        try limits.checkSample(inputShape, "input shape")
        var shape = inputShape
        var built: [any Layer<Scalar>] = []
        var parameterCount = 0
        for (index, layer) in layers.enumerated() {
            do {
                let made: any Layer<Scalar> = try layer.kind.makeLayer(
                    layer.arguments, inputShape: shape, context: &context)
                shape = try made.outputShape(forInputShape: shape)
                try limits.checkSample(shape, "its output")
                parameterCount += made.parameters.reduce(0) { $0 + $1.value.count }
                guard parameterCount <= 2 * limits.maximumTensorElements else {
                    throw ConvNetError.invalidArgument(
                        "the network reaches \(parameterCount) parameters here, above the limit of \(2 * limits.maximumTensorElements) "
                            + "(twice CONVNET_MAX_TENSOR_ELEMENTS)")
                }
                built.append(made)
            } catch {
                throw layerError(index, error)
            }
        }
        return built
    }

    /// Builds the network for samples of `inputShape` ([C, H, W] or [D]); weights from
    /// `initializer` with a generator seeded by `seed`.
    public func makeNetwork<Scalar: KernelScalar>(
        inputShape: [Int], initializer: Initializer = .heNormal, seed: UInt64 = 0, scalar: Scalar.Type = Scalar.self
    ) throws -> Sequential<Scalar> {
        var context = LayerBuildContext(initializer: initializer, seed: seed)
        return Sequential(try makeLayers(inputShape: inputShape, context: &context))
    }

    /// The per-sample shape after each layer for samples of `inputShape`; throws naming the
    /// first layer that does not fit.
    public func layerShapes(forInputShape inputShape: [Int]) throws -> [[Int]] {
        let network: Sequential<Float> = try makeNetwork(inputShape: inputShape, initializer: .zeros)
        return try network.layerShapes(forInputShape: inputShape)
    }

    /// The shape of one output sample.
    public func outputShape(forInputShape inputShape: [Int]) throws -> [Int] {
        try layerShapes(forInputShape: inputShape).last ?? inputShape
    }

    /// The spec of an existing network (each layer describes itself).
    public init<Scalar: KernelScalar>(describing network: Sequential<Scalar>) throws {
        self.init(layers: network.layers.map(\.specification))
    }

    /// The equivalent PyTorch module, e.g. `nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), ...)`
    /// for samples of `inputShape` (for documentation and interop tests).
    public func pytorchSource(inputShape: [Int]) throws -> String {
        let network: Sequential<Float> = try makeNetwork(inputShape: inputShape, initializer: .zeros)
        return network.pytorchModule
    }
}

/// What building a layer from a spec draws on: the initializer and the generator of the
/// weights (and of the seeds of random streams such as Dropout's).
public struct LayerBuildContext {
    /// How weights are drawn.
    public var initializer: Initializer
    /// The generator, advanced by every layer that draws.
    public var random: SeededRandom

    /// A context seeded by `seed`.
    public init(initializer: Initializer = .heNormal, seed: UInt64 = 0) {
        self.initializer = initializer
        self.random = SeededRandom(seed: seed)
    }
}

/// One layer of a model spec: its kind's token and the value of every argument (defaults
/// filled in), e.g. `conv` with filters 32, kernel 7, stride 1, padding 3, …
public struct LayerSpec: Sendable, Equatable, CustomStringConvertible {
    /// The kind's canonical token (`conv`, `bn`, `res`, …).
    public let token: String
    /// Every argument by its name in the kind's table.
    public let arguments: SpecArguments

    /// A layer spec; unknown tokens or arguments are programming errors (layers describing
    /// themselves), checked against the registry.
    public init(token: String, arguments: [String: SpecValue] = [:]) {
        precondition(LayerRegistry.kind(named: token) != nil, "layer kind '\(token)' is not in LayerRegistry")
        self.token = token
        self.arguments = SpecArguments(values: arguments)
    }

    init(token: String, arguments: SpecArguments) {
        self.token = token
        self.arguments = arguments
    }

    /// The registry row of this layer's kind.
    public var kind: any LayerKind { LayerRegistry.kind(named: token)! }

    /// The canonical text: `conv(32,k=7,p=3)`, `maxpool(2)`, `res(conv(16,k=3,p=1) bn | …)`.
    public var text: String {
        let parameters = kind.parameters
        var pieces: [String] = []
        if let first = parameters.first, case .layers = first.kind {
            pieces = parameters.compactMap { parameter in
                guard case .spec(let spec)? = arguments.values[parameter.name] else { return nil }
                return spec.layers.isEmpty ? nil : spec.description
            }
            return token + "(" + pieces.joined(separator: " | ") + ")"
        }
        for (position, parameter) in parameters.enumerated() {
            guard let value = arguments.values[parameter.name] else { continue }
            if !parameter.alwaysPrinted, let fallback = parameter.defaultValue(given: arguments.values),
                fallback == value
            {
                continue
            }
            pieces.append(position == 0 && parameter.isPositional ? value.description : "\(parameter.key)=\(value)")
        }
        return pieces.isEmpty ? token : token + "(" + pieces.joined(separator: ",") + ")"
    }

    public var description: String { text }
}

/// A value in a model spec.
public enum SpecValue: Sendable, Equatable, CustomStringConvertible {
    case integer(Int)
    case number(Double)
    case flag(Bool)
    /// Nested layers (a residual block's branches).
    case spec(ModelSpec)

    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .number(let value): return "\(value)"
        case .flag(let value): return value ? "true" : "false"
        case .spec(let spec): return spec.description
        }
    }
}

/// The arguments of one layer by name, defaults filled in.
public struct SpecArguments: Sendable, Equatable {
    /// Values by the argument's name in the kind's table.
    public var values: [String: SpecValue]

    public init(values: [String: SpecValue]) { self.values = values }

    /// A whole-number argument (0 when absent: the table gives every default).
    public func integer(_ name: String) -> Int {
        if case .integer(let value)? = values[name] { return value }
        return 0
    }

    /// A real-number argument.
    public func number(_ name: String) -> Double {
        switch values[name] {
        case .number(let value)?: return value
        case .integer(let value)?: return Double(value)
        default: return 0
        }
    }

    /// A true/false argument.
    public func flag(_ name: String) -> Bool {
        if case .flag(let value)? = values[name] { return value }
        return false
    }

    /// A nested-layers argument (empty when absent).
    public func layers(_ name: String) -> ModelSpec {
        if case .spec(let spec)? = values[name] { return spec }
        return ModelSpec(layers: [])
    }
}

/// One argument in a layer kind's table.
public struct SpecParameter: Sendable {
    /// What values it takes.
    public enum Kind: Sendable {
        /// A whole number in `range`.
        case integer(ClosedRange<Int>)
        /// A real number in `range` (integers accepted).
        case number(ClosedRange<Double>)
        /// true / false (or 1 / 0).
        case flag
        /// Nested layers (containers).
        case layers
    }

    /// What it defaults to.
    public enum Default: Sendable {
        /// It must be given.
        case required(hint: String)
        /// A fixed value.
        case value(SpecValue)
        /// The value of another argument (pooling's stride defaults to its kernel).
        case sameAs(String)
    }

    /// Its name in errors and in `SpecArguments` (`kernel`).
    public let name: String
    /// What it is called in a spec; the first one is used when printing (`k`, `kernel`, …).
    public let aliases: [String]
    public let kind: Kind
    public let fallback: Default
    /// Whether it may be given without its key, in table order.
    public let isPositional: Bool
    /// Whether the canonical text shows it even at its default (a convolution's kernel size).
    public let alwaysPrinted: Bool

    public init(
        _ name: String, aliases: [String] = [], kind: Kind, default fallback: Default, positional: Bool = true,
        alwaysPrinted: Bool = false
    ) {
        self.name = name
        self.aliases = aliases.isEmpty ? [name] : aliases
        self.kind = kind
        self.fallback = fallback
        self.isPositional = positional
        self.alwaysPrinted = alwaysPrinted
    }

    /// The key used when printing.
    public var key: String { aliases[0] }

    /// The default given the other arguments, or nil when required.
    func defaultValue(given values: [String: SpecValue]) -> SpecValue? {
        switch fallback {
        case .required: return nil
        case .value(let value): return value
        case .sameAs(let other): return values[other]
        }
    }
}

/// A row of `LayerRegistry`: what a layer kind is called in a spec, what it takes, and how it
/// is built. Each layer's file defines its own kind next to the layer.
public protocol LayerKind: Sendable {
    /// The canonical token, e.g. `conv`.
    var token: String { get }
    /// Other names for it (`conv2d`).
    var aliases: [String] { get }
    /// Its arguments, positional ones first, in order.
    var parameters: [SpecParameter] { get }
    /// Checks arguments against each other (after defaults); throws a message.
    func validate(_ arguments: SpecArguments) throws
    /// Builds the layer for samples of `inputShape`.
    func makeLayer<Scalar: KernelScalar>(
        _ arguments: SpecArguments, inputShape: [Int], context: inout LayerBuildContext
    ) throws -> any Layer<Scalar>
}

extension LayerKind {
    public var aliases: [String] { [] }
    public var parameters: [SpecParameter] { [] }
    public func validate(_ arguments: SpecArguments) throws {}

    /// One line for help texts: `conv(filters, k=3, s=1, p=0, d=1, g=1, bias=true)`,
    /// `res(BODY | SHORTCUT)`.
    public var usage: String {
        if let first = parameters.first, case .layers = first.kind {
            return token + "(" + parameters.map { $0.name.uppercased() }.joined(separator: " | ") + ")"
        }
        let list = parameters.map { parameter -> String in
            switch parameter.fallback {
            case .required: return parameter.name
            case .value(let value): return "\(parameter.key)=\(value)"
            case .sameAs(let other): return "\(parameter.key)=" + (parameters.first { $0.name == other }?.key ?? other)
            }
        }
        return list.isEmpty ? token : token + "(" + list.joined(separator: ", ") + ")"
    }
}

/// Checks that a sample shape is [C, H, W].
func requireImageShape(_ shape: [Int]) throws {
    guard shape.count == 3 else {
        throw ConvNetError.shapeMismatch("needs input [C, H, W], found \(describe(shape))")
    }
}

// MARK: - The parser

private struct SpecToken {
    enum Kind: Equatable { case word, number, open, close, comma, equals, separator, bar, end }
    var kind: Kind
    var text: String
    var position: Int
}

private struct SpecParser {
    let text: String
    let tokens: [SpecToken]
    var index = 0
    /// How many containers (`res(…)`, `seq(…)`) enclose the current token.
    var depth = 0
    /// The deepest nesting of containers a spec may have.
    static let maximumDepth = 32

    init(text: String) throws {
        self.text = text
        tokens = try SpecParser.tokenize(text)
    }

    var current: SpecToken { tokens[index] }
    var atEnd: Bool { current.kind == .end }

    func fail(_ token: SpecToken, _ what: String) -> ConvNetError {
        .invalidArgument(
            "model spec '\(excerpt(text, limit: 200))': \(what) at position \(token.position) ('\(excerpt(token.text))')"
        )
    }

    static func tokenize(_ text: String) throws -> [SpecToken] {
        let scalars = Array(text.unicodeScalars)
        func isDigit(_ i: Int) -> Bool { i < scalars.count && ("0"..."9").contains(scalars[i]) }
        var tokens: [SpecToken] = []
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            let position = i + 1
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
            } else if c.properties.isAlphabetic || c == "_" {
                var j = i
                while j < scalars.count, scalars[j].properties.isAlphabetic || scalars[j] == "_" || isDigit(j) {
                    j += 1
                }
                tokens.append(
                    SpecToken(kind: .word, text: String(String.UnicodeScalarView(scalars[i..<j])), position: position))
                i = j
            } else if isDigit(i)
                || (c == "-" || c == ".")
                    && (isDigit(i + 1) || scalars.indices.contains(i + 1) && scalars[i + 1] == "." && isDigit(i + 2))
            {
                // An integer or a decimal number: -?digits[.digits][e[+-]digits]
                var j = i + 1
                while isDigit(j) || j < scalars.count && scalars[j] == "." { j += 1 }
                if j < scalars.count, scalars[j] == "e" || scalars[j] == "E",
                    isDigit(j + 1)
                        || (j + 1 < scalars.count && (scalars[j + 1] == "-" || scalars[j + 1] == "+") && isDigit(j + 2))
                {
                    j += 2
                    while isDigit(j) { j += 1 }
                }
                tokens.append(
                    SpecToken(kind: .number, text: String(String.UnicodeScalarView(scalars[i..<j])), position: position)
                )
                i = j
            } else if c == "-" && i + 1 < scalars.count && scalars[i + 1] == ">" {
                tokens.append(SpecToken(kind: .separator, text: "->", position: position))
                i += 2
            } else {
                let kind: SpecToken.Kind
                switch c {
                case "(": kind = .open
                case ")": kind = .close
                case ",": kind = .comma
                case "=": kind = .equals
                case ";": kind = .separator
                case "|": kind = .bar
                default:
                    throw ConvNetError.invalidArgument(
                        "model spec '\(excerpt(text, limit: 200))': unexpected character '\(excerpt(String(c)))' at position \(position)"
                    )
                }
                tokens.append(SpecToken(kind: kind, text: String(c), position: position))
                i += 1
            }
        }
        tokens.append(SpecToken(kind: .end, text: "end of spec", position: scalars.count + 1))
        return tokens
    }

    /// Layers up to the end, or (nested) up to a `|` or `)`.
    mutating func parseSequence(nested: Bool) throws -> ([LayerSpec], [Int]) {
        var layers: [LayerSpec] = []
        var positions: [Int] = []
        while true {
            switch current.kind {
            case .separator, .comma:
                index += 1
                continue
            case .end:
                return (layers, positions)
            case .bar, .close:
                if nested { return (layers, positions) }
                throw fail(current, "expected a layer name")
            case .word:
                positions.append(current.position)
                layers.append(try parseLayer())
                let next = current
                guard
                    [.separator, .comma, .end, .word].contains(next.kind)
                        || nested && [.bar, .close].contains(next.kind)
                else {
                    throw fail(next, "expected a layer name")
                }
            default:
                throw fail(current, "expected a layer name")
            }
        }
    }

    mutating func parseLayer() throws -> LayerSpec {
        let nameToken = current
        guard let kind = LayerRegistry.kind(named: nameToken.text.lowercased()) else {
            throw fail(
                nameToken, "unknown layer (use " + LayerRegistry.kinds.map(\.token).joined(separator: ", ") + ")")
        }
        index += 1
        let parameters = kind.parameters
        var values: [String: SpecValue] = [:]
        if current.kind == .open {
            guard !parameters.isEmpty else { throw fail(current, "\(kind.token) takes no arguments") }
            index += 1
            if case .layers = parameters[0].kind {
                try parseBranches(kind: kind, into: &values)
            } else {
                try parseArguments(kind: kind, into: &values)
            }
        }
        // Defaults, in table order (so that `sameAs` sees the arguments before it).
        for parameter in parameters where values[parameter.name] == nil {
            switch parameter.fallback {
            case .required(let hint): throw fail(nameToken, "\(kind.token) needs \(hint)")
            case .value(let value): values[parameter.name] = value
            case .sameAs(let other): values[parameter.name] = values[other]
            }
        }
        let arguments = SpecArguments(values: values)
        do {
            try kind.validate(arguments)
        } catch {
            throw fail(nameToken, (error as? ConvNetError)?.message ?? "\(error)")
        }
        return LayerSpec(token: kind.token, arguments: arguments)
    }

    /// `spec | spec | …)` for a container.
    mutating func parseBranches(kind: any LayerKind, into values: inout [String: SpecValue]) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= SpecParser.maximumDepth else {
            throw fail(current, "containers nest deeper than the limit of \(SpecParser.maximumDepth)")
        }
        var branch = 0
        while true {
            let (layers, positions) = try parseSequence(nested: true)
            guard branch < kind.parameters.count else {
                throw fail(current, "too many branches for \(kind.token) (at most \(kind.parameters.count))")
            }
            values[kind.parameters[branch].name] = .spec(ModelSpec(layers: layers, source: text, positions: positions))
            branch += 1
            if current.kind == .bar {
                index += 1
                continue
            }
            guard current.kind == .close else { throw fail(current, "expected '|' or ')'") }
            index += 1
            return
        }
    }

    /// `value, key=value, …)`.
    mutating func parseArguments(kind: any LayerKind, into values: inout [String: SpecValue]) throws {
        let parameters = kind.parameters
        var positional = 0
        var sawKey = false
        while current.kind != .close {
            let token = current
            let parameter: SpecParameter
            if token.kind == .word, index + 1 < tokens.count, tokens[index + 1].kind == .equals {
                guard let match = parameters.first(where: { $0.aliases.contains(token.text.lowercased()) }) else {
                    throw fail(
                        token,
                        "unknown argument for \(kind.token) (accepted: "
                            + parameters.map(\.key).joined(separator: ", ") + ")")
                }
                parameter = match
                index += 2
                sawKey = true
            } else if token.kind == .number || token.kind == .word {
                if token.kind == .word, !["true", "false"].contains(token.text.lowercased()) {
                    throw fail(
                        token,
                        "unknown argument for \(kind.token) (accepted: "
                            + parameters.map(\.key).joined(separator: ", ") + ")")
                }
                guard !sawKey else { throw fail(token, "positional argument after a keyword argument") }
                let positionals = parameters.filter(\.isPositional)
                guard positional < positionals.count else {
                    throw fail(token, "too many arguments for \(kind.token) (at most \(positionals.count))")
                }
                parameter = positionals[positional]
                positional += 1
            } else {
                throw fail(token, "expected an argument")
            }
            let valueToken = current
            guard values[parameter.name] == nil else { throw fail(valueToken, "\(parameter.name) given twice") }
            values[parameter.name] = try value(of: valueToken, for: parameter)
            index += 1
            if current.kind == .comma {
                index += 1
                guard current.kind != .close else { throw fail(current, "expected an argument") }
            } else if current.kind != .close {
                throw fail(current, "expected ',' or ')'")
            }
        }
        index += 1
    }

    func value(of token: SpecToken, for parameter: SpecParameter) throws -> SpecValue {
        switch parameter.kind {
        case .integer(let range):
            guard token.kind == .number, let value = Int(token.text) else {
                throw fail(token, "expected a whole number")
            }
            guard range.contains(value) else {
                let rule =
                    range.lowerBound == 0 ? "≥ 0" : range.lowerBound == 1 ? "positive" : "at least \(range.lowerBound)"
                throw fail(
                    token,
                    "\(parameter.name) must be \(rule)"
                        + (range.upperBound < Int.max ? " and at most \(range.upperBound)" : ""))
            }
            return .integer(value)
        case .number(let range):
            guard token.kind == .number, let value = Double(token.text), value.isFinite else {
                throw fail(token, "expected a number")
            }
            guard range.contains(value) else {
                throw fail(token, "\(parameter.name) must be in [\(range.lowerBound), \(range.upperBound)]")
            }
            return .number(value)
        case .flag:
            switch token.text.lowercased() {
            case "1", "true": return .flag(true)
            case "0", "false": return .flag(false)
            default: throw fail(token, "\(parameter.name) takes true or false (1 or 0)")
            }
        case .layers:
            throw fail(token, "expected layers")
        }
    }
}
