import Foundation

/// A model named on the command line: a checkpoint file, a preset name or a spec string.
public struct ModelSource {
    /// The architecture.
    public var spec: ModelSpec
    /// The input shape the checkpoint was trained on, when the source is a checkpoint.
    public var inputShape: [Int]?
    /// The checkpoint file, when the source is one.
    public var checkpoint: URL?

    /// Resolves `text`: an existing file is read as a checkpoint, a preset name gives its spec,
    /// `recipe:NAME` a training recipe's network, anything else is parsed as a spec.
    public init(_ text: String, classes: Int = 10) throws {
        if FileManager.default.fileExists(atPath: text) {
            let url = URL(fileURLWithPath: text)
            guard let metadata = try Checkpoint.metadata(at: url) else {
                throw ConvNetError.invalidData(
                    "\(url.lastPathComponent) has no ConvNet metadata: give its spec instead")
            }
            spec = metadata.spec
            inputShape = metadata.inputShape
            checkpoint = url
        } else if let preset = ModelPreset(rawValue: text.lowercased()) {
            spec = try preset.spec(classes: classes)
        } else if text.lowercased().hasPrefix("recipe:") {
            spec = try ModelSpec(parsing: try TrainingRecipe(named: String(text.dropFirst("recipe:".count))).spec)
        } else {
            spec = try ModelSpec(parsing: text)
        }
    }

    /// Parses "3,32,32" or "3x32x32" into [3, 32, 32].
    public static func parseShape(_ text: String) throws -> [Int] {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == "x" || $0 == " " })
        let shape = parts.compactMap { Int($0) }
        guard !shape.isEmpty, shape.count == parts.count, shape.allSatisfy({ $0 > 0 }) else {
            throw ConvNetError.invalidArgument("an input shape is positive integers such as 3,32,32; found '\(text)'")
        }
        return shape
    }
}
