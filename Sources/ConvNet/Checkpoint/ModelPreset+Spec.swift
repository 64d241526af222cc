extension ModelPreset {
    /// The preset's architecture as a model spec (what its checkpoints record), for `classes`
    /// outputs; `hiddenSizes` as in `makeModel` (mlp: every entry; three-layer net: the first).
    /// Building the spec gives the same layers and parameter shapes as the preset; only the
    /// weight initialisation differs, which a checkpoint does not need (`resnet20` and `vgg-bn`
    /// are their spec, with PyTorch's default initialisation).
    /// Throws when `classes` or a hidden size is not a positive integer.
    public func spec(classes: Int = 10, hiddenSizes: [Int] = [100]) throws -> ModelSpec {
        guard classes >= 1, classes <= ReaderLimits.current.maximumClasses else {
            throw ConvNetError.invalidArgument(
                "a model needs 1 to \(ReaderLimits.current.maximumClasses) classes, found \(classes)")
        }
        let text: String
        switch self {
        case .digitsCNN:
            text =
                "conv(16,k=3,p=1) relu maxpool(2) conv(32,k=3,p=1) relu maxpool(2) flatten dense(64) relu dense(\(classes))"
        case .threeLayerConvNet:
            text = "conv(32,k=7,p=3) relu maxpool(2) flatten dense(\(hiddenSizes.first ?? 100)) relu dense(\(classes))"
        case .lenet5:
            text =
                "conv(6,k=5,p=2) relu maxpool(2) conv(16,k=5) relu maxpool(2) flatten dense(120) relu dense(84) relu dense(\(classes))"
        case .mlp:
            text = "flatten " + hiddenSizes.map { "dense(\($0)) relu " }.joined() + "dense(\(classes))"
        case .xor:
            text = "dense(4) sigmoid dense(1) sigmoid"
        case .resnet20:
            text =
                "conv(16,k=3,p=1,bias=false) bn relu block(16) block(16) block(16) block(32,s=2) block(32) block(32) "
                + "block(64,s=2) block(64) block(64) gap flatten dense(\(classes))"
        case .vggBN:
            text =
                "conv(64,k=3,p=1) bn relu conv(64,k=3,p=1) bn relu maxpool(2) conv(128,k=3,p=1) bn relu "
                + "conv(128,k=3,p=1) bn relu maxpool(2) flatten dense(256) relu dense(\(classes))"
        }
        return try ModelSpec(parsing: text)
    }

    /// The loss the preset trains with.
    public var lossKind: LossKind { self == .xor ? .meanSquaredError : .softmaxCrossEntropy }
}
