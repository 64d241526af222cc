import Foundation

/// The datasets ConvNet loads by name (`--dataset`).
public enum DatasetName: String, CaseIterable, Sendable {
    /// scikit-learn's 8×8 digits, bundled (no files needed).
    case digits
    /// MNIST, IDX files raw or `.gz`.
    case mnist
    /// Fashion-MNIST, IDX files raw or `.gz`.
    case fashionMNIST = "fashion-mnist"
    /// CIFAR-10, binary or python distribution.
    case cifar10
    /// A folder of `x_train.npy`, `y_train.npy` and optional `x_val` / `y_val`, `x_test` /
    /// `y_test` (or one `.npz` holding those arrays).
    case npy
    /// A folder of PNG/JPEG images in one subfolder per class (torchvision's ImageFolder),
    /// optionally split into `train/`, `val/`, `test/`.
    case imageFolder = "imagefolder"
    /// Tiny ImageNet (`tiny-imagenet-200`: 200 classes of 64×64 JPEGs).
    case tinyImageNet = "tinyimagenet"

    /// The dataset called `name` (`cifar-10`, `fashion_mnist` and `fmnist` also accepted).
    public init(named name: String) throws {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        switch key {
        case "cifar-10", "cifar": self = .cifar10
        case "fmnist", "fashion": self = .fashionMNIST
        case "npz", "arrays": self = .npy
        case "image-folder", "images", "folder": self = .imageFolder
        case "tiny-imagenet", "tiny-imagenet-200", "tinyimagenet200": self = .tinyImageNet
        default:
            guard let value = DatasetName(rawValue: key) else {
                throw ConvNetError.invalidArgument(
                    "unknown dataset '\(name)'; use one of "
                        + DatasetName.allCases.map(\.rawValue).joined(separator: ", "))
            }
            self = value
        }
    }

    /// Class names where the dataset fixes them.
    public var classNames: [String]? {
        switch self {
        case .digits, .mnist: return (0...9).map(String.init)
        case .fashionMNIST:
            return [
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle boot",
            ]
        case .cifar10: return CIFAR10.classNames
        case .npy, .imageFolder, .tinyImageNet: return nil
        }
    }

    /// Where the files come from, and their checksums (what `--download` fetches).
    public var downloads: [DatasetDownload] {
        switch self {
        case .mnist:
            let base = "https://ossci-datasets.s3.amazonaws.com/mnist/"
            return [
                ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
            ]
            .map { DatasetDownload(url: base + $0.0, fileName: $0.0, md5: $0.1) }
        case .fashionMNIST:
            let base = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
            return [
                ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
            ]
            .map { DatasetDownload(url: base + $0.0, fileName: $0.0, md5: $0.1) }
        case .cifar10:
            return [
                DatasetDownload(
                    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", fileName: "cifar-10-binary.tar.gz",
                    md5: "c32a1d4ab5d03f1284b67883e8d87530")
            ]
        case .digits, .npy, .imageFolder, .tinyImageNet:
            return []
        }
    }

    /// "URL1, URL2, … into FOLDER" for messages.
    public var downloadHint: String {
        downloads.map(\.url).joined(separator: ", ")
    }
}

/// One file to download and its published checksum.
public struct DatasetDownload: Sendable, Equatable {
    /// Where it is published.
    public var url: String
    /// Its canonical name.
    public var fileName: String
    /// The published MD5 (hex).
    public var md5: String
}

/// Finds, optionally downloads, and reads datasets.
public enum DatasetLoader {
    /// The canonical IDX names of MNIST and Fashion-MNIST (train images, train labels, test
    /// images, test labels); each may also end in `.gz`, or use a dot before `idx`.
    public static let idxFileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// Loads `dataset` from `directory` (for npy: the folder or `.npz`; for the others the
    /// folder holding the files; for digits ignored). With `download`, missing MNIST,
    /// Fashion-MNIST or CIFAR-10 files are fetched into `directory` and their MD5 checked;
    /// without it, a missing file is a one-line error that says what to download and where
    /// to put it. `layout` applies to npy images ([N, H, W, C] is converted to NCHW); `images`
    /// to imagefolder and tinyimagenet (the size and channels files are brought to).
    public static func load(
        _ dataset: DatasetName, directory: URL?, download: Bool = false, layout: ImageLayout = .nchw,
        images: ImageLoadOptions = ImageLoadOptions(), log: (String) -> Void = { _ in }
    ) throws -> RawDatasetSplits {
        switch dataset {
        case .imageFolder:
            guard let directory else {
                throw ConvNetError.invalidArgument(
                    "--dataset imagefolder needs --data-dir: a folder of <class>/ folders of images (or train/, val/, test/ of them)"
                )
            }
            return try ImageFolder.load(from: directory, options: images)
        case .tinyImageNet:
            return try TinyImageNet.load(
                from: directory ?? URL(fileURLWithPath: TinyImageNet.folderName), options: images)
        case .digits:
            return try bundledDigits()
        case .npy:
            guard let directory else {
                throw ConvNetError.invalidArgument(
                    "--dataset npy needs --data-dir: a folder with x_train.npy and y_train.npy, or a .npz")
            }
            return try ArrayDataset.load(from: directory, layout: layout)
        case .mnist, .fashionMNIST:
            let folder = directory ?? URL(fileURLWithPath: dataset.rawValue)
            if findIDX(in: folder) == nil {
                if download { try fetch(dataset, into: folder, log: log) } else { throw missing(dataset, folder) }
            }
            guard let files = findIDX(in: folder) else { throw missing(dataset, folder) }
            let loaded = try files.map { try IDXFile(contentsOf: $0) }
            func split(_ images: IDXFile, _ labels: IDXFile) throws -> LabeledImages {
                guard images.shape.count == 3, labels.shape.count == 1 else {
                    throw ConvNetError.invalidData(
                        "\(dataset.rawValue): IDX images must be [N, H, W] and labels [N], found \(describe(images.shape)) and \(describe(labels.shape))"
                    )
                }
                let shape = [images.shape[0], 1, images.shape[1], images.shape[2]]
                return try LabeledImages(
                    images: ImageArray(shape: shape, storage: .uint8(images.bytes)),
                    labels: labels.bytes.map { Int($0) }, name: dataset.rawValue)
            }
            return try RawDatasetSplits(
                train: split(loaded[0], loaded[1]), test: split(loaded[2], loaded[3]), classNames: dataset.classNames!,
                scale: 255)
        case .cifar10:
            let folder = directory ?? URL(fileURLWithPath: "cifar10")
            do {
                return try CIFAR10.load(from: folder)
            } catch ConvNetError.fileSystem(let message) where message.hasPrefix("CIFAR-10 not found") {
                guard download else { throw missing(dataset, folder) }
                try fetch(dataset, into: folder, log: log)
                return try CIFAR10.load(from: folder)
            }
        }
    }

