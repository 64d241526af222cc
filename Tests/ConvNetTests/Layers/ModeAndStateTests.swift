import Foundation
import Testing

@testable import ConvNet

/// The layer contract's mode and state: inference folds BatchNorm into the convolution and
/// equals the unfolded path; the mode reaches nested layers; Dropout is seeded, inverted and
/// the identity in inference; buffers are saved under PyTorch's names and load back; files
/// written before buffers existed still load and score the same.
struct ModeAndStateTests {
    /// A conv → BN → ReLU network with BN statistics and affine parameters away from their
    /// initial values.
    static func batchNormNetwork(seed: UInt64) throws -> Sequential<Float> {
        let network: Sequential<Float> = try ModelSpec(
            parsing:
                "conv(6,k=3,p=1) bn relu conv(5,k=3,s=2,p=1,bias=false) bn maxpool(2,ceil=true) block(8,s=2) flatten dense(4) bn relu dense(3)"
        ).makeNetwork(inputShape: [3, 11, 11], initializer: .pytorchDefault, seed: seed)
        PyTorchParityTests.perturb(network, seed: seed + 1)
        return network
    }

    @Test func foldedInferenceEqualsUnfolded() throws {
        let network = try Self.batchNormNetwork(seed: 1)
        let x: Tensor<Float> = randomTensor([5, 3, 11, 11], seed: 2)
        network.setMode(.inference)
        let folded = try network.forward(x)
        #expect(thrownMessage { _ = try network.backward(folded) }?.contains("unfoldedInference") == true)
        network.setMode(.unfoldedInference)
        let unfolded = try network.forward(x)
        let scale = unfolded.scalars.map(abs).max() ?? 1
        let worst = zip(folded.scalars, unfolded.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / scale < 1e-5, "folded vs unfolded: \(worst)")
        // Unfolded, backward works in inference mode (BatchNorm with running statistics as constants).
        let gradient = try network.backward(Tensor(repeating: 1, shape: unfolded.shape))
        #expect(gradient.shape == x.shape)
        // Back in training mode the same network trains (no folding there).
        network.setMode(.training)
        let trained = try network.forward(x)
        _ = try network.backward(trained)
        // Inference leaves the statistics alone; training moves them and counts the batch.
        let before = network.namedBuffers.map { ($0.buffer.values, $0.buffer.integers) }
        network.setMode(.inference)
        _ = try network.forward(x)
        #expect(network.namedBuffers.map { ($0.buffer.values, $0.buffer.integers) }.elementsEqual(before) { $0 == $1 })
        network.setMode(.training)
        _ = try network.forward(x)
        let tracked = network.namedBuffers.filter(\.buffer.isInteger).map(\.buffer.integers)
        let trackedBefore = before.filter { !$0.1.isEmpty }.map(\.1)
        #expect(zip(tracked, trackedBefore).allSatisfy { $0[0] == $1[0] + 1 })
    }

