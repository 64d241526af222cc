import Foundation

/// How image files become samples: the size and channel count to bring them to (nil: decided
/// from the data, see ``ImageFolder``).
public struct ImageLoadOptions: Sendable, Equatable {
    /// The sample size; nil keeps the images' own size, which must then be the same for all.
    public var size: ImageSize?
    /// 1 or 3; nil: 3 when any training image has colour, else 1.
    public var channels: Int?

    public init(size: ImageSize? = nil, channels: Int? = nil) {
        self.size = size
        self.channels = channels
    }
}

/// One labelled image file.
public struct LabeledFile: Sendable, Equatable {
    public var url: URL
    public var label: Int

    public init(url: URL, label: Int) {
        self.url = url
        self.label = label
    }
}

/// A folder of images in one subfolder per class, read as torchvision's `ImageFolder` reads it:
///
///     root/<class>/**/*.{png,jpg,jpeg}          (extensions in any case)
///     root/train/<class>/…  root/val/<class>/…  root/test/<class>/…   (optional splits)
///
/// Classes are the subfolders in sorted order (Unicode code points, as Python sorts), labels
/// 0, 1, …; files are found recursively (symbolic links followed) in `sorted(os.walk(…))`
/// order. With a `train/` folder its classes are the classes, and `val/` (or `validation/`)
/// and `test/` may hold any of them; without one, every image is a training image. Unlike
/// torchvision, names starting with "." are skipped (no `.ipynb_checkpoints` class), and a class
/// folder without images is an error.
///
/// Every image goes through an ``ImageTransform``: the size is `--image-size` (or a
/// checkpoint's), else the images' own (then all must share it); the channel count is the
/// option's, else 3 when any training image has colour (gray images are copied into R, G, B),
/// else 1. Samples are uint8 [C, H, W] (scale 255). The training split is shuffled once with
/// seed 0 when there is no validation split, so that the validation samples taken from its
/// end come from every class.
public enum ImageFolder {
    /// The folder names of the optional splits.
    public static let validationFolders = ["val", "validation"]

    /// Lists `root`: the class names and the files of each split.
    public static func list(_ root: URL) throws -> (
        classNames: [String], train: [LabeledFile], validation: [LabeledFile]?, test: [LabeledFile]?
    ) {
        guard isDirectory(root) else { throw ConvNetError.fileSystem("imagefolder: \(root.path) is not a folder") }
        let trainRoot = root.appendingPathComponent("train")
        let hasSplits = isDirectory(trainRoot)
        let classRoot = hasSplits ? trainRoot : root
        let classNames = try subfolders(classRoot)
        guard !classNames.isEmpty else {
            throw ConvNetError.fileSystem(
                "imagefolder: \(classRoot.path) has no class folders (expected \(classRoot.path)/<class>/*.png|jpg|jpeg)"
            )
        }
        try ReaderLimits.current.checkLabel(classNames.count - 1, in: classRoot.path)
        let train = try files(in: classRoot, classNames: classNames, requireEvery: true)
        guard hasSplits else { return (classNames, train, nil, nil) }
        let validation = try validationFolders.map { root.appendingPathComponent($0) }.first(where: isDirectory)
            .map { try files(in: $0, classNames: classNames, requireEvery: false) }
        let testRoot = root.appendingPathComponent("test")
        let test = isDirectory(testRoot) ? try files(in: testRoot, classNames: classNames, requireEvery: false) : nil
        return (classNames, train, validation, test)
    }

    /// Loads `root` as raw splits (uint8, scale 255).
    public static func load(from root: URL, options: ImageLoadOptions = ImageLoadOptions()) throws -> RawDatasetSplits {
        let listing = try list(root)
        return try makeSplits(
            train: listing.train, validation: listing.validation, test: listing.test, classNames: listing.classNames,
            options: options,
            name: "imagefolder")
    }

    /// Decodes the splits' files; the training split decides the size and channels the others
    /// get. Shuffles the training files (seed 0) when there is no validation split.
    static func makeSplits(
        train: [LabeledFile], validation: [LabeledFile]?, test: [LabeledFile]?, classNames: [String],
        options: ImageLoadOptions, name: String
    ) throws -> RawDatasetSplits {
        var trainFiles = train
        if validation == nil {
            var random = SeededRandom(seed: 0)
            trainFiles = random.permutation(train.count).map { train[$0] }
        }
        let trainImages = try loadImages(trainFiles, options: options, name: "\(name) training split")
        let fixed = ImageLoadOptions(
            size: try ImageSize(height: trainImages.images.shape[2], width: trainImages.images.shape[3]),
            channels: trainImages.images.shape[1])
        let validationImages = try validation.flatMap {
            $0.isEmpty ? nil : try loadImages($0, options: fixed, name: "\(name) validation split")
        }
        let testImages = try test.flatMap {
            $0.isEmpty ? nil : try loadImages($0, options: fixed, name: "\(name) test split")
        }
        return try RawDatasetSplits(
            train: trainImages, validation: validationImages, test: testImages, classNames: classNames, scale: 255)
    }