    /// The four IDX files in `folder` (raw preferred over `.gz`), or nil when one is missing.
    public static func findIDX(in folder: URL) -> [URL]? {
        let fm = FileManager.default
        var found: [URL] = []
        for name in idxFileNames {
            let dotted = name.replacingOccurrences(of: "-idx", with: ".idx")
            let candidates = [name, name + ".gz", dotted, dotted + ".gz"].map { folder.appendingPathComponent($0) }
            guard let url = candidates.first(where: { fm.fileExists(atPath: $0.path) }) else { return nil }
            found.append(url)
        }
        return found
    }

    static func missing(_ dataset: DatasetName, _ folder: URL) -> ConvNetError {
        let what: String
        switch dataset {
        case .cifar10: what = "cifar-10-batches-bin/ or cifar-10-batches-py/ (unpack \(dataset.downloadHint))"
        default:
            what =
                idxFileNames.joined(separator: ", ")
                + " (raw or .gz; from \(dataset.downloads.first.map { $0.url.replacingOccurrences(of: $0.fileName, with: "") } ?? ""))"
        }
        return .fileSystem("\(dataset.rawValue) not found in \(folder.path): put \(what) there, or pass --download")
    }

    /// The bundled digits as raw splits: the seeded shuffle of `BundledData.digitsSplits`
    /// (seed 0), 1,257 training, 270 validation and 270 test images, pixels 0–16 (scale 16).
    public static func bundledDigits() throws -> RawDatasetSplits {
        guard let folder = Bundle.module.url(forResource: "digits", withExtension: nil) else {
            throw ConvNetError.fileSystem("the bundled digits folder is missing from the ConvNet resources")
        }
        let images = try IDXFile(contentsOf: folder.appendingPathComponent("digits-images-idx3-ubyte"))
        let labels = try IDXFile(contentsOf: folder.appendingPathComponent("digits-labels-idx1-ubyte"))
        let all = try LabeledImages(
            images: ImageArray(
                shape: [images.shape[0], 1, images.shape[1], images.shape[2]], storage: .uint8(images.bytes)),
            labels: labels.bytes.map { Int($0) }, name: "digits")
        var random = SeededRandom(seed: 0)
        let order = random.permutation(all.count)
        return try RawDatasetSplits(
            train: all.subset(order[0..<1257]), validation: all.subset(order[1257..<1527]),
            test: all.subset(order[1527..<1797]),
            classNames: (0...9).map(String.init), scale: 16)
    }

    /// Downloads `dataset`'s files into `folder`, checks each MD5, and unpacks CIFAR-10's
    /// archive. Throws a one-line error when offline.
    public static func fetch(_ dataset: DatasetName, into folder: URL, log: (String) -> Void = { _ in }) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ConvNetError.fileSystem("cannot create \(folder.path): \(error.localizedDescription)")
        }
        for item in dataset.downloads {
            let target = folder.appendingPathComponent(item.fileName)
            var bytes: [UInt8]
            if FileManager.default.fileExists(atPath: target.path), let existing = try? readFileBytes(target),
                Digest.md5(existing) == item.md5
            {
                bytes = existing
            } else {
                log("downloading \(item.url)")
                bytes = try Downloader.fetch(
                    item.url, hint: "\(dataset.rawValue): download \(dataset.downloadHint) into \(folder.path)")
                let md5 = Digest.md5(bytes)
                guard md5 == item.md5 else {
                    throw ConvNetError.invalidData(
                        "\(item.url): MD5 \(md5) does not match the published \(item.md5); the download is damaged")
                }
                try AtomicFile.write(bytes, to: target)
            }
            if item.fileName.hasSuffix(".tar.gz") {
                log("unpacking \(item.fileName)")
                let tar = try Gzip.decompress(bytes, name: item.fileName)
                for (path, contents) in try TarArchive.regularFiles(tar, name: item.fileName)
                where path.hasPrefix("cifar-10-batches-") {
                    let url = folder.appendingPathComponent(path)
                    try FileManager.default.createDirectory(
                        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try AtomicFile.write(contents, to: url)
                }
            }
        }
    }
}

/// How images are laid out in an array file.
public enum ImageLayout: String, Sendable, CaseIterable {
    /// [N, C, H, W] (or [N, D] for flat samples), ConvNet's own layout.
    case nchw
    /// [N, H, W, C] (numpy / TensorFlow images), converted to NCHW; [N, H, W] gains C = 1.
    case nhwc
}
