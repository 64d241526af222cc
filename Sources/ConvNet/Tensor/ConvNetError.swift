/// Every error ConvNet throws for bad input: each case carries a message that says what was
/// expected and what was found.
public enum ConvNetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A tensor's shape does not fit the operation.
    case shapeMismatch(String)
    /// An option or argument is out of range, unknown or inconsistent.
    case invalidArgument(String)
    /// Labels or targets are wrong: count, range or non-integer class index.
    case invalidLabels(String)
    /// NaN or infinity where finite numbers are required.
    case nonFinite(String)
    /// A file or byte stream is malformed.
    case invalidData(String)
    /// Reading or writing a file failed.
    case fileSystem(String)
    /// Training stopped because the loss became NaN or infinite.
    case diverged(String)

    /// The message alone.
    public var message: String {
        switch self {
        case .shapeMismatch(let text), .invalidArgument(let text), .invalidLabels(let text),
            .nonFinite(let text), .invalidData(let text), .fileSystem(let text), .diverged(let text):
            return text
        }
    }

    public var description: String {
        switch self {
        case .shapeMismatch: return "shape mismatch: \(message)"
        case .invalidArgument: return "invalid argument: \(message)"
        case .invalidLabels: return "invalid labels: \(message)"
        case .nonFinite: return "non-finite value: \(message)"
        case .invalidData: return "invalid data: \(message)"
        case .fileSystem: return "file error: \(message)"
        case .diverged: return "training diverged: \(message)"
        }
    }
}

/// Formats a shape as PyTorch prints it: `[2, 3, 4, 4]`.
func describe(_ shape: [Int]) -> String {
    guard shape.count > 8 else { return "[" + shape.map(String.init).joined(separator: ", ") + "]" }
    return "[" + shape.prefix(6).map(String.init).joined(separator: ", ") + ", … (\(shape.count) sizes)]"
}
