import Testing

@testable import ConvNet

/// Five steps of every optimizer on L(w) = ½ Σ aᵢ wᵢ² (gradient a ⊙ w), compared with the
/// float64 values printed by `reference_optimizers.py` beside this file (an independent numpy
/// implementation of PyTorch's documented rules, which also checks itself against
/// torch.optim when PyTorch is installed).
struct OptimizerTests {
    static let expected: [String: [Double]] = [
        "sgd": [
            -0.309512375, -0.22248919752805577, -0.14594369650960368, -0.07902635020752885, -0.020935581724041686,
            0.02908397822146684, 0.07174319765195776, 0.10771011882966489, 0.13761160289040286, 0.1620349436152636,
            0.18152945033970042, 0.19660800000000003,
        ],
        "sgd_momentum": [
            -0.166862375, -0.08736335310610245, -0.03445592505832423, -0.005425915935155477, 0.0023117710648264435,
            -0.008783750199964892, -0.03637628449965876, -0.0782495217810733, -0.13230403457847348,
            -0.19655430628694126, -0.26912579029835837, -0.348252,
        ],
        "nesterov": [
            -0.12637692202624995, -0.05507763326907558, -0.01276573070340905, 0.005664213651124645, 0.00480669431868832,
            -0.011225450756624709, -0.038772527523477957, -0.07460023732480939, -0.11587269258817903,
            -0.16012619670494715, -0.20524378809828242, -0.24943054848000007,
        ],
        "rmsprop": [
            -0.13553790987655942, -0.06637493142866843, -0.016083894277537, -6.725336461628663e-05,
            0.000695470447245368, -0.0009833453250493842, 0.0005974982399815456, 0.023826279699380167,
            0.0791463640036008, 0.15061515751125334, 0.22969707383279148, 0.31275367477461147,
        ],
        "adam": [
            -0.35012675544603605, -0.25926258260556556, -0.16844598209082184, -0.07782420436236043,
            0.008138975852120806, 0.00687941046888879, 0.0959096300117057, 0.18660228487896088, 0.2774330726807266,
            0.36830224469220957, 0.4591872341527036, 0.550080223820145,
        ],
        "adagrad": [
            -0.1365580437653855, -0.06720919219746282, -0.016536285628400444, -7.959626248210249e-05,
            0.0006082116662077656, -0.0008557215756169662, 0.0006557962161284404, 0.024375708777589652,
            0.08002944583211528, 0.15165921779261182, 0.23082411531605135, 0.3139279457981655,
        ],
    ]

    static let configurations: [(String, [String: Double])] = [
        ("sgd", ["learning_rate": 0.1]),
        ("sgd_momentum", ["learning_rate": 0.1, "momentum": 0.9]),
        ("nesterov", ["learning_rate": 0.1, "momentum": 0.9]),
        ("rmsprop", ["learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8]),
        ("adam", ["learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8]),
        ("adagrad", ["learning_rate": 0.1, "epsilon": 1e-10]),
    ]

    @Test(arguments: configurations.map(\.0))
    func fiveStepsMatchReference(_ name: String) throws {
        let configuration = Self.configurations.first { $0.0 == name }!.1
        let optimizer = try UpdateRule(named: name).makeOptimizer(configuration: configuration, scalar: Double.self)
        let curvature = Tensor<Double>(linearlySpacedFrom: 0.5, to: 2.0, shape: [3, 4])
        let parameter = Parameter(
            name: "weight", value: Tensor<Double>(linearlySpacedFrom: -0.4, to: 0.6, shape: [3, 4]), isRegularized: true
        )
        for _ in 0..<5 {
            parameter.gradient.scalars = zip(curvature.scalars, parameter.value.scalars).map { $0 * $1 }
            try optimizer.update([parameter])
        }
        let error = relativeError(parameter.value.scalars, Self.expected[name]!)
        #expect(error < 1e-12, "\(name): relative error \(error)")
    }

    @Test func badHyperparametersAreErrors() {
        #expect(throws: ConvNetError.self) { try SGD<Float>(learningRate: -0.1) }
        #expect(throws: ConvNetError.self) { try SGD<Float>(learningRate: 0.1, momentum: 1.5) }
        #expect(throws: ConvNetError.self) { try SGD<Float>(learningRate: 0.1, nesterov: true) }
        #expect(throws: ConvNetError.self) { try Adam<Float>(learningRate: .nan) }
        #expect(throws: ConvNetError.self) { try Adam<Float>(beta1: 1) }
        #expect(throws: ConvNetError.self) { try RMSProp<Float>(epsilon: 0) }
        #expect(throws: ConvNetError.self) { try AdaGrad<Float>(learningRate: -1) }
        #expect(throws: ConvNetError.self) { try UpdateRule(named: "lion") }
        #expect(throws: ConvNetError.self) {
            try UpdateRule.adam.makeOptimizer(configuration: ["momentum": 0.9], scalar: Float.self)
        }
        #expect((try? UpdateRule(named: "momentum")) == .sgdMomentum)
    }
}