    /// Model.scores and evaluate run in inference mode whatever the model's mode, and restore it.
    @Test func modelScoresInInferenceMode() throws {
        let network = try Self.batchNormNetwork(seed: 3)
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [3, 11, 11])
        let x: Tensor<Float> = randomTensor([4, 3, 11, 11], seed: 4)
        let buffers = network.namedBuffers.map(\.buffer.values)
        let scores = try model.scores(x)
        #expect(model.mode == .training)
        #expect(network.namedBuffers.map(\.buffer.values) == buffers, "scores must not update running statistics")
        model.mode = .inference
        #expect(try network.forward(x) == scores)
        model.mode = .training
        _ = try model.lossAndGradients(inputs: x, targets: try Tensor(shape: [4], scalars: [0, 1, 2, 1]))
        #expect(network.namedBuffers.map(\.buffer.values) != buffers, "a training step updates running statistics")
    }

    @Test func dropoutIsSeededInvertedAndOffInInference() throws {
        let p = 0.3
        let layer = try Dropout<Float>(probability: p, seed: 11)
        let x = Tensor<Float>(repeating: 2, shape: [100, 1000])
        let y = try layer.forward(x)
        let dropped = y.scalars.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / Double(y.count) - p) < 0.005, "dropped \(dropped) of \(y.count)")
        #expect(y.scalars.allSatisfy { $0 == 0 || $0 == Float(2 / (1 - p)) })
        // Backward multiplies by the same mask.
        let dx = try layer.backward(Tensor(repeating: 1, shape: x.shape))
        #expect(zip(dx.scalars, y.scalars).allSatisfy { ($0 == 0) == ($1 == 0) })
        // The same seed draws the same masks; another does not; the next batch draws anew.
        let twin = try Dropout<Float>(probability: p, seed: 11)
        #expect(try twin.forward(x) == y)
        #expect(try Dropout<Float>(probability: p, seed: 12).forward(x) != y)
        #expect(try layer.forward(x) != y)
        // Inference: the identity, drawing nothing.
        let generator = layer.stream.generator
        layer.setMode(.inference)
        #expect(try layer.forward(x) == x)
        #expect(try layer.backward(x) == x)
        #expect(layer.stream.generator == generator)
        // p = 0 keeps everything, p = 1 drops everything; others are refused.
        #expect(try Dropout<Float>(probability: 0, seed: 1).forward(x) == x)
        #expect(try Dropout<Float>(probability: 1, seed: 1).forward(x).scalars.allSatisfy { $0 == 0 })
        #expect(thrownMessage { _ = try Dropout<Float>(probability: 1.5) }?.contains("[0, 1]") == true)
    }

    /// state_dict names and order are PyTorch's: per module its parameters, then its buffers,
    /// then its children; buffers round-trip through a checkpoint, num_batches_tracked as I64.
    @Test func buffersAreSavedUnderPyTorchNames() throws {
        let network: Sequential<Float> = try ModelSpec(
            parsing: "conv(4,k=3,bias=false) bn relu block(4) gap flatten dense(2)"
        )
        .makeNetwork(inputShape: [2, 6, 6])
        #expect(
            network.stateDictNames == [
                "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                "3.conv1.weight", "3.bn1.weight", "3.bn1.bias", "3.bn1.running_mean", "3.bn1.running_var",
                "3.bn1.num_batches_tracked", "3.conv2.weight", "3.bn2.weight", "3.bn2.bias", "3.bn2.running_mean",
                "3.bn2.running_var", "3.bn2.num_batches_tracked", "6.weight", "6.bias",
            ])
        PyTorchParityTests.perturb(network, seed: 5)
        _ = try network.forward(randomTensor([3, 2, 6, 6], seed: 6))  // num_batches_tracked = 1
        let model = try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [2, 6, 6])
        let folder = makeTemporaryDirectory("convnet-buffers")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        try Checkpoint.save(model, to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file["1.num_batches_tracked"]?.dtype == .I64 && file["1.num_batches_tracked"]?.shape == [])
        #expect(file["1.running_var"]?.dtype == .F32)
        let loaded = try Checkpoint.load(from: url, as: Float.self)
        for ((name, a), (_, b)) in zip(loaded.model.network.namedBuffers, network.namedBuffers) {
            #expect(a.values == b.values && a.integers == b.integers, "\(name)")
        }
        #expect(loaded.model.network.namedBuffers.first { $0.name == "1.num_batches_tracked" }?.buffer.integers == [1])
        let x: Tensor<Float> = randomTensor([2, 2, 6, 6], seed: 7)
        #expect(try loaded.model.scores(x) == (try model.scores(x)))
        // A file missing a buffer, or with a float where an integer belongs, names the tensor.
        var missing = file
        missing = try SafeTensorsFile(bytes: Array(try Data(contentsOf: url)))
        var pruned = SafeTensorsFile()
        for (name, tensor) in missing.tensors where name != "3.bn2.running_var" { try pruned.set(name, tensor) }
        #expect(
            thrownMessage { try Checkpoint.loadWeights(pruned, into: network, name: "pruned") }?
                .contains("'3.bn2.running_var' [4] is missing") == true)
        var wrongType = SafeTensorsFile()
        for (name, tensor) in missing.tensors {
            try wrongType.set(name, name == "1.num_batches_tracked" ? try SafeTensor(shape: [], float32: [1]) : tensor)
        }
        #expect(
            thrownMessage { try Checkpoint.loadWeights(wrongType, into: network, name: "typed") }?
                .contains("an integer tensor") == true)
    }

    /// A checkpoint written before the layer contract changed (format 1, no buffers) loads and
    /// scores what that version's `convnet predict` printed.
    @Test func formatOneCheckpointsStillLoad() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Checkpoint/Fixtures")
        let predictor = try Predictor(checkpoint: fixtures.appendingPathComponent("digits-cnn-format1.safetensors"))
        let images = try ImageArray(
            NumPyArray(contentsOf: fixtures.appendingPathComponent("digits8.npy")), layout: .nchw)
        let scores = try predictor.scores(images)
        let expected = try NumPyArray(contentsOf: fixtures.appendingPathComponent("digits8-scores-format1.npy"))
            .floatValues()
        #expect(scores.shape == [8, 10])
        let worst = zip(scores.scalars, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// The new presets build on MNIST-sized and CIFAR-sized inputs and describe themselves.
    @Test func resnet20AndVGGBatchNormPresets() throws {
        for shape in [[1, 28, 28], [3, 32, 32]] {
            let model = try ModelPreset.resnet20.makeModel(inputShape: shape, classes: 10, scalar: Float.self)
            #expect(model.outputShape == [10])
            let summary = try ModelSummary(model.network, inputShape: shape)
            // He et al.'s 0.27M parameters (with 1×1 projections: 16·3·9 stem on CIFAR).
            #expect(
                summary.totalParameters > 260_000 && summary.totalParameters < 280_000, "\(summary.totalParameters)")
            #expect(try ModelSpec(describing: model.network) == ModelPreset.resnet20.spec())
            #expect(
                model.network.pytorchModule.hasPrefix(
                    "nn.Sequential(nn.Conv2d(\(shape[0]), 16, 3, stride=1, padding=1, bias=False)"))
        }
        let shapes = try ModelPreset.resnet20.spec().layerShapes(forInputShape: [1, 28, 28])
        #expect(shapes[5] == [16, 28, 28] && shapes[6] == [32, 14, 14] && shapes[9] == [64, 7, 7])
        let vgg = try ModelPreset.vggBN.makeModel(inputShape: [3, 32, 32], classes: 10, scalar: Float.self)
        #expect(vgg.network.namedBuffers.count == 12)
        #expect(try ModelSpec(describing: vgg.network) == ModelPreset.vggBN.spec())
    }
}
