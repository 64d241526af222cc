import ArgumentParser
import ConvNet
import Foundation

/// `convnet summary SPEC|PRESET|CKPT`: per-layer shapes, parameters, FLOPs, activation memory.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers: output shape, parameters, FLOPs and activation memory, with totals.")

    @Argument(help: "A model spec, a preset name or a checkpoint file.")
    var model: String

    @Option(
        name: .customLong("input-shape"),
        help: "Shape of one input sample, e.g. 3,32,32 (default: the checkpoint's, else 3,32,32).")
    var inputShape: String?

    @Option(help: "Classes, for a preset.")
    var classes: Int = 10

    func run() throws {
        let source = try ModelSource(model, classes: classes)
        let shape = try inputShape.map(ModelSource.parseShape) ?? source.inputShape ?? [3, 32, 32]
        let network = try source.spec.makeNetwork(inputShape: shape, initializer: .zeros, scalar: Float.self)
        print("spec: \(source.spec)")
        print(try ModelSummary(network, inputShape: shape).text)
        print("\nPyTorch equivalent:\n" + (try source.spec.pytorchSource(inputShape: shape)))
    }
}

/// `convnet gradcheck SPEC`: per-layer largest relative error of backward vs central differences.
struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every layer's backward pass against central differences, in Double.")

    @Argument(help: "A model spec, a preset name or a checkpoint file.")
    var model: String

    @Option(
        name: .customLong("input-shape"),
        help: "Shape of one input sample, e.g. 1,8,8 (default: the checkpoint's, else 3,8,8).")
    var inputShape: String?

    @Option(help: "Batch size of the random input.")
    var batch: Int = 2

    @Option(help: "Classes, for a preset.")
    var classes: Int = 10

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        guard batch > 0 else { throw ConvNetError.invalidArgument("--batch must be > 0, found \(batch)") }
        let source = try ModelSource(model, classes: classes)
        let shape = try inputShape.map(ModelSource.parseShape) ?? source.inputShape ?? [3, 8, 8]
        let network = try source.spec.makeNetwork(
            inputShape: shape, initializer: .pytorchDefault, seed: 1, scalar: Double.self)
        print(
            "gradient check of \(source.spec) on input [\(batch), \(shape.map(String.init).joined(separator: ", "))] (Double, h = 1e-5)"
        )
        var worst = 0.0
        for result in try GradientCheck.check(network: network, inputShape: shape, batch: batch) {
            let parameters = result.parameterErrors.map { "\($0.name) \(String(format: "%.2e", $0.error))" }.joined(
                separator: ", ")
            let layer = result.layer.padding(toLength: 50, withPad: " ", startingAt: 0)
            print(
                String(format: "%3d  ", result.index) + layer + String(format: "  input %.2e", result.inputError)
                    + (parameters.isEmpty ? "" : "  " + parameters))
            worst = max(worst, result.largestError)
        }
        print(String(format: "largest relative error %.2e", worst))
    }
}

/// `convnet models DIR`: the checkpoints of a folder with their spec and accuracy.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the checkpoints in a folder with their spec and accuracy.")

    @Argument(help: "A folder, e.g. a run directory.")
    var directory: String

    func run() throws {
        let entries = try CheckpointListing.scan(URL(fileURLWithPath: directory))
        if entries.isEmpty { print("no .safetensors files in \(directory)") }
        for entry in entries {
            if let problem = entry.problem {
                print("\(entry.file): skipped: \(problem)")
                continue
            }
            var line = entry.file
            if let accuracy = entry.validationAccuracy { line += String(format: "  val acc %.4f", accuracy) }
            if let epoch = entry.epoch { line += "  epoch \(epoch)" }
            if let shape = entry.inputShape { line += "  input [\(shape.map(String.init).joined(separator: ", "))]" }
            print(line + "\n    " + (entry.spec ?? ""))
        }
    }
}
