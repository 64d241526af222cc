import Foundation

/// An error raised while writing or reading training reports, pictures and run directories.
///
/// Every case carries a message that says what was expected and what was found.
public enum ReportError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The input values given to a report function are inconsistent (wrong sizes, bad shapes).
    case invalidInput(String)
    /// A file could not be written or read.
    case io(path: String, reason: String)
    /// A file in a run directory does not have the expected format.
    case malformedFile(path: String, reason: String)

    /// A one-line, human-readable description of the error.
    public var description: String {
        switch self {
        case .invalidInput(let message):
            return "invalid report input: \(message)"
        case .io(let path, let reason):
            return "cannot access \(path): \(reason)"
        case .malformedFile(let path, let reason):
            return "malformed file \(path): \(reason)"
        }
    }
}
