import Foundation
import Testing

@testable import ConvNet

/// The training-state file beside a checkpoint: an optimizer restored from it continues
/// exactly as the original would have.
struct TrainingStateTests {
    @Test func restoredOptimizersContinueIdentically() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs: Tensor<Double> = randomTensor([6, 1, 8, 8], seed: 1)
        let labels = try Tensor<Double>(shape: [6], scalars: [0, 1, 2, 3, 4, 5])
        for rule in UpdateRule.allCases {
            let model = try ModelPreset.mlp.makeModel(
                inputShape: [1, 8, 8], classes: 10, hiddenSizes: [7], seed: 2, scalar: Double.self)
            let optimizer: any Optimizer<Double> = try rule.makeOptimizer()
            for _ in 0..<3 {
                _ = try model.lossAndGradients(inputs: inputs, targets: labels)
                try optimizer.update(model.parameters)
            }
            optimizer.learningRate *= 0.5
            // The checkpoint stores F32: round the weights so that both runs start equal.
            for parameter in model.parameters {
                parameter.value = parameter.value.converted(to: Float.self).converted()
            }
            var history = TrainingHistory()
            history.bestEpoch = 1
            let state = TrainingState(
                updateRule: rule.rawValue, optimizerConfiguration: [:], learningRate: optimizer.learningRate, epoch: 1,
                iteration: 3,
                random: SeededRandom(seed: 9), history: history, optimizerState: TrainingState.capture(optimizer))
            let checkpoint = folder.appendingPathComponent("\(rule.rawValue).safetensors")
            try Checkpoint.save(model, to: checkpoint)
            let stateURL = TrainingState.url(besides: checkpoint)
            #expect(stateURL.lastPathComponent == "\(rule.rawValue).state.safetensors")
            try state.write(to: stateURL, float64: true)

            // The original takes one more step.
            _ = try model.lossAndGradients(inputs: inputs, targets: labels)
            try optimizer.update(model.parameters)

            // The copy: weights from the checkpoint, optimizer from the state file.
            let copy = try Checkpoint.load(from: checkpoint, as: Double.self).model
            let read = try TrainingState(contentsOf: stateURL)
            #expect(read == state, "\(rule)")
            let restored: any Optimizer<Double> = try UpdateRule(named: read.updateRule).makeOptimizer(
                configuration: read.optimizerConfiguration)
            try read.restore(into: restored)
            #expect(restored.learningRate == optimizer.learningRate)
            _ = try copy.lossAndGradients(inputs: inputs, targets: labels)
            try restored.update(copy.parameters)
            for (a, b) in zip(model.parameters, copy.parameters) {
                #expect(relativeError(a.value.scalars, b.value.scalars) < 1e-12, "\(rule)")
            }
        }
    }
}
