/// Every layer kind a model spec can name, one line each: the spec language, `convnet train
/// --help` and checkpoints read this table, and each kind (defined in its layer's file)
/// supplies its token, arguments and builder. Adding a layer adds one line here.
public enum LayerRegistry {
    /// The kinds, in the order help texts list them.
    public static let kinds: [any LayerKind] = [
        ConvolutionKind(),
        PoolingKind.maximum,
        PoolingKind.average,
        GlobalAvgPoolKind(),
        DenseKind(),
        BatchNormKind(),
        DropoutKind(),
        ReLUKind(),
        LeakyReLUKind(),
        SigmoidKind(),
        TanhKind(),
        FlattenKind(),
        IdentityKind(),
        ResidualKind(),
        BasicBlockKind(),
        SequentialKind(),
    ]

    /// The kind a spec calls `name` (its token or an alias, lowercase).
    public static func kind(named name: String) -> (any LayerKind)? {
        kinds.first { $0.token == name || $0.aliases.contains(name) }
    }
}
