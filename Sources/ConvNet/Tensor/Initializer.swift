/// How a layer's weights are drawn.
///
/// `fanIn` is inputs per output unit (C·kh·kw for a convolution), `fanOut` outputs per input
/// unit (F·kh·kw).
public enum Initializer: Sendable, Equatable {
    /// The classic `weightScale * randn(...)`.
    case scaledNormal(weightScale: Double)
    /// He (Kaiming) normal: standard deviation √(2 / fanIn), for ReLU networks.
    case heNormal
    /// He (Kaiming) uniform: U(−a, a), a = √(6 / fanIn) (`kaiming_uniform_(a=0)`).
    case heUniform
    /// Xavier (Glorot) uniform: U(−a, a), a = √(6 / (fanIn + fanOut)).
    case xavierUniform
    /// PyTorch's default for Linear and Conv2d: U(−1/√fanIn, 1/√fanIn).
    case pytorchDefault
    /// All zeros.
    case zeros

    /// A tensor of `shape` drawn from this distribution.
    public func makeTensor<Scalar: KernelScalar>(
        shape: [Int], fanIn: Int, fanOut: Int, random: inout SeededRandom
    ) -> Tensor<Scalar> {
        let count = shape.reduce(1, *)
        var values = [Scalar]()
        values.reserveCapacity(count)
        switch self {
        case .scaledNormal(let weightScale):
            for _ in 0..<count { values.append(Scalar(weightScale * random.normal())) }
        case .heNormal:
            let deviation = (2.0 / Double(max(fanIn, 1))).squareRoot()
            for _ in 0..<count { values.append(Scalar(deviation * random.normal())) }
        case .heUniform:
            let limit = (6.0 / Double(max(fanIn, 1))).squareRoot()
            for _ in 0..<count { values.append(Scalar(random.uniform(in: -limit, limit))) }
        case .xavierUniform:
            let limit = (6.0 / Double(max(fanIn + fanOut, 1))).squareRoot()
            for _ in 0..<count { values.append(Scalar(random.uniform(in: -limit, limit))) }
        case .pytorchDefault:
            let limit = 1 / Double(max(fanIn, 1)).squareRoot()
            for _ in 0..<count { values.append(Scalar(random.uniform(in: -limit, limit))) }
        case .zeros:
            values = [Scalar](repeating: 0, count: count)
        }
        return Tensor(uncheckedShape: shape, scalars: values)
    }

    /// The scheme a command line names: `pytorch` (PyTorch's default: kaiming-uniform with
    /// a = √5, i.e. U(±1/√fanIn), and biases U(±1/√fanIn)), `he-normal`, `he-uniform`,
    /// `xavier` (Glorot uniform) or `weight-scale` (weightScale·N(0, 1), the classic nets').
    public init(named name: String, weightScale: Double = 1e-3) throws {
        switch name.lowercased() {
        case "pytorch", "default": self = .pytorchDefault
        case "he-normal", "he", "kaiming-normal": self = .heNormal
        case "he-uniform", "kaiming-uniform": self = .heUniform
        case "xavier", "glorot", "xavier-uniform": self = .xavierUniform
        case "weight-scale", "scaled-normal":
            guard weightScale.isFinite, weightScale > 0 else {
                throw ConvNetError.invalidArgument("weight scale must be > 0, found \(weightScale)")
            }
            self = .scaledNormal(weightScale: weightScale)
        default:
            throw ConvNetError.invalidArgument(
                "unknown initialisation scheme '\(name)'; use pytorch, he-normal, he-uniform, xavier or weight-scale")
        }
    }

    /// The initializer for biases that goes with this one: PyTorch's default draws biases
    /// from the same U(−1/√fanIn, 1/√fanIn); every other scheme starts biases at zero.
    public var biasInitializer: Initializer {
        self == .pytorchDefault ? .pytorchDefault : .zeros
    }
}
