import Foundation

/// Optimizers by name with a configuration dictionary, as in the classic Solver
/// (`update_rule='adam', optim_config={'learning_rate': 1e-3}`). Unknown names and keys are
/// errors that list what is accepted.
public enum UpdateRule: String, CaseIterable, Sendable {
    case sgd
    case sgdMomentum = "sgd_momentum"
    case nesterov
    case rmsprop
    case adam
    case adamw
    case adagrad

    /// The rule called `name` (also accepts `momentum` for `sgd_momentum`).
    public init(named name: String) throws {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "_")
        if key == "momentum" {
            self = .sgdMomentum
        } else if let rule = UpdateRule(rawValue: key) {
            self = rule
        } else {
            throw ConvNetError.invalidArgument(
                "unknown update rule '\(name)'; use one of "
                    + UpdateRule.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// Configuration keys with their defaults.
    public var defaults: [(key: String, value: Double)] {
        typealias D = OptimizerDefaults
        let decay = ("weight_decay", D.weightDecay)
        switch self {
        case .sgd: return [("learning_rate", D.sgdLearningRate), decay]
        case .sgdMomentum, .nesterov: return [("learning_rate", D.sgdLearningRate), ("momentum", D.momentum), decay]
        case .rmsprop:
            return [
                ("learning_rate", D.rmspropLearningRate), ("decay_rate", D.rmspropDecayRate),
                ("epsilon", D.rmspropEpsilon), decay,
            ]
        case .adam:
            return [
                ("learning_rate", D.adamLearningRate), ("beta1", D.adamBeta1), ("beta2", D.adamBeta2),
                ("epsilon", D.adamEpsilon), decay,
            ]
        case .adamw:
            return [
                ("learning_rate", D.adamLearningRate), ("beta1", D.adamBeta1), ("beta2", D.adamBeta2),
                ("epsilon", D.adamEpsilon),
                ("weight_decay", D.adamWWeightDecay),
            ]
        case .adagrad: return [("learning_rate", D.adagradLearningRate), ("epsilon", D.adagradEpsilon), decay]
        }
    }

    /// An optimizer for `Scalar` configured by `configuration` (missing keys take defaults).
    public func makeOptimizer<Scalar: KernelScalar>(
        configuration: [String: Double] = [:], scalar: Scalar.Type = Scalar.self
    ) throws -> any Optimizer<Scalar> {
        let known = Set(defaults.map(\.key))
        for key in configuration.keys.sorted() where !known.contains(key) {
            throw ConvNetError.invalidArgument(
                "unknown option '\(key)' for update rule '\(rawValue)'; accepted: "
                    + defaults.map(\.key).joined(separator: ", "))
        }
        var value: [String: Double] = [:]
        for (key, fallback) in defaults { value[key] = configuration[key] ?? fallback }
        switch self {
        case .sgd:
            return try SGD<Scalar>(learningRate: value["learning_rate"]!, weightDecay: value["weight_decay"]!)
        case .sgdMomentum, .nesterov:
            return try SGD<Scalar>(
                learningRate: value["learning_rate"]!, momentum: value["momentum"]!, nesterov: self == .nesterov,
                weightDecay: value["weight_decay"]!)
        case .rmsprop:
            return try RMSProp<Scalar>(
                learningRate: value["learning_rate"]!, decayRate: value["decay_rate"]!, epsilon: value["epsilon"]!,
                weightDecay: value["weight_decay"]!)
        case .adam, .adamw:
            return try Adam<Scalar>(
                learningRate: value["learning_rate"]!, beta1: value["beta1"]!, beta2: value["beta2"]!,
                epsilon: value["epsilon"]!, weightDecay: value["weight_decay"]!, decoupled: self == .adamw)
        case .adagrad:
            return try AdaGrad<Scalar>(
                learningRate: value["learning_rate"]!, epsilon: value["epsilon"]!, weightDecay: value["weight_decay"]!)
        }
    }
}
