import Foundation

/// The limits every reader and builder checks before it allocates: one place for all of
/// them, so that a hostile or damaged file (or command line) becomes one `error:` line naming
/// the file, the field and the limit, never a trap, a stack overflow or a multi-GB allocation.
///
/// | limit | default | environment variable | checked by |
/// | --- | --- | --- | --- |
/// | ``maximumInflatedBytes`` | 1 GiB | `CONVNET_MAX_INFLATED_BYTES` | gzip, zlib, deflate, `.npz` members |
/// | ``maximumInflationRatio`` | 1,100 | — (deflate cannot exceed 1,032:1) | the same |
/// | ``maximumClasses`` | 100,000 | `CONVNET_MAX_CLASSES` | labels of `.npy`/`.npz`, IDX, CIFAR; `--classes` |
/// | ``maximumPickleDepth`` | 256 | — | the restricted pickle reader (nesting) |
/// | ``maximumPickleValues`` | 10,000,000 | — | the same (values built, shared references counted each time) |
/// | ``maximumTensorElements`` | 2^28 (1 GiB of Float) | `CONVNET_MAX_TENSOR_ELEMENTS` | every parameter tensor a spec builds; arrays in files |
/// | ``maximumSampleElements`` | 2^24 | — | input shapes (CLI, checkpoint metadata), every layer's output sample |
/// | ``maximumImageSamples`` | 2^28 | `CONVNET_MAX_IMAGE_SAMPLES` | PNG and JPEG headers: width × height × channels (and a JPEG's padded coefficient blocks) |
///
/// Sizes read from a file are also checked against the file's real size before anything is
/// reserved (a header's byte range must hold the elements it declares).
public struct ReaderLimits: Sendable, Equatable {
    /// The most bytes one decompressed stream (or `.npz` member) may reach.
    public var maximumInflatedBytes: Int
    /// The most decompressed bytes per compressed byte (plus 64 KiB of slack for tiny inputs).
    public var maximumInflationRatio: Int
    /// The most classes a dataset may have (labels must lie below it).
    public var maximumClasses: Int
    /// The deepest nesting of lists, tuples and dicts a pickle may build.
    public var maximumPickleDepth: Int
    /// The most values a pickle may expand to (memoised references count every time).
    public var maximumPickleValues: Int
    /// The most elements one parameter tensor (or stored array) may have.
    public var maximumTensorElements: Int
    /// The most elements one sample (an input, or any layer's output) may have.
    public var maximumSampleElements: Int
    /// The most samples (width × height × channels) one decoded PNG or JPEG image may have.
    public var maximumImageSamples: Int

    /// The defaults of the table above.
    public static let defaults = ReaderLimits(
        maximumInflatedBytes: 1 << 30, maximumInflationRatio: 1100, maximumClasses: 100_000, maximumPickleDepth: 256,
        maximumPickleValues: 10_000_000, maximumTensorElements: 1 << 28, maximumSampleElements: 1 << 24,
        maximumImageSamples: 1 << 28)

    /// The limits in force: the defaults, with the environment's overrides (read once).
    public static let current: ReaderLimits = {
        var limits = defaults
        func read(_ name: String) -> Int? {
            guard let text = getenv(name), let value = Int(String(cString: text)), value > 0 else { return nil }
            return value
        }
        if let value = read("CONVNET_MAX_INFLATED_BYTES") { limits.maximumInflatedBytes = value }
        if let value = read("CONVNET_MAX_CLASSES") { limits.maximumClasses = value }
        if let value = read("CONVNET_MAX_TENSOR_ELEMENTS") { limits.maximumTensorElements = value }
        if let value = read("CONVNET_MAX_IMAGE_SAMPLES") { limits.maximumImageSamples = value }
        return limits
    }()

    /// The most bytes `compressedCount` compressed bytes may inflate to.
    public func inflatedCap(forCompressed compressedCount: Int) -> Int {
        let (scaled, overflow) = max(compressedCount, 0).multipliedReportingOverflow(by: maximumInflationRatio)
        return min(maximumInflatedBytes, overflow ? Int.max : scaled &+ 65_536)
    }

