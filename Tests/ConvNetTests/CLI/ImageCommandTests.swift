import Foundation
import Testing

@testable import ConvNet

/// Image files from the command line: `train --dataset imagefolder` on a folder of PNGs made
/// here, `eval` and `predict` on image files (the checkpoint's resize and preprocessing), the
/// size taken from `--init`'s checkpoint, and bad image options as one `error:` line.
extension CommandLineTests {
    /// Two classes of 10×10 RGB PNGs: "dark" (samples 0–59) and "light" (196–255), `count` each.
    static func makeDarkLightFolder(_ root: URL, count: Int, seed: UInt64) throws -> [URL] {
        var random = SeededRandom(seed: seed)
        var files: [URL] = []
        for (name, low) in [("dark", 0), ("light", 196)] {
            for index in 0..<count {
                let pixels = (0..<300).map { _ in UInt8(low + Int(random.uniform() * 60)) }
                let url = root.appendingPathComponent(name).appendingPathComponent("\(index).png")
                try ImageFolderTests.writePNG(pixels, width: 10, height: 10, channels: 3, to: url)
                files.append(url)
            }
        }
        return files
    }

    @Test func imageFolderTrainEvalPredict() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-images-cli-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        let runDirectory = directory.appendingPathComponent("run")
        _ = try Self.makeDarkLightFolder(data, count: 12, seed: 1)
        let spec = "conv(4,k=3,p=1) relu maxpool(2) flatten dense(2)"
        guard
            let trained = try run([
                "train", "--dataset", "imagefolder", "--data-dir", data.path, "--image-size", "8", "--spec", spec,
                "--epochs", "20",
                "--learning-rate", "0.01", "--num-validation", "4", "--out", runDirectory.path,
            ])
        else { return }
        #expect(trained.status == 0, "\(trained.error)")
        #expect(trained.output.contains("imagefolder: 20 train, 4 val, 0 test, samples [3, 8, 8]"), "\(trained.output)")
        let best = runDirectory.appendingPathComponent("best.safetensors").path

        // New images of each class, and a JPEG from the fixtures (any size: resized to 8×8).
        let fresh = try Self.makeDarkLightFolder(directory.appendingPathComponent("fresh"), count: 1, seed: 99)
        let jpeg = ImageDecoderTests.fixtures.appendingPathComponent(
            "jpeg_RGB_33x31_progressiveTrue_quality75_subsampling0.jpg"
        ).path
        let predicted = try #require(try run(["predict", best] + fresh.map(\.path) + [jpeg]))
        #expect(predicted.status == 0, "\(predicted.error)")
        let lines = predicted.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(predicted.output)")
        #expect(
            lines.first?.hasPrefix("\(fresh[0].path): dark ") == true
                && lines.dropFirst().first?.hasPrefix("\(fresh[1].path): light ") == true,
            "\(predicted.output)")
        // The same classes and probabilities as the library computes (top 2 of 2 classes).
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: best))
        let scores = try predictor.scores(predictor.imageInputs(fresh + [URL(fileURLWithPath: jpeg)]))
        for (line, best) in zip(lines, try predictor.topK(scores, k: 2)) {
            #expect(
                line.hasSuffix(
                    ": " + best.map { "\($0.name) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", ")),
                "\(line)")
        }
        let one = try #require(try run(["predict", best, fresh[1].path, "--top-k", "1"]))
        #expect(one.output.split(separator: ",").count == 1 && one.output.contains(": light "), "\(one.output)")

        let evaluation = try #require(
            try run(["eval", best, "--dataset", "imagefolder", "--data-dir", data.path, "--split", "train"]))
        #expect(evaluation.status == 0 && evaluation.output.contains("confusion matrix"), "\(evaluation.error)")

        // The size comes from --init's checkpoint when not given (the images are 10×10).
        let again = try #require(
            try run([
                "train", "--dataset", "imagefolder", "--data-dir", data.path, "--init", best, "--spec", spec,
                "--epochs", "1", "--quiet",
            ]))
        #expect(again.status == 0, "\(again.error)")

        let notes = directory.appendingPathComponent("notes.txt")
        try Data("not an image".utf8).write(to: notes)
        let bad: [([String], String)] = [
            (["train", "--dataset", "imagefolder"], "--dataset imagefolder needs --data-dir"),
            (["train", "--image-size", "8"], "apply to imagefolder and tinyimagenet, not digits"),
            (
                ["train", "--dataset", "imagefolder", "--data-dir", data.path, "--image-size", "0"],
                "image size must be at least 1×1"
            ),
            (
                ["train", "--dataset", "imagefolder", "--data-dir", data.path, "--image-size", "8y8"],
                "--image-size takes S or HxW"
            ),
            (
                ["train", "--dataset", "imagefolder", "--data-dir", data.path, "--image-channels", "2"],
                "--image-channels takes 1 or 3"
            ),
            (["train", "--dataset", "imagefolder", "--data-dir", notes.path], "is not a folder"),
            (["train", "--dataset", "tinyimagenet", "--data-dir", data.path], "expected wnids.txt"),
            (["predict", best, notes.path], "notes.txt: not a PNG or JPEG file"),
            (["predict", best, directory.appendingPathComponent("missing.png").path], "no such file"),
            (["predict", best, fresh[0].path, "--input", notes.path], "not both"),
            (["predict", best], "give image files to classify, or --input FILE.npy"),
        ]
        for (arguments, expected) in bad {
            let result = try #require(try run(arguments))
            #expect(result.status == 1, "\(arguments): exit \(result.status)")
            let errorLines = result.error.split(separator: "\n")
            #expect(
                errorLines.count == 1 && errorLines.first?.hasPrefix("error: ") == true
                    && result.error.contains(expected), "\(arguments): \(result.error)")
        }
    }
}
