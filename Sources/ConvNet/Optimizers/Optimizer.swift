/// Updates parameters from their gradients. Optimizers keep per-parameter state (velocity,
/// moments), matched to parameters by their position in the list given to `update`, so always
/// pass the same list (a model's `parameters`).
public protocol Optimizer<Scalar>: AnyObject {
    /// Float or Double.
    associatedtype Scalar: KernelScalar
    /// The step size; the Solver multiplies it by the decay after each epoch.
    var learningRate: Double { get set }
    /// Applies one step to every parameter from its `gradient`.
    func update(_ parameters: [Parameter<Scalar>]) throws
    /// The optimizer's state (moments, step count) for checkpoints, by state name.
    var state: [String: [[Scalar]]] { get }
    /// Puts back a `state` captured earlier, to resume training (checkpoints).
    func restore(state: [String: [[Scalar]]]) throws
}

/// Every optimizer hyper-parameter default, in one place: the optimizers' initialisers and the
/// update-rule factory (`UpdateRule`, what the CLI and configuration files name) read them.
public enum OptimizerDefaults {
    /// SGD's learning rate (the classic Solver's).
    public static let sgdLearningRate = 1e-2
    /// The momentum of the `sgd_momentum` and `nesterov` rules (the classic Solver's).
    public static let momentum = 0.9
    /// RMSProp: learning rate, ρ (PyTorch's `alpha`) and ε.
    public static let rmspropLearningRate = 1e-2
    public static let rmspropDecayRate = 0.99
    public static let rmspropEpsilon = 1e-8
    /// Adam: learning rate, β1, β2, ε (PyTorch's).
    public static let adamLearningRate = 1e-3
    public static let adamBeta1 = 0.9
    public static let adamBeta2 = 0.999
    public static let adamEpsilon = 1e-8
    /// AdaGrad: learning rate and ε (PyTorch's).
    public static let adagradLearningRate = 1e-2
    public static let adagradEpsilon = 1e-10
    /// PyTorch's `weight_decay` of every optimizer but AdamW: none.
    public static let weightDecay = 0.0
    /// AdamW's decoupled weight decay (PyTorch's).
    public static let adamWWeightDecay = 1e-2
}

/// PyTorch's (coupled) `weight_decay`: g ← g + wd·w for every parameter, biases and BatchNorm's
/// γ and β included, before the optimizer's step. It is written into each parameter's
/// `gradient`, which after `update` therefore holds the decayed gradient the step used.
func addWeightDecay<Scalar: KernelScalar>(_ weightDecay: Double, to parameters: [Parameter<Scalar>]) {
    guard weightDecay > 0 else { return }
    let decay = Scalar(weightDecay)
    for index in parameters.indices {
        let parameter = parameters[index]
        parameter.value.withUnsafeBufferPointer { w in
            parameter.gradient.withUnsafeMutableBufferPointer { g in
                Scalar.axpy(alpha: decay, w.baseAddress!, g.baseAddress!, count: w.count)
            }
        }
    }
}

/// Per-parameter buffers of one kind (a velocity, a moment), created on first use.
struct SlotBuffers<Scalar: KernelScalar> {
    var buffers: [[Scalar]] = []

    /// Makes sure there is one zero buffer per parameter, sized like it.
    mutating func prepare(for parameters: [Parameter<Scalar>]) throws {
        if buffers.isEmpty {
            buffers = parameters.map { [Scalar](repeating: 0, count: $0.value.count) }
        }
        // Index loops, not zip/allSatisfy: through `any Optimizer` this code runs
        // unspecialised, where those iterators allocate on every step.
        var matches = buffers.count == parameters.count
        if matches {
            for index in parameters.indices where buffers[index].count != parameters[index].value.count {
                matches = false
            }
        }
        guard matches else {
            throw ConvNetError.invalidArgument(
                "optimizer state was made for other parameters (\(buffers.count) tensors); "
                    + "use one optimizer per model")
        }
    }
}

/// Checks a hyper-parameter.
func requireHyperparameter(_ value: Double, _ name: String, _ valid: (Double) -> Bool, _ rule: String) throws {
    guard value.isFinite, valid(value) else {
        throw ConvNetError.invalidArgument("\(name) must be \(rule), found \(value)")
    }
}

/// Runs `body` with value and gradient pointers of one parameter.
func withPointers<Scalar: KernelScalar>(
    _ parameter: Parameter<Scalar>,
    _ body: (UnsafeMutablePointer<Scalar>, UnsafePointer<Scalar>, Int) -> Void
) {
    parameter.gradient.withUnsafeBufferPointer { g in
        parameter.value.withUnsafeMutableBufferPointer { w in
            body(w.baseAddress!, g.baseAddress!, w.count)
        }
    }
}

extension Optimizer {
    /// Restores the state captured by `state` (to resume training); the default throws.
    public func restore(state: [String: [[Scalar]]]) throws {
        throw ConvNetError.invalidArgument("\(type(of: self)) cannot restore its state")
    }
}

extension SlotBuffers {
    /// Replaces the buffers with `saved[key]` (nothing saved: fresh, as before any step); they
    /// are checked against the parameters at the next step.
    mutating func restore(_ saved: [String: [[Scalar]]], key: String, optimizer: String) throws {
        let buffers = saved[key] ?? []
        self.buffers = buffers
    }
}
