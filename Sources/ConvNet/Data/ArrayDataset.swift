import Foundation

/// A dataset given as NumPy arrays: a folder of `x_train.npy`, `y_train.npy` and optional
/// `x_val.npy` / `y_val.npy` and `x_test.npy` / `y_test.npy`, or one `.npz` holding arrays of
/// those names.
///
/// Images are uint8 (scale 255) or float (scale 1; integer types other than uint8 are read
/// as floats), [N, C, H, W] or [N, D] with `.nchw`, [N, H, W, C] or [N, H, W] with `.nhwc`.
/// Labels are integers (or whole floats) ≥ 0, one per image; there are max(label) + 1 classes
/// (named "0", "1", …) unless a `class_names.txt` (one per line) sits in the folder.
public enum ArrayDataset {
    /// Reads the folder or `.npz` at `url`.
    public static func load(from url: URL, layout: ImageLayout = .nchw) throws -> RawDatasetSplits {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ConvNetError.fileSystem(
                "\(url.path) does not exist (expected a folder with x_train.npy and y_train.npy, or a .npz)")
        }
        let read: (String) throws -> NumPyArray?
        var classNamesFile: URL?
        if isDirectory.boolValue {
            read = { name in
                let file = url.appendingPathComponent(name + ".npy")
                return FileManager.default.fileExists(atPath: file.path) ? try NumPyArray(contentsOf: file) : nil
            }
            classNamesFile = url.appendingPathComponent("class_names.txt")
        } else {
            let archive = try NPZArchive(contentsOf: url)
            read = { name in archive.contains(name) ? try archive.array(name) : nil }
        }
        func split(_ suffix: String, required: Bool) throws -> LabeledImages? {
            let x = try read("x_" + suffix)
            let y = try read("y_" + suffix)
            guard let x, let y else {
                if required || (x == nil) != (y == nil) {
                    throw ConvNetError.fileSystem(
                        "\(url.path): x_\(suffix) and y_\(suffix) are needed together (found \(x == nil ? "no" : "an") x_\(suffix), \(y == nil ? "no" : "a") y_\(suffix))"
                    )
                }
                return nil
            }
            guard x.shape.count >= 2 else {
                throw ConvNetError.shapeMismatch("x_\(suffix) must be [N, ...], found \(describe(x.shape))")
            }
            let images = try ImageArray(x, layout: layout)
            if case .float32(let values) = images.storage, let index = values.firstIndex(where: { !$0.isFinite }) {
                throw ConvNetError.nonFinite(
                    "x_\(suffix) contains \(values[index]) at flat index \(index); images must be finite")
            }
            guard y.shape.count == 1 || (y.shape.count == 2 && y.shape[1] == 1) else {
                throw ConvNetError.shapeMismatch("y_\(suffix) must be [N] class indices, found \(describe(y.shape))")
            }
            return try LabeledImages(
                images: images, labels: try y.integerValues(name: "y_\(suffix)"),
                name: "\(url.lastPathComponent) \(suffix)")
        }
        let train = try split("train", required: true)!
        let validation = try split("val", required: false)
        let test = try split("test", required: false)
        guard case .uint8 = train.images.storage else {
            return try finish(train, validation, test, scale: 1, classNamesFile)
        }
        return try finish(train, validation, test, scale: 255, classNamesFile)
    }

    private static func finish(
        _ train: LabeledImages, _ validation: LabeledImages?, _ test: LabeledImages?, scale: Double, _ namesFile: URL?
    ) throws -> RawDatasetSplits {
        let largest =
            ([train.labels.max(), validation?.labels.max(), test?.labels.max()].compactMap { $0 ?? nil }).max() ?? 0
        try ReaderLimits.current.checkLabel(largest, in: "y_train/y_val/y_test")
        var names = (0...largest).map(String.init)
        if let namesFile, FileManager.default.fileExists(atPath: namesFile.path) {
            let text = String(decoding: try readFileBytes(namesFile), as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            guard lines.count > largest else {
                throw ConvNetError.invalidLabels(
                    "\(namesFile.path) names \(lines.count) classes, the labels go up to \(largest)")
            }
            names = lines
        }
        return try RawDatasetSplits(train: train, validation: validation, test: test, classNames: names, scale: scale)
    }
}

extension ImageArray {
    /// Images from a NumPy array [N, ...] (uint8 kept as bytes, other types as Float). With
    /// `.nhwc`, [N, H, W, C] becomes [N, C, H, W] and [N, H, W] becomes [N, 1, H, W].
    public init(_ array: NumPyArray, layout: ImageLayout) throws {
        let storage: ImageArray.Storage =
            array.elementType == .uint8 ? .uint8(array.bytes) : .float32(array.floatValues())
        var images = try ImageArray(shape: array.shape, storage: storage)
        if layout == .nhwc {
            if images.shape.count == 3 {
                images = try ImageArray(
                    shape: [images.shape[0], 1, images.shape[1], images.shape[2]], storage: images.storage)
            } else {
                images = try images.nhwcToNCHW()
            }
        }
        self = images
    }
}
