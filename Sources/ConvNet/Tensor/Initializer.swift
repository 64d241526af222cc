/// How a layer's weights are drawn.
///
/// `fanIn` is inputs per output unit (C·kh·kw for a convolution), `fanOut` outputs per input
/// unit (F·kh·kw).
public enum Initializer: Sendable, Equatable {
    /// The classic `weightScale * randn(...)`.
    case scaledNormal(weightScale: Double)
    /// He (Kaiming) normal: standard deviation √(2 / fanIn), for ReLU networks.
    case heNormal
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

    /// The initializer for biases that goes with this one: PyTorch's default draws biases
    /// from the same U(−1/√fanIn, 1/√fanIn); every other scheme starts biases at zero.
    public var biasInitializer: Initializer {
        self == .pytorchDefault ? .pytorchDefault : .zeros
    }
}
