import Foundation

/// Writes TensorBoard event files (`events.out.tfevents.<unix time>.<hostname>`) with scalar
/// summaries, readable by TensorBoard (`tensorboard --logdir DIR`).
///
/// The file is a TFRecord stream: each record is the data length (UInt64 little-endian), the
/// masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data. The first
/// record is an `Event` with `file_version = "brain.Event:2"`; every later one is an `Event`
/// with `wall_time`, `step` and a `Summary` of `{tag, simple_value}` values. The protobuf is
/// hand-encoded (tensorflow/core/util/event.proto: wall_time = 1 double, step = 2 int64,
/// file_version = 3 string, summary = 5; summary.proto: Summary.value = 1, Value.tag = 1,
/// Value.simple_value = 2 float).
///
/// Not thread-safe: use one writer from one thread (the training loop).
public final class TensorBoardEventWriter {
    /// The event file being written.
    public let fileURL: URL
    private let handle: FileHandle

    /// Creates `directory` if needed and starts a new event file in it.
    /// - Parameters:
    ///   - directory: the log directory (one per run, as TensorBoard expects).
    ///   - startTime: used for the file name and the first record's wall time.
    ///   - hostname: the file name's last part; defaults to this machine's host name.
    /// - Throws: `ReportError.io` when the directory or file cannot be created.
    public init(directory: URL, startTime: Date = Date(), hostname: String? = nil) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError.io(path: directory.path, reason: reason(error))
        }
        let host = (hostname ?? ProcessInfo.processInfo.hostName)
            .replacingOccurrences(of: "/", with: "_")
        let seconds = Int(startTime.timeIntervalSince1970)
        fileURL = directory.appendingPathComponent(
            "events.out.tfevents.\(seconds).\(host.isEmpty ? "localhost" : host)")
        guard FileManager.default.createFile(atPath: fileURL.path, contents: nil) else {
            throw ReportError.io(path: fileURL.path, reason: "cannot create the event file")
        }
        do {
            handle = try FileHandle(forWritingTo: fileURL)
        } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
        var event = ProtobufWriter()
        event.double(field: 1, startTime.timeIntervalSince1970)
        event.string(field: 3, "brain.Event:2")
        try writeRecord(event.bytes)
    }

    deinit {
        try? handle.close()
    }

    /// Appends one event holding a scalar `value` under `tag` (e.g. `"loss"`, `"accuracy/val"`).
    /// - Throws: `ReportError.io` on write failure.
    public func addScalar(tag: String, value: Double, step: Int, wallTime: Date = Date()) throws {
        try addScalars([(tag, value)], step: step, wallTime: wallTime)
    }

    /// Appends one event holding several scalars for the same step.
    /// - Throws: `ReportError.io` on write failure.
    public func addScalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Date = Date()) throws {
        var summary = ProtobufWriter()
        for (tag, value) in values {
            var entry = ProtobufWriter()
            entry.string(field: 1, tag)
            entry.float(field: 2, Float(value))
            summary.message(field: 1, entry.bytes)
        }
        var event = ProtobufWriter()
        event.double(field: 1, wallTime.timeIntervalSince1970)
        event.int64(field: 2, Int64(step))
        event.message(field: 5, summary.bytes)
        try writeRecord(event.bytes)
    }

    /// Forces written events to disk so a running TensorBoard sees them.
    /// - Throws: `ReportError.io` on failure.
    public func flush() throws {
        do { try handle.synchronize() } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
    }

    /// Closes the file; later writes throw.
    /// - Throws: `ReportError.io` on failure.
    public func close() throws {
        do { try handle.close() } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
    }

    /// One TFRecord: length, masked CRC of length, data, masked CRC of data.
    static func record(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        var n = UInt64(data.count)
        for _ in 0..<8 {
            length.append(UInt8(n & 0xFF))
            n >>= 8
        }
        var out = length
        appendLittleEndian(CRC32C.masked(length), to: &out)
        out += data
        appendLittleEndian(CRC32C.masked(data), to: &out)
        return out
    }

    static func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
    }

    /// Appends one serialized `Event` as a record (see `TensorBoardSummaries.swift`).
    func appendEvent(_ event: [UInt8]) throws {
        try writeRecord(event)
    }

    private func writeRecord(_ data: [UInt8]) throws {
        do {
            try handle.write(contentsOf: Data(Self.record(data)))
        } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
    }
}
