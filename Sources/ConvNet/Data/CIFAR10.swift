import Foundation

/// CIFAR-10 in both of its distributions: 32×32 RGB images, 10 classes, 50,000 training images
/// in five batches and 10,000 test images.
///
/// - binary (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin`,
///   `test_batch.bin`, `batches.meta.txt`; 3,073-byte records (label byte, 1,024 R, 1,024 G,
///   1,024 B bytes, row-major);
/// - python (`cifar-10-batches-py/`): `data_batch_1` … `data_batch_5`, `test_batch`,
///   `batches.meta`, pickled dicts (`data` uint8 [10000, 3072], `labels`), read with
///   `RestrictedPickle` (nothing in the file is executed).
public enum CIFAR10 {
    /// The class names, in label order.
    public static let classNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]
    /// One image's shape.
    public static let imageShape = [3, 32, 32]

    /// Parses binary-format records (any number of them).
    public static func binaryBatch(_ bytes: [UInt8], name: String = "CIFAR-10 batch") throws -> LabeledImages {
        let record = 3073
        guard !bytes.isEmpty, bytes.count % record == 0 else {
            throw ConvNetError.invalidData(
                "\(name): \(bytes.count) bytes is not a whole number of 3073-byte CIFAR-10 records")
        }
        let n = bytes.count / record
        var pixels = [UInt8](repeating: 0, count: n * 3072)
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let label = Int(bytes[i * record])
            guard label < 10 else {
                throw ConvNetError.invalidData("\(name): record \(i) has label \(label), not in 0..<10")
            }
            labels[i] = label
            pixels[(i * 3072)..<((i + 1) * 3072)] = bytes[(i * record + 1)..<((i + 1) * record)]
        }
        return try LabeledImages(
            images: ImageArray(shape: [n, 3, 32, 32], storage: .uint8(pixels)), labels: labels, name: name)
    }

    /// Reads a binary-format batch file.
    public static func binaryBatch(contentsOf url: URL) throws -> LabeledImages {
        try binaryBatch(try readFileBytes(url), name: url.lastPathComponent)
    }

    /// Parses a python-format batch (a pickled dict with `data` and `labels`).
    public static func pythonBatch(_ bytes: [UInt8], name: String = "CIFAR-10 batch") throws -> LabeledImages {
        let value = try RestrictedPickle.load(bytes, name: name)
        guard case .ndarray(let dtype, let shape, let data)? = value["data"] else {
            throw ConvNetError.invalidData("\(name): the pickled dict has no NumPy array 'data'")
        }
        guard dtype.hasSuffix("u1"), shape.count == 2, shape[1] == 3072 else {
            throw ConvNetError.invalidData("\(name): 'data' is \(dtype) \(describe(shape)); expected uint8 [N, 3072]")
        }
        guard case .list(let items)? = value["labels"] ?? value["fine_labels"] else {
            throw ConvNetError.invalidData("\(name): the pickled dict has no list 'labels'")
        }
        let labels = try items.enumerated().map { index, item -> Int in
            guard case .int(let label) = item, (0..<10).contains(label) else {
                throw ConvNetError.invalidData("\(name): label \(index) is \(item), not an integer in 0..<10")
            }
            return label
        }
        guard labels.count == shape[0] else {
            throw ConvNetError.invalidData("\(name): \(shape[0]) images but \(labels.count) labels")
        }
        return try LabeledImages(
            images: ImageArray(shape: [shape[0], 3, 32, 32], storage: .uint8(data)), labels: labels, name: name)
    }

    /// Reads a python-format batch file.
    public static func pythonBatch(contentsOf url: URL) throws -> LabeledImages {
        try pythonBatch(try readFileBytes(url), name: url.lastPathComponent)
    }

    /// The class names in a python `batches.meta` (`label_names`).
    public static func pythonClassNames(_ bytes: [UInt8], name: String = "batches.meta") throws -> [String] {
        guard case .list(let items)? = try RestrictedPickle.load(bytes, name: name)["label_names"] else {
            throw ConvNetError.invalidData("\(name): no list 'label_names'")
        }
        return try items.map {
            switch $0 {
            case .bytes(let b): return String(decoding: b, as: UTF8.self)
            case .string(let s): return s
            default: throw ConvNetError.invalidData("\(name): a label name is not a string")
            }
        }
    }

    /// Loads a whole distribution from `folder`, which is (or contains) `cifar-10-batches-bin`
    /// or `cifar-10-batches-py`. Missing files are an error that lists what is expected.
    public static func load(from folder: URL) throws -> RawDatasetSplits {
        let fm = FileManager.default
        var candidates = [folder]
        for sub in ["cifar-10-batches-bin", "cifar-10-batches-py"] {
            candidates.append(folder.appendingPathComponent(sub))
        }
        for directory in candidates {
            if fm.fileExists(atPath: directory.appendingPathComponent("data_batch_1.bin").path) {
                let train = try (1...5).map {
                    try binaryBatch(contentsOf: directory.appendingPathComponent("data_batch_\($0).bin"))
                }
                let test = try binaryBatch(contentsOf: directory.appendingPathComponent("test_batch.bin"))
                return try RawDatasetSplits(train: concatenate(train), test: test, classNames: classNames, scale: 255)
            }
            if fm.fileExists(atPath: directory.appendingPathComponent("data_batch_1").path) {
                let train = try (1...5).map {
                    try pythonBatch(contentsOf: directory.appendingPathComponent("data_batch_\($0)"))
                }
                let test = try pythonBatch(contentsOf: directory.appendingPathComponent("test_batch"))
                let meta = directory.appendingPathComponent("batches.meta")
                let names =
                    fm.fileExists(atPath: meta.path)
                    ? try pythonClassNames(try readFileBytes(meta), name: "batches.meta") : classNames
                return try RawDatasetSplits(train: concatenate(train), test: test, classNames: names, scale: 255)
            }
        }
        throw ConvNetError.fileSystem(
            "CIFAR-10 not found in \(folder.path): expected cifar-10-batches-bin/data_batch_1.bin … test_batch.bin or "
                + "cifar-10-batches-py/data_batch_1 … test_batch (use --download, or fetch \(DatasetName.cifar10.downloadHint))"
        )
    }

    /// Joins batches in order.
    static func concatenate(_ parts: [LabeledImages]) throws -> LabeledImages {
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for part in parts {
            guard case .uint8(let values) = part.images.storage else {
                throw ConvNetError.invalidData("CIFAR-10 batches must be bytes")
            }
            pixels += values
            labels += part.labels
        }
        return try LabeledImages(
            images: ImageArray(shape: [labels.count, 3, 32, 32], storage: .uint8(pixels)), labels: labels)
    }
}
