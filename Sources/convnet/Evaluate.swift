import ArgumentParser
import ConvNet
import Foundation

/// `convnet eval CKPT --dataset ...`: loss, accuracy, per-class accuracy, confusion matrix.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a dataset split: loss, accuracy, per-class accuracy, confusion matrix.")

    @Argument(help: "A checkpoint (.safetensors) written by ConvNet.")
    var checkpoint: String

    @Option(help: "Dataset: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: String = "digits"

    @Option(name: .customLong("data-dir"), help: "Folder with the dataset's files.")
    var dataDirectory: String?

    @Option(help: "Layout of .npy images: nchw or nhwc.")
    var layout: String = "nchw"

    @Option(help: "Split: test, validation or train.")
    var split: String = "test"

    func run() throws {
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: checkpoint))
        guard let layout = ImageLayout(rawValue: layout.lowercased()) else {
            throw ConvNetError.invalidArgument("unknown layout '\(layout)'; use nchw or nhwc")
        }
        let raw = try DatasetLoader.load(
            try DatasetName(named: dataset), directory: dataDirectory.map { URL(fileURLWithPath: $0) }, layout: layout)
        let part: LabeledImages?
        switch split {
        case "test": part = raw.test
        case "validation", "val": part = raw.validation
        case "train": part = raw.train
        default: throw ConvNetError.invalidArgument("unknown split '\(split)'; use test, validation or train")
        }
        guard let part, part.count > 0 else {
            throw ConvNetError.invalidArgument("the \(dataset) data has no \(split) split")
        }
        print("\(checkpoint) on \(dataset) \(split):")
        print(try predictor.evaluate(part).text)
    }
}

/// `convnet predict CKPT --input x.npy --output scores.npy`.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score images from a .npy file: raw class scores as float32 [N, C], and optionally the top classes.")

    @Argument(help: "A checkpoint (.safetensors) written by ConvNet.")
    var checkpoint: String

    @Option(help: "Images as .npy: [N, C, H, W] (or [N, H, W, C] with --layout nhwc), raw values as in the dataset.")
    var input: String

    @Option(help: "Where to write the scores (.npy, float32 [N, C]).")
    var output: String?

    @Option(name: .customLong("top-k"), help: "Print the K most probable classes of each image.")
    var topK: Int?

    @Option(help: "Layout of the images: nchw or nhwc.")
    var layout: String = "nchw"

    func run() throws {
        guard output != nil || topK != nil else {
            throw ConvNetError.invalidArgument("give --output FILE.npy, --top-k K, or both")
        }
        guard let layout = ImageLayout(rawValue: layout.lowercased()) else {
            throw ConvNetError.invalidArgument("unknown layout '\(layout)'; use nchw or nhwc")
        }
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: checkpoint))
        let images = try ImageArray(NumPyArray(contentsOf: URL(fileURLWithPath: input)), layout: layout)
        let scores = try predictor.scores(images)
        if let output {
            try NumPyArray(shape: scores.shape, float32: scores.scalars).write(to: URL(fileURLWithPath: output))
            print("wrote \(output): float32 [\(scores.shape.map(String.init).joined(separator: ", "))]")
        }
        if let topK {
            for (row, best) in try predictor.topK(scores, k: topK).enumerated() {
                print("\(row): " + best.map { "\($0.name) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", "))
            }
        }
    }
}
