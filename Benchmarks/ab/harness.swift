// The A/B harness of `run.sh`: one executable built twice, against two ConvNet trees.
//
//   h WORKLOAD BATCH STEPS count   STEPS training steps, then STEPS inference batches (for
//                                  callgrind's instruction counts, CONVNET_THREADS=1)
//   h WORKLOAD BATCH STEPS time    the median of STEPS training steps and of STEPS inference
//                                  batches, in µs
//   h WORKLOAD BATCH STEPS augment the median time of augmenting a [BATCH, 1, 28, 28] batch
//                                  (the recipes' translate=0.1 and crop=2,flip) against a
//                                  training step of the MNIST recipe's network (new trees only)
//   h WORKLOAD BATCH STEPS alloc   heap allocations per steady-state training step of
//                                  resnet20, vgg-bn and a net with Dropout and a residual
//                                  block (new trees only; run with the counting shim preloaded)
import ConvNet
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 5, let workload = BenchmarkWorkload(rawValue: arguments[1]), let batch = Int(arguments[2]),
    let steps = Int(arguments[3]), steps > 0
else {
    print("usage: h W1|W2|W3 BATCH STEPS count|time|alloc|augment")
    exit(2)
}
let model = try workload.makeModel()
let optimizer = try SGD<Float>(learningRate: BenchmarkWorkload.learningRate, momentum: BenchmarkWorkload.momentum)
let (inputs, targets) = BenchmarkRunner.makeBatch(inputShape: model.inputShape, batch: batch)

func step(_ model: Model<Float>, _ optimizer: SGD<Float>, _ inputs: Tensor<Float>, _ targets: Tensor<Float>) throws {
    try BenchmarkRunner.trainingStep(
        model: model, optimizer: optimizer, parameters: model.parameters, inputs: inputs, targets: targets)
}

func median(_ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<steps {
        let start = ProcessProbes.nanoseconds()
        try body()
        times.append(Double(ProcessProbes.nanoseconds() - start) / 1000)
    }
    return times.sorted()[times.count / 2]
}

switch arguments[4] {
case "count":
    for _ in 0..<steps { try step(model, optimizer, inputs, targets) }
    for _ in 0..<steps { _ = try model.network.forward(inputs) }
case "time":
    for _ in 0..<3 { try step(model, optimizer, inputs, targets) }
    let train = try median { try step(model, optimizer, inputs, targets) }
    let infer = try median { _ = try model.network.forward(inputs) }
    print(String(format: "%@ b%d: step %.1f us, inference %.1f us", workload.rawValue, batch, train, infer))
case "alloc":
    let specs = [
        // Written out (not ModelPreset) so that the harness also builds against older trees.
        (
            "resnet20",
            "conv(16,k=3,p=1,bias=false) bn relu block(16) block(16) block(16) block(32,s=2) block(32) block(32) "
                + "block(64,s=2) block(64) block(64) gap flatten dense(10)", [3, 32, 32]
        ),
        (
            "vgg-bn",
            "conv(64,k=3,p=1) bn relu conv(64,k=3,p=1) bn relu maxpool(2) conv(128,k=3,p=1) bn relu "
                + "conv(128,k=3,p=1) bn relu maxpool(2) flatten dense(256) relu dense(10)", [3, 32, 32]
        ),
        (
            "dropout + residual",
            "conv(8,k=3,p=1) bn relu dropout(0.3) res(conv(8,k=3,p=1) bn relu conv(8,k=3,p=1) bn) relu flatten dense(10)",
            [3, 16, 16]
        ),
    ]
    for (name, spec, shape) in specs {
        let network: Sequential<Float> = try ModelSpec(parsing: spec).makeNetwork(inputShape: shape)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: shape)
        let optimizer = try SGD<Float>(learningRate: 0.01, momentum: 0.9)
        let (x, y) = BenchmarkRunner.makeBatch(inputShape: shape, batch: batch)
        for _ in 0..<3 { try step(model, optimizer, x, y) }
        guard let before = ProcessProbes.allocationCount() else {
            print("preload the counting shim (ProcessProbes.buildAllocationShim)")
            exit(1)
        }
        for _ in 0..<steps { try step(model, optimizer, x, y) }
        print(
            "\(name), batch \(batch): \(Double(ProcessProbes.allocationCount()! - before) / Double(steps)) allocations per training step"
        )
    }
case "augment":
    let recipe =
        try ModelSpec(parsing: TrainingRecipe.mnist.spec).makeNetwork(
            inputShape: [1, 28, 28], initializer: .pytorchDefault) as Sequential<Float>
    let recipeModel = try Model(
        network: recipe, loss: SoftmaxCrossEntropy(labelSmoothing: 0.1), inputShape: [1, 28, 28])
    let recipeOptimizer = try SGD<Float>(learningRate: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4)
    let (x, y) = BenchmarkRunner.makeBatch(inputShape: [1, 28, 28], batch: batch)
    for _ in 0..<3 { try step(recipeModel, recipeOptimizer, x, y) }
    let stepTime = try median { try step(recipeModel, recipeOptimizer, x, y) }
    for augmentation in [Augmentation(translate: 0.1), Augmentation(cropPadding: 2, horizontalFlip: true)] {
        let augmenter = BatchAugmenter<Float>(augmentation, seed: 1)
        let time = try median { _ = try augmenter.apply(x) }
        print(
            String(
                format: "augment %@ on [%d, 1, 28, 28]: %.1f us; a training step: %.1f us (%.2f %%)",
                augmentation.description, batch, time, stepTime, 100 * time / stepTime))
    }
case "layers":
    // Median forward and backward time of each layer of the MNIST recipe's network at BATCH,
    // in training mode, as the network runs them (fused).
    let network =
        try ModelSpec(parsing: TrainingRecipe.mnist.spec).makeNetwork(
            inputShape: [1, 28, 28], initializer: .pytorchDefault) as Sequential<Float>
    let (x, _) = BenchmarkRunner.makeBatch(inputShape: [1, 28, 28], batch: batch)
    var forward = [[Double]](repeating: [], count: network.layers.count)
    var backward = forward
    for _ in 0..<steps {
        var activations = [x]
        for (index, layer) in network.layers.enumerated() {
            let start = ProcessProbes.nanoseconds()
            activations.append(try layer.forward(activations.last!))
            forward[index].append(Double(ProcessProbes.nanoseconds() - start) / 1e6)
        }
        var gradient = Tensor<Float>(repeating: 0.01, shape: activations.last!.shape)
        for index in network.layers.indices.reversed() {
            let start = ProcessProbes.nanoseconds()
            if let next = try network.layers[index].backward(gradient, needsInputGradient: index > 0) {
                gradient = next
            }
            backward[index].append(Double(ProcessProbes.nanoseconds() - start) / 1e6)
        }
    }
    for (index, layer) in network.layers.enumerated() {
        let f = forward[index].sorted()[steps / 2]
        let b = backward[index].sorted()[steps / 2]
        print(String(format: "%2d %-55@ forward %7.3f ms  backward %7.3f ms", index, layer.description, f, b))
    }
default:
    print("unknown mode \(arguments[4])")
    exit(2)
}
