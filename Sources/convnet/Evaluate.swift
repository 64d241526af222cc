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

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: checkpoint))
        guard let layout = ImageLayout(rawValue: layout.lowercased()) else {
            throw ConvNetError.invalidArgument("unknown layout '\(layout)'; use nchw or nhwc")
        }
        let name = try DatasetName(named: dataset)
        var images = ImageLoadOptions()
        if name == .imageFolder || name == .tinyImageNet {
            // Image files are brought to the checkpoint's input size and channels.
            let transform = try ImageTransform(inputShape: predictor.model.inputShape)
            images = ImageLoadOptions(size: transform.size, channels: transform.channels)
        }
        let raw = try DatasetLoader.load(
            name, directory: dataDirectory.map { URL(fileURLWithPath: $0) }, layout: layout, images: images)
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

/// `convnet predict CKPT a.png b.jpg …` or `convnet predict CKPT --input x.npy --output scores.npy`.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Score image files (PNG, JPEG) or a .npy of images: the top classes with probabilities, and optionally the raw scores.",
        discussion: """
            Image files are decoded, converted to the checkpoint's channels, resized (bilinear) and \
            center-cropped to its input size as imagefolder training does, scaled to the range of its \
            training data, then given the checkpoint's preprocessing. Each prints \
            'FILE: class probability, ...' (the top 5 unless --top-k says otherwise).
            """)

    @Argument(help: "A checkpoint (.safetensors) written by ConvNet.")
    var checkpoint: String

    @Argument(help: "Image files (.png, .jpg, .jpeg) to classify.")
    var images: [String] = []

    @Option(help: "Images as .npy: [N, C, H, W] (or [N, H, W, C] with --layout nhwc), raw values as in the dataset.")
    var input: String?

    @Option(help: "Where to write the scores (.npy, float32 [N, C]).")
    var output: String?

    @Option(name: .customLong("top-k"), help: "Print the K most probable classes of each image.")
    var topK: Int?

    @Option(help: "Layout of the images: nchw or nhwc.")
    var layout: String = "nchw"

    @Flag(
        help:
            "The --input images are already model inputs (scaled and mean-subtracted as the checkpoint's preprocessing does): take them as they are."
    )
    var preprocessed = false

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        guard !preprocessed || input != nil else {
            throw ConvNetError.invalidArgument(
                "--preprocessed applies to --input FILE.npy (image files are always raw pixels)")
        }
        guard input == nil || images.isEmpty else {
            throw ConvNetError.invalidArgument("give image files to classify or --input FILE.npy, not both")
        }
        guard input != nil || !images.isEmpty else {
            throw ConvNetError.invalidArgument("give image files to classify, or --input FILE.npy")
        }
        guard !images.isEmpty || output != nil || topK != nil else {
            throw ConvNetError.invalidArgument("give --output FILE.npy, --top-k K, or both")
        }
        guard let layout = ImageLayout(rawValue: layout.lowercased()) else {
            throw ConvNetError.invalidArgument("unknown layout '\(layout)'; use nchw or nhwc")
        }
        let predictor = try Predictor(checkpoint: URL(fileURLWithPath: checkpoint))
        let batch: ImageArray
        if let input {
            batch = try ImageArray(NumPyArray(contentsOf: URL(fileURLWithPath: input)), layout: layout)
        } else {
            batch = try predictor.imageInputs(images.map { URL(fileURLWithPath: $0) })
        }
        if !preprocessed, let warning = predictor.preprocessingWarning(for: batch) {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        let scores = try predictor.scores(batch, preprocessed: preprocessed)
        if let output {
            try NumPyArray(shape: scores.shape, float32: scores.scalars).write(to: URL(fileURLWithPath: output))
            print("wrote \(output): float32 [\(scores.shape.map(String.init).joined(separator: ", "))]")
        }
        if topK != nil || !images.isEmpty {
            let k = topK ?? min(5, scores.shape.last ?? 1)
            for (row, best) in try predictor.topK(scores, k: k).enumerated() {
                let label = images.isEmpty ? "\(row)" : images[row]
                print(
                    "\(label): "
                        + best.map { "\($0.name) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", "))
            }
        }
    }
}
