import Foundation

/// A run directory (`convnet train --out DIR`): the data of a run in plain files, and the pictures
/// and report made from them.
///
/// Files:
/// - `metrics.csv`: `iteration,epoch,loss,learning_rate`, one line per iteration.
/// - `history.json`: `{"epochs": [{"epoch", "train_loss", "train_accuracy", "validation_loss",
///   "validation_accuracy", "seconds"}, ...]}` (absent values are left out).
/// - `run.json`: everything else in the `RunRecord` (title, configuration, hyper-parameters,
///   model summary, final metrics, class names, confusion matrix, first-layer filters).
/// - `renderArtifacts()` adds `<picture>.png`, `<picture>.svg` and `report.html`.
///
/// JSON keys are snake_case and sorted; numbers round-trip exactly; NaN and infinities are
/// written as the strings "NaN", "Infinity", "-Infinity".
public struct RunDirectory: Sendable {
    /// The directory.
    public let url: URL

    /// The name of the per-iteration CSV file.
    public static let metricsFileName = "metrics.csv"
    /// The name of the per-epoch JSON file.
    public static let historyFileName = "history.json"
    /// The name of the JSON file with the rest of the run record.
    public static let runFileName = "run.json"
    /// The name of the HTML report.
    public static let reportFileName = "report.html"

