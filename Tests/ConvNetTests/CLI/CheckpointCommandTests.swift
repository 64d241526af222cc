import Foundation
import Testing

@testable import ConvNet

/// The checkpoint commands end to end: train with --out, then eval, predict, summary,
/// gradcheck and models on what it saved, and train --resume.
extension CommandLineTests {
    @Test func checkpointCommands() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-ckpt-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard
            let trained = try run([
                "train", "--spec", "conv(8,k=3,p=1) relu maxpool(2) flatten dense(10)", "--epochs", "2", "--out",
                directory.path,
            ])
        else { return }
        #expect(trained.status == 0, "\(trained.error)")
        let best = directory.appendingPathComponent("best.safetensors").path

        let evaluation = try #require(try run(["eval", best]))
        #expect(evaluation.status == 0, "\(evaluation.error)")
        #expect(evaluation.output.contains("per-class accuracy") && evaluation.output.contains("confusion matrix"))

        // Raw digits pixels (0..16, as the dataset stores them) as a float32 .npy.
        let raw = try DatasetLoader.bundledDigits()
        let test = try #require(raw.test).prefix(5)
        let input = directory.appendingPathComponent("x.npy")
        let output = directory.appendingPathComponent("scores.npy")
        try NumPyArray(shape: test.images.shape, float32: test.images.floatValues()).write(to: input)
        let predicted = try #require(
            try run(["predict", best, "--input", input.path, "--output", output.path, "--top-k", "2"]))
        #expect(predicted.status == 0, "\(predicted.error)")
        let scores = try NumPyArray(contentsOf: output)
        #expect(scores.shape == [5, 10] && scores.elementType == .float32)
        #expect(
            predicted.output.split(separator: "\n").filter { $0.hasPrefix("0: ") || $0.hasPrefix("4: ") }.count == 2)
        // The same scores as the library computes.
        let library = try Predictor(checkpoint: URL(fileURLWithPath: best)).scores(test.images)
        #expect(scores.floatValues() == library.scalars)

        let summary = try #require(try run(["summary", best]))
        #expect(
            summary.status == 0 && summary.output.contains("total parameters: 1370"),
            "\(summary.output)\(summary.error)")
        let gradcheck = try #require(try run(["gradcheck", "lenet5", "--input-shape", "1,12,12"]))
        #expect(gradcheck.status == 0 && gradcheck.output.contains("largest relative error"), "\(gradcheck.error)")
        try Data("not a checkpoint".utf8).write(to: directory.appendingPathComponent("junk.safetensors"))
        let listing = try #require(try run(["models", directory.path]))
        #expect(listing.status == 0)
        #expect(
            listing.output.contains("best.safetensors  val acc")
                && listing.output.contains("last.state.safetensors: skipped"))
        #expect(
            listing.output.contains("junk.safetensors: skipped: invalid data")
                && listing.output.contains("report.html: skipped"))

        let badSpec = try #require(try run(["summary", "conv(8) relu maxpol(2)"]))
        #expect(badSpec.status == 1 && badSpec.error.contains("maxpol"), "\(badSpec.error)")
        let wrongShape = try #require(try run(["predict", best, "--input", output.path, "--top-k", "1"]))
        #expect(wrongShape.status == 1 && wrongShape.error.hasPrefix("error: "), "\(wrongShape.error)")
        let resumeNothing = try #require(
            try run(["train", "--resume", directory.appendingPathComponent("nothing").path]))
        #expect(resumeNothing.status == 1)
    }

    @Test func stopAndResumeFromTheCommandLine() throws {
        let whole = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-whole-\(getpid())")
        let parts = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-parts-\(getpid())")
        defer {
            try? FileManager.default.removeItem(at: whole)
            try? FileManager.default.removeItem(at: parts)
        }
        let common = ["train", "--epochs", "3", "--lr-decay", "0.9", "--seed", "4", "--quiet"]
        guard let a = try run(common + ["--out", whole.path]) else { return }
        let b = try #require(try run(common + ["--out", parts.path, "--stop-after-epoch", "1"]))
        let c = try #require(try run(["train", "--resume", parts.path, "--quiet"]))
        #expect(a.status == 0 && b.status == 0 && c.status == 0, "\(a.error)\(b.error)\(c.error)")
        #expect(b.output.contains("stopped after epoch 1"))
        // "test accuracy A (N images), test loss L, best epoch E": everything but the time.
        #expect(
            a.output.split(separator: ",").prefix(3) == c.output.split(separator: ",").prefix(3),
            "\(a.output) vs \(c.output)")
        for name in ["last.safetensors", "best.safetensors", "metrics.csv"] {
            #expect(
                try Data(contentsOf: whole.appendingPathComponent(name))
                    == Data(contentsOf: parts.appendingPathComponent(name)), "\(name)")
        }
    }
}

/// The BatchNorm presets from the command line: `train --model resnet20|vgg-bn` on the bundled
/// digits, then predict (inference mode, BatchNorm folded) gives the library's scores and the
/// summary prints the PyTorch module with the BasicBlocks.
extension CommandLineTests {
    @Test(arguments: ["resnet20", "vgg-bn"])
    func batchNormPresetsTrainAndPredict(model: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-\(model)-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard
            let trained = try run([
                "train", "--model", model, "--epochs", "1", "--batch-size", "64", "--quiet", "--out", directory.path,
            ])
        else { return }
        #expect(trained.status == 0, "\(trained.error)")
        #expect(trained.output.contains("test accuracy"))
        let best = directory.appendingPathComponent("best.safetensors")
        let file = try SafeTensorsFile(contentsOf: best)
        #expect(
            file.names.contains { $0.hasSuffix("running_var") }
                && file.names.contains { $0.hasSuffix("num_batches_tracked") })
        let raw = try DatasetLoader.bundledDigits()
        let test = try #require(raw.test).prefix(6)
        let input = directory.appendingPathComponent("x.npy")
        let output = directory.appendingPathComponent("scores.npy")
        try NumPyArray(shape: test.images.shape, float32: test.images.floatValues()).write(to: input)
        let predicted = try #require(try run(["predict", best.path, "--input", input.path, "--output", output.path]))
        #expect(predicted.status == 0, "\(predicted.error)")
        let library = try Predictor(checkpoint: best).scores(test.images)
        #expect(try NumPyArray(contentsOf: output).floatValues() == library.scalars)
        let summary = try #require(try run(["summary", model, "--input-shape", "3,32,32"]))
        #expect(summary.status == 0, "\(summary.error)")
        #expect(
            summary.output.contains(model == "resnet20" ? "BasicBlock(32, 64, stride=2)" : "nn.BatchNorm2d(128"),
            "\(summary.output)")
    }
}