    /// Decodes `files` into uint8 images [N, C, H, W] (in parallel); see the type's
    /// description for how the size and channels are chosen.
    public static func loadImages(_ files: [LabeledFile], options: ImageLoadOptions, name: String) throws
        -> LabeledImages
    {
        guard let first = files.first else { throw ConvNetError.invalidArgument("\(name) has no images") }
        // The first image fixes the size when none is given.
        let firstImage = try ImageDecoder.decode(contentsOf: first.url)
        let size = try options.size ?? ImageSize(height: firstImage.height, width: firstImage.width)
        let transform = try ImageTransform(size: size, channels: options.channels ?? 3)
        let sampleSize = try ReaderLimits.current.checkSample(
            [transform.channels, size.height, size.width], "\(name): image sample")
        guard let total = checkedProduct([files.count, sampleSize]) else {
            throw ConvNetError.invalidArgument(
                "\(name): \(files.count) images of \(sampleSize) samples are too many to count")
        }
        var pixels = [UInt8](repeating: 0, count: total)
        let parts = min(ThreadPool.coreCount, files.count)
        var failures = [(index: Int, error: Error)?](repeating: nil, count: parts)
        var colour = [Bool](repeating: false, count: parts)
        pixels.withUnsafeMutableBufferPointer { output in
            failures.withUnsafeMutableBufferPointer { failed in
                colour.withUnsafeMutableBufferPointer { coloured in
                    ThreadPool.run(parts: parts) { part in
                        for index in stride(from: part, to: files.count, by: parts) {
                            do {
                                let image =
                                    index == 0 ? firstImage : try ImageDecoder.decode(contentsOf: files[index].url)
                                if options.size == nil && (image.height != size.height || image.width != size.width) {
                                    throw ConvNetError.shapeMismatch(
                                        "\(name): \(files[index].url.path) is \(image.width)×\(image.height) but \(first.url.path) is "
                                            + "\(size.width)×\(size.height); give an image size (--image-size S or HxW) to resize them"
                                    )
                                }
                                if image.isColor { coloured[part] = true }
                                let sample = try transform.apply(image).samples
                                for i in 0..<sampleSize { output[index * sampleSize + i] = sample[i] }
                            } catch {
                                failed[part] = (index, error)
                                return
                            }
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).min(by: { $0.index < $1.index }) { throw failure.error }
        var channels = transform.channels
        if options.channels == nil && !colour.contains(true) {
            // Every image was gray: keep one of the three identical channels.
            let plane = size.height * size.width
            pixels = (0..<files.count).flatMap { pixels[($0 * sampleSize)..<($0 * sampleSize + plane)] }
            channels = 1
        }
        return try LabeledImages(
            images: ImageArray(shape: [files.count, channels, size.height, size.width], storage: .uint8(pixels)),
            labels: files.map(\.label), name: name)
    }

    static func isDirectory(_ url: URL) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) && directory.boolValue
    }

    /// Python's string order (by Unicode code points).
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    static func contents(_ folder: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
                .sorted(by: precedes)
        } catch {
            throw ConvNetError.fileSystem("cannot list \(folder.path): \(reason(error))")
        }
    }

    /// The non-hidden subfolders of `folder`, sorted.
    static func subfolders(_ folder: URL) throws -> [String] {
        try contents(folder).filter { isDirectory(folder.appendingPathComponent($0)) }
    }

    /// Whether `name` ends in .png, .jpg or .jpeg (any case).
    public static func isImageFile(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return ImageFormat.fileExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// The image files under `folder`, recursively, in `sorted(os.walk(folder))` order: by
    /// directory path, then by name.
    static func imageFiles(under folder: URL) throws -> [URL] {
        var found: [(directory: String, name: String)] = []
        func walk(_ directory: URL, depth: Int) throws {
            guard depth < 32 else {
                throw ConvNetError.fileSystem(
                    "imagefolder: folders nest deeper than 32 levels at \(directory.path) (a link loop?)")
            }
            for name in try contents(directory) {
                let url = directory.appendingPathComponent(name)
                if isDirectory(url) {
                    try walk(url, depth: depth + 1)
                } else if isImageFile(name) {
                    found.append((directory.path, name))
                }
            }
        }
        try walk(folder, depth: 0)
        return found.sorted {
            precedes($0.directory, $1.directory) || ($0.directory == $1.directory && precedes($0.name, $1.name))
        }
        .map { URL(fileURLWithPath: $0.directory).appendingPathComponent($0.name) }
    }

    /// The files of every class folder under `root`; folders that are not classes are an error.
    static func files(in root: URL, classNames: [String], requireEvery: Bool) throws -> [LabeledFile] {
        var result: [LabeledFile] = []
        let present = try subfolders(root)
        if let unknown = present.first(where: { !classNames.contains($0) }) {
            throw ConvNetError.invalidLabels(
                "imagefolder: \(root.appendingPathComponent(unknown).path) is not one of the \(classNames.count) training classes"
            )
        }
        for (label, name) in classNames.enumerated() where present.contains(name) || requireEvery {
            let files = try imageFiles(under: root.appendingPathComponent(name))
            if files.isEmpty && requireEvery {
                throw ConvNetError.fileSystem(
                    "imagefolder: class folder \(root.appendingPathComponent(name).path) has no .png, .jpg or .jpeg files"
                )
            }
            result += files.map { LabeledFile(url: $0, label: label) }
        }
        return result
    }
}