    /// Points at `url`; with `create`, makes the directory (and its parents) if missing.
    /// - Throws: `ReportError.io` when the directory cannot be created.
    public init(url: URL, create: Bool = false) throws {
        self.url = url
        if create {
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw ReportError.io(path: url.path, reason: reason(error))
            }
        }
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }

    struct History: Codable { var epochs: [EpochRecord] }

    // MARK: Writing

    /// Writes `metrics.csv`, `history.json` (unless `includingHistory` is false: a
    /// `CheckpointStore` commits them) and `run.json` for `record`, replacing older versions.
    /// Call it after every epoch so that an interrupted run leaves its data behind.
    /// - Throws: `ReportError.invalidInput` for an inconsistent record, `ReportError.io` on write failure.
    public func write(_ record: RunRecord, includingHistory: Bool = true) throws {
        try record.validate()
        if includingHistory {
            try writeMetrics(record.iterations)
            try writeHistory(record.epochs)
        }
        var rest = record
        rest.iterations = []
        rest.epochs = []
        try writeFile(try encode(rest), to: url.appendingPathComponent(Self.runFileName))
    }

    /// Writes `metrics.csv`.
    /// - Throws: `ReportError.io` on write failure.
    public func writeMetrics(_ iterations: [IterationRecord]) throws {
        try writeFile(Self.metricsCSV(iterations), to: url.appendingPathComponent(Self.metricsFileName))
    }

    /// The text of `metrics.csv`.
    public static func metricsCSV(_ iterations: [IterationRecord]) -> String {
        var csv = "iteration,epoch,loss,learning_rate\n"
        csv.reserveCapacity(iterations.count * 40)
        for r in iterations {
            // Swift's description of a Double is the shortest text that reads back to the same value.
            csv += "\(r.iteration),\(r.epoch),\(r.loss),\(r.learningRate)\n"
        }
        return csv
    }

    /// Writes `history.json`.
    /// - Throws: `ReportError.io` on write failure.
    public func writeHistory(_ epochs: [EpochRecord]) throws {
        try writeFile(try Self.historyJSON(epochs), to: url.appendingPathComponent(Self.historyFileName))
    }

    /// The bytes of `history.json`.
    public static func historyJSON(_ epochs: [EpochRecord]) throws -> Data {
        try encode(History(epochs: epochs))
    }

    func encode<T: Encodable>(_ value: T) throws -> Data {
        try Self.encode(value)
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        do {
            var data = try Self.encoder().encode(value)
            data.append(0x0A)
            return data
        } catch {
            throw ReportError.invalidInput("cannot encode \(T.self) as JSON: \(error)")
        }
    }

    // MARK: Reading

    /// Reads the run record back: `run.json` (when present) with `metrics.csv` and `history.json`
    /// (each when present). A directory holding only the CSV and history still gives a record.
    /// - Throws: `ReportError.io` when no run file is found, `ReportError.malformedFile` when one
    ///   cannot be parsed.
    public func read() throws -> RunRecord {
        let fm = FileManager.default
        let runURL = url.appendingPathComponent(Self.runFileName)
        let metricsURL = url.appendingPathComponent(Self.metricsFileName)
        let historyURL = url.appendingPathComponent(Self.historyFileName)
        guard [runURL, metricsURL, historyURL].contains(where: { fm.fileExists(atPath: $0.path) }) else {
            throw ReportError.io(
                path: url.path,
                reason:
                    "no \(Self.runFileName), \(Self.metricsFileName) or \(Self.historyFileName) found; is this a run directory?"
            )
        }
        var record = RunRecord(title: url.lastPathComponent)
        if fm.fileExists(atPath: runURL.path) {
            record = try decode(RunRecord.self, from: runURL)
        }
        if fm.fileExists(atPath: metricsURL.path) { record.iterations = try readMetrics() }
        if fm.fileExists(atPath: historyURL.path) { record.epochs = try readHistory() }
        return record
    }

    /// Reads `metrics.csv`.
    /// - Throws: `ReportError.io` or `ReportError.malformedFile` naming the bad line.
    public func readMetrics() throws -> [IterationRecord] {
        let fileURL = url.appendingPathComponent(Self.metricsFileName)
        let text = try readText(fileURL)
        var records: [IterationRecord] = []
        var columns: [String: Int] = [:]
        for (lineIndex, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if lineIndex == 0 {
                for (i, name) in fields.enumerated() { columns[name] = i }
                for required in ["iteration", "epoch", "loss", "learning_rate"] where columns[required] == nil {
                    throw ReportError.malformedFile(
                        path: fileURL.path,
                        reason: "header lacks the column '\(required)' (found: \(fields.joined(separator: ",")))")
                }
                continue
            }
            func field(_ name: String) -> String? {
                guard let i = columns[name], i < fields.count else { return nil }
                return fields[i]
            }
            guard let iteration = field("iteration").flatMap({ Int($0) }),
                let epoch = field("epoch").flatMap({ Int($0) }),
                let loss = field("loss").flatMap({ Double($0) }),
                let rate = field("learning_rate").flatMap({ Double($0) })
            else {
                throw ReportError.malformedFile(
                    path: fileURL.path,
                    reason: "line \(lineIndex + 1) is not 'iteration,epoch,loss,learning_rate': \(line)")
            }
            records.append(IterationRecord(iteration: iteration, epoch: epoch, loss: loss, learningRate: rate))
        }
        return records
    }

    /// Reads `history.json`.
    /// - Throws: `ReportError.io` or `ReportError.malformedFile`.
    public func readHistory() throws -> [EpochRecord] {
        try decode(History.self, from: url.appendingPathComponent(Self.historyFileName)).epochs
    }

    func readText(_ fileURL: URL) throws -> String {
        do {
            return try String(contentsOf: fileURL, encoding: .utf8)
        } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
    }

    func decode<T: Decodable>(_ type: T.Type, from fileURL: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: fileURL)
        } catch {
            throw ReportError.io(path: fileURL.path, reason: reason(error))
        }
        do {
            return try Self.decoder().decode(type, from: data)
        } catch {
            throw ReportError.malformedFile(path: fileURL.path, reason: reason(error))
        }
    }

    // MARK: Artifacts

    /// Writes every picture (`training`, `loss`, `accuracy`, `filters`, `confusion_matrix`; each as
    /// .png and .svg, when the run has the data) and `report.html`, from what is stored in the
    /// directory. Returns the files written.
    /// - Throws: the errors of `read()`, `ReportError.invalidInput` for inconsistent data,
    ///   `ReportError.io` on write failure.
    @discardableResult
    public func renderArtifacts() throws -> [URL] {
        try renderArtifacts(for: try read())
    }

    /// Writes the pictures and `report.html` of `record` into this directory (without writing the
    /// data files). Returns the files written.
    @discardableResult
    public func renderArtifacts(for record: RunRecord) throws -> [URL] {
        let pictures = try ReportPicture.all(for: record)
        var written: [URL] = []
        for picture in pictures {
            let png = url.appendingPathComponent(picture.name + ".png")
            let svg = url.appendingPathComponent(picture.name + ".svg")
            try writeFile(Data(picture.png), to: png)
            try writeFile(picture.svg, to: svg)
            written += [png, svg]
        }
        let report = url.appendingPathComponent(Self.reportFileName)
        try writeFile(HTMLReport.render(record, pictures: pictures), to: report)
        written.append(report)
        return written
    }
}

/// Writes all pictures and `report.html` of the run stored in `runDirectory` (what
/// `convnet plot RUNDIR` does). See `RunDirectory.renderArtifacts()`.
/// - Throws: `ReportError` when the directory holds no readable run or a file cannot be written.
@discardableResult
public func renderArtifacts(runDirectory: URL) throws -> [URL] {
    try RunDirectory(url: runDirectory).renderArtifacts()
}