    /// Checks that labels up to `largest` give a class count within the limit.
    public func checkLabel(_ largest: Int, in name: String) throws {
        guard largest < maximumClasses else {
            throw ConvNetError.invalidLabels(
                "\(name): label \(largest) implies \(largest.addingReportingOverflow(1).partialValue) classes, above the limit of \(maximumClasses) "
                    + "(set CONVNET_MAX_CLASSES to raise it)")
        }
    }

    /// The element count of a tensor of `shape` (`what` names it in errors): every size ≥ 0,
    /// the product without overflow and within ``maximumTensorElements``.
    @discardableResult
    public func checkTensor(_ shape: [Int], _ what: String) throws -> Int {
        guard let count = checkedProduct(shape) else {
            throw ConvNetError.invalidArgument(
                "\(what) of shape \(describe(shape)) has a negative size or too many elements to count")
        }
        guard count <= maximumTensorElements else {
            throw ConvNetError.invalidArgument(
                "\(what) of shape \(describe(shape)) has \(count) elements, above the limit of \(maximumTensorElements) "
                    + "(set CONVNET_MAX_TENSOR_ELEMENTS to raise it)")
        }
        return count
    }

    /// The sample count of a `width` × `height` image of `channels` channels read from `name`:
    /// every size ≥ 1, the product without overflow and within ``maximumImageSamples``.
    @discardableResult
    public func checkImage(width: Int, height: Int, channels: Int, _ name: String) throws -> Int {
        guard width >= 1, height >= 1, channels >= 1 else {
            throw ConvNetError.invalidData(
                "\(name): image size \(width)×\(height) with \(channels) channels has a zero dimension")
        }
        guard let count = checkedProduct([width, height, channels]), count <= maximumImageSamples else {
            throw ConvNetError.invalidData(
                "\(name): a \(width)×\(height) image with \(channels) channels is above the limit of \(maximumImageSamples) samples "
                    + "(set CONVNET_MAX_IMAGE_SAMPLES to raise it)")
        }
        return count
    }

    /// Checks a per-sample shape (an input shape, or a layer's output): every size ≥ 1, and
    /// at most ``maximumSampleElements`` elements.
    @discardableResult
    public func checkSample(_ shape: [Int], _ what: String) throws -> Int {
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }), let count = checkedProduct(shape) else {
            throw ConvNetError.shapeMismatch(
                "\(what) \(describe(shape)) needs sizes ≥ 1 whose product fits in an integer")
        }
        guard count <= maximumSampleElements else {
            throw ConvNetError.shapeMismatch(
                "\(what) \(describe(shape)) has \(count) elements per sample, above the limit of \(maximumSampleElements)"
            )
        }
        return count
    }
}

/// `text` as one short printable line for an error message: control characters escaped
/// (a newline becomes `\n`), at most `limit` characters (then `…`).
func excerpt(_ text: some StringProtocol, limit: Int = 60) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        if result.unicodeScalars.count >= limit { return result + "…" }
        switch scalar {
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                result += "\\x" + String(scalar.value, radix: 16)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result
}

/// A one-line, human reason for a system or decoding error (never `NSCocoaErrorDomain Code=4
/// … UserInfo=…`): "no such file", "permission denied", the JSON key that is wrong, ….
func reason(_ error: Error) -> String {
    if let error = error as? ConvNetError { return error.message }
    if let error = error as? DecodingError {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : " at '\(keys)'"
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "missing \(type) value\(path(context))"
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)'\(path(context))"
        case .dataCorrupted(let context): return "malformed JSON\(path(context))"
        @unknown default: return "undecodable JSON"
        }
    }
    let ns = error as NSError
    var code = ns.code
    if ns.domain == NSCocoaErrorDomain, let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
        underlying.domain == NSPOSIXErrorDomain
    {
        code = underlying.code
        return String(cString: strerror(Int32(code))).lowercased()
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(code))).lowercased() }
    if ns.domain == NSCocoaErrorDomain {
        switch CocoaError.Code(rawValue: code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "no space left on the device"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileReadCorruptFile: return "the file is corrupt"
        case .fileReadTooLarge: return "the file is too large"
        case .fileWriteFileExists: return "the file exists"
        case .fileReadUnknown, .fileWriteUnknown, .fileLocking:
            return "the file cannot be read or written (a folder, or a special file?)"
        default: break
        }
    }
    return excerpt(String(describing: error), limit: 160)
}
