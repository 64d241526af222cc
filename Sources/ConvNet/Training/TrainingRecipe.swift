/// Named recipes: every setting of a run that reaches a published accuracy, in one place, so
/// that `convnet train --recipe NAME --data-dir DIR` reproduces it (explicit options override
/// the recipe's). BENCHMARKS.md gives the figures and the PyTorch twin
/// (`Benchmarks/recipes_torch.py`) trains the same recipe.
public enum TrainingRecipe: String, CaseIterable, Sendable {
    /// MNIST: a BatchNorm CNN, SGD with Nesterov momentum on a one-cycle schedule, label
    /// smoothing, small random translations.
    case mnist
    /// Fashion-MNIST: the same network, wider, with flips and random crops.
    case fashionMNIST = "fashion-mnist"

    /// The recipe called `name`.
    public init(named name: String) throws {
        guard let recipe = TrainingRecipe(rawValue: name.lowercased()) else {
            throw ConvNetError.invalidArgument(
                "unknown recipe '\(name)'; use one of "
                    + TrainingRecipe.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = recipe
    }

    /// The network, written as a spec.
    public var spec: String {
        switch self {
        case .mnist:
            return "conv(32,k=3,p=1,bias=false) bn relu conv(32,k=3,p=1,bias=false) bn relu maxpool(2) "
                + "conv(64,k=3,p=1,bias=false) bn relu conv(64,k=3,p=1,bias=false) bn relu maxpool(2) "
                + "flatten dense(256) bn relu dropout(0.3) dense(10)"
        case .fashionMNIST:
            return "conv(32,k=3,p=1,bias=false) bn relu conv(32,k=3,p=1,bias=false) bn relu maxpool(2) "
                + "conv(64,k=3,p=1,bias=false) bn relu conv(64,k=3,p=1,bias=false) bn relu maxpool(2) "
                + "flatten dense(256) bn relu dropout(0.4) dense(10)"
        }
    }

    /// Every setting of the recipe.
    public var configuration: TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.recipe = rawValue
        configuration.spec = spec
        configuration.mean = Preprocessing.MeanMode.channel.rawValue
        configuration.standardize = true
        configuration.validationCount = 1000
        configuration.initScheme = "pytorch"
        configuration.updateRule = UpdateRule.nesterov.rawValue
        configuration.momentum = 0.9
        configuration.weightDecay = 5e-4
        configuration.labelSmoothing = 0.1
        configuration.batchSize = 128
        configuration.trackTestAccuracy = true
        switch self {
        case .mnist:
            configuration.dataset = DatasetName.mnist.rawValue
            configuration.learningRate = 0.1
            configuration.epochs = 8
            configuration.schedule = LearningRateSchedule(
                .oneCycle(pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4), unit: .iteration)
            configuration.augmentation = Augmentation(translate: 0.1)
        case .fashionMNIST:
            configuration.dataset = DatasetName.fashionMNIST.rawValue
            configuration.learningRate = 0.1
            configuration.epochs = 16
            configuration.schedule = LearningRateSchedule(
                .oneCycle(pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4), unit: .iteration)
            configuration.augmentation = Augmentation(cropPadding: 2, horizontalFlip: true)
        }
        return configuration
    }

    /// The recipe written out, for `--help`, the README and reports.
    public var summary: String {
        let c = configuration
        return
            "\(rawValue): \(c.dataset), spec '\(spec)', \(c.updateRule) momentum \(c.momentum ?? 0) lr \(c.learningRate ?? 0) "
            + "weight decay \(c.weightDecay ?? 0), \(c.schedule?.summary ?? "constant"), label smoothing \(c.labelSmoothing ?? 0), "
            + "augmentation \(c.augmentation?.description ?? "none"), batch \(c.batchSize), \(c.epochs) epochs, "
            + "mean per channel + standardisation, PyTorch's default initialisation, 1,000 validation images"
    }
}
