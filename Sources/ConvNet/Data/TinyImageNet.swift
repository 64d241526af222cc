import Foundation

/// Tiny ImageNet in its standard `tiny-imagenet-200` layout (200 classes of 64×64 JPEGs):
///
///     wnids.txt                          one WordNet id per line: the classes, in label order
///     words.txt                          "<wnid>\t<name>, <synonym>, …" (optional)
///     train/<wnid>/images/*.JPEG         500 per class; train/<wnid>/<wnid>_boxes.txt is ignored
///     val/images/*.JPEG                  10,000 images
///     val/val_annotations.txt            "<file>\t<wnid>\t<box…>" per validation image
///     test/images/*.JPEG                 unlabelled: not read
///
/// As in the classic cs231n loader (`load_tiny_imagenet`), labels follow the order of
/// `wnids.txt` (not sorted), and the `val` images are the validation split; there is no
/// labelled test split. A class name is the first name `words.txt` gives its wnid ("goldfish"
/// for "goldfish, Carassius auratus"), or the wnid itself. Images go through the same
/// ``ImageTransform`` as ``ImageFolder`` (the native 64×64 unless a size is given; the few
/// gray JPEGs become RGB).
public enum TinyImageNet {
    /// The folder name of the distribution.
    public static let folderName = "tiny-imagenet-200"

    /// Lists the classes, their names, and the training and validation files of `root`.
    public static func list(_ root: URL) throws -> (
        wnids: [String], classNames: [String], train: [LabeledFile], validation: [LabeledFile]?
    ) {
        let wnidsURL = root.appendingPathComponent("wnids.txt")
        guard FileManager.default.fileExists(atPath: wnidsURL.path) else {
            throw ConvNetError.fileSystem(
                "tinyimagenet not found in \(root.path): expected wnids.txt, words.txt, train/ and val/ of \(folderName) "
                    + "(unpack http://cs231n.stanford.edu/tiny-imagenet-200.zip and pass --data-dir)")
        }
        let wnids = try lines(wnidsURL).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !wnids.isEmpty else { throw ConvNetError.invalidData("\(wnidsURL.path): no class ids") }
        if let repeated = Dictionary(grouping: wnids, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw ConvNetError.invalidData("\(wnidsURL.path): class id '\(excerpt(repeated))' appears more than once")
        }
        try ReaderLimits.current.checkLabel(wnids.count - 1, in: wnidsURL.path)
        let label = Dictionary(uniqueKeysWithValues: wnids.enumerated().map { ($1, $0) })
        var names = [String: String]()
        let wordsURL = root.appendingPathComponent("words.txt")
        if FileManager.default.fileExists(atPath: wordsURL.path) {
            for line in try lines(wordsURL) {
                let fields = line.split(separator: "\t", maxSplits: 1)
                guard fields.count == 2, label[String(fields[0])] != nil else { continue }
                let first = fields[1].split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                names[String(fields[0])] = first.isEmpty ? nil : first
            }
        }
        let classNames = wnids.map { names[$0] ?? $0 }
        var train: [LabeledFile] = []
        for (index, wnid) in wnids.enumerated() {
            let folder = root.appendingPathComponent("train").appendingPathComponent(wnid).appendingPathComponent(
                "images")
            guard ImageFolder.isDirectory(folder) else {
                throw ConvNetError.fileSystem("tinyimagenet: \(folder.path) is missing")
            }
            let files = try ImageFolder.contents(folder).filter(ImageFolder.isImageFile)
            guard !files.isEmpty else { throw ConvNetError.fileSystem("tinyimagenet: \(folder.path) has no images") }
            train += files.map { LabeledFile(url: folder.appendingPathComponent($0), label: index) }
        }
        var validation: [LabeledFile]?
        let annotations = root.appendingPathComponent("val").appendingPathComponent("val_annotations.txt")
        if FileManager.default.fileExists(atPath: annotations.path) {
            let images = root.appendingPathComponent("val").appendingPathComponent("images")
            var files: [LabeledFile] = []
            for (number, line) in try lines(annotations).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 2, let value = label[String(fields[1])] else {
                    throw ConvNetError.invalidLabels(
                        "\(annotations.path) line \(number + 1): '\(excerpt(line))' does not name a file and a class of wnids.txt"
                    )
                }
                files.append(LabeledFile(url: images.appendingPathComponent(String(fields[0])), label: value))
            }
            validation = files.sorted { ImageFolder.precedes($0.url.lastPathComponent, $1.url.lastPathComponent) }
        }
        return (wnids, classNames, train, validation)
    }

    /// Loads `root` as raw splits: train and validation (uint8, scale 255).
    public static func load(from root: URL, options: ImageLoadOptions = ImageLoadOptions()) throws -> RawDatasetSplits {
        let listing = try list(root)
        return try ImageFolder.makeSplits(
            train: listing.train, validation: listing.validation, test: nil, classNames: listing.classNames,
            options: options, name: "tinyimagenet")
    }

    static func lines(_ url: URL) throws -> [String] {
        let bytes = try readFileBytes(url)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConvNetError.invalidData("\(url.path) is not UTF-8 text")
        }
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
            line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
    }
}
