/// Central-difference gradient checks in Double (cs231n's `eval_numerical_gradient`), layer by
/// layer.
///
/// For a layer L, random input x and random upstream gradient dy, f(x) = Σ L(x) · dy, so
/// d f / d x is exactly what `L.backward(dy)` returns. Each element is moved by ±h and the
/// difference is summed element by element, Σ (L(x + h) − L(x − h)) · dy / 2h, which keeps
/// round-off far below the error being measured. The error is cs231n's relative error,
/// max |a − n| / max(1e−8, |a| + |n|).
public enum GradientCheck {
    /// The result for one layer.
    public struct LayerResult: Sendable {
        /// The layer's index in the network.
        public var index: Int
        /// Its description.
        public var layer: String
        /// Relative error of d loss / d input.
        public var inputError: Double
        /// Relative error of each parameter's gradient, by name (`weight`, `bias`).
        public var parameterErrors: [(name: String, error: Double)]
        /// The largest of them.
        public var largestError: Double { parameterErrors.map(\.error).reduce(inputError, max) }
    }

    /// cs231n's relative error between two gradients.
    public static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { worst, pair in
            max(worst, abs(pair.0 - pair.1) / max(1e-8, abs(pair.0) + abs(pair.1)))
        }
    }

    /// Checks one layer on a random batch of `inputShape` (batch dimension included).
    public static func check(
        _ layer: any Layer<Double>, inputShape: [Int], seed: UInt64 = 0, step: Double = 1e-5
    ) throws -> (inputError: Double, parameterErrors: [(name: String, error: Double)]) {
        var random = SeededRandom(seed: seed)
        let count = inputShape.reduce(1, *)
        let input = try Tensor<Double>(shape: inputShape, scalars: (0..<count).map { _ in random.normal() })
        // Layers that draw random numbers (Dropout) draw the same ones at every evaluation.
        let streams = layer.namedRandomStreams.map(\.stream)
        let generators = streams.map(\.generator)
        func evaluate(_ x: Tensor<Double>) throws -> Tensor<Double> {
            for (stream, generator) in zip(streams, generators) { stream.generator = generator }
            return try layer.forward(x)
        }
        let output = try evaluate(input)
        let upstream = Tensor<Double>(
            uncheckedShape: output.shape, scalars: (0..<output.count).map { _ in random.normal() })
        let analyticInput = try layer.backward(upstream)
        let named = layer.namedParameters
        let analyticParameters = named.map(\.parameter.gradient.scalars)

        let numericInput = try numericGradient(at: input, upstream: upstream, step: step) { try evaluate($0) }
        var parameterErrors: [(name: String, error: Double)] = []
        for ((name, parameter), analytic) in zip(named, analyticParameters) {
            let value = parameter.value
            defer { parameter.value = value }
            let numeric = try numericGradient(at: value, upstream: upstream, step: step) {
                parameter.value = $0
                return try evaluate(input)
            }
            parameterErrors.append((name, relativeError(analytic, numeric)))
        }
        return (relativeError(analyticInput.scalars, numericInput), parameterErrors)
    }

    /// Checks every layer of `network` in turn, each on a random input of the shape it receives
    /// inside the network, for a batch of `batch` samples of `inputShape`.
    public static func check(
        network: Sequential<Double>, inputShape: [Int], batch: Int = 2, seed: UInt64 = 0
    ) throws -> [LayerResult] {
        var shape = inputShape
        var results: [LayerResult] = []
        for (index, layer) in network.layers.enumerated() {
            let errors = try check(layer, inputShape: [batch] + shape, seed: seed &+ UInt64(index))
            results.append(
                LayerResult(
                    index: index, layer: layer.description, inputError: errors.inputError,
                    parameterErrors: errors.parameterErrors))
            shape = try layer.outputShape(forInputShape: shape)
        }
        return results
    }

    /// Central differences of a scalar function: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every
    /// element i of x (f receives x with one element moved).
    public static func numericGradient(
        at x: Tensor<Double>, step: Double = 1e-5, _ f: (Tensor<Double>) throws -> Double
    ) rethrows -> [Double] {
        try centralDifferences(at: x, step: step, evaluate: f, difference: -)
    }

    /// Central differences of Σ f(x) · upstream for every element of x, subtracting element by
    /// element: Σ_j (f(x + h·eᵢ) − f(x − h·eᵢ))_j · upstream_j / 2h.
    static func numericGradient(
        at x: Tensor<Double>, upstream: Tensor<Double>, step: Double, _ f: (Tensor<Double>) throws -> Tensor<Double>
    ) rethrows -> [Double] {
        try centralDifferences(at: x, step: step, evaluate: f) { plus, minus in
            var sum = 0.0
            for j in 0..<plus.count { sum += (plus.scalars[j] - minus.scalars[j]) * upstream.scalars[j] }
            return sum
        }
    }

    /// difference(g(x + h·eᵢ), g(x − h·eᵢ)) / 2h for every element i of x.
    private static func centralDifferences<Value>(
        at x: Tensor<Double>, step: Double, evaluate: (Tensor<Double>) throws -> Value,
        difference: (Value, Value) -> Double
    ) rethrows -> [Double] {
        var gradient = [Double](repeating: 0, count: x.count)
        var moved = x
        for i in 0..<x.count {
            let saved = moved.scalars[i]
            moved.scalars[i] = saved + step
            let plus = try evaluate(moved)
            moved.scalars[i] = saved - step
            let minus = try evaluate(moved)
            moved.scalars[i] = saved
            gradient[i] = difference(plus, minus) / (2 * step)
        }
        return gradient
    }
}
