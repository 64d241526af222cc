import Foundation
import Testing

@testable import ConvNet

/// Writing a run directory, reading it back, and regenerating pictures and report from it.
@Suite struct ReportRunDirectoryTests {
    @Test func roundTripsTheRecordExactly() throws {
        var record = try ReportTestSupport.sampleRecord()
        record.iterations[3].loss = .nan  // a diverged step must survive the round trip
        record.epochs[0].validationLoss = nil
        let directory = try RunDirectory(
            url: try ReportTestSupport.temporaryDirectory("run").appendingPathComponent("nested/run"), create: true)
        try directory.write(record)
        var back = try directory.read()
        #expect(back.iterations[3].loss.isNaN)
        back.iterations[3].loss = 0  // NaN != NaN; compare the rest exactly
        record.iterations[3].loss = 0
        #expect(back.iterations == record.iterations)
        #expect(back.epochs == record.epochs)
        #expect(back.firstLayerFilters == record.firstLayerFilters)
        #expect(back.confusionMatrix == record.confusionMatrix)
        back.iterations = []
        record.iterations = []
        back.firstLayerFilters = nil
        record.firstLayerFilters = nil
        #expect(back == record)
    }

    @Test func metricsCSVAndHistoryJSONHaveTheDocumentedFormat() throws {
        let record = try ReportTestSupport.sampleRecord(epochs: 2, iterationsPerEpoch: 3)
        let url = try ReportTestSupport.temporaryDirectory("format")
        try RunDirectory(url: url).write(record)
        let csv = try String(contentsOf: url.appendingPathComponent("metrics.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        #expect(lines.first == "iteration,epoch,loss,learning_rate")
        #expect(lines.count == 7)
        #expect(lines[1].hasPrefix("1,1,"))
        let history = try String(contentsOf: url.appendingPathComponent("history.json"), encoding: .utf8)
        #expect(history.contains("\"epochs\""))
        #expect(history.contains("\"train_accuracy\""))
        #expect(history.contains("\"validation_accuracy\""))
        #expect(history.contains("\"seconds\""))
        // Sorted keys: "epoch" comes before "seconds" before "train_accuracy" before "validation_accuracy".
        let e = try #require(history.range(of: "\"epoch\""))
        let s = try #require(history.range(of: "\"seconds\""))
        #expect(e.lowerBound < s.lowerBound)
        if ReportTestSupport.hasPython {
            // Readable with the standard library of another language.
            let script = """
                import csv, json, sys
                rows = list(csv.DictReader(open(sys.argv[1])))
                h = json.load(open(sys.argv[2]))
                print(len(rows), rows[0]['learning_rate'], len(h['epochs']), h['epochs'][1]['epoch'])
                """
            let result = try #require(
                ReportTestSupport.python(
                    script,
                    [url.appendingPathComponent("metrics.csv").path, url.appendingPathComponent("history.json").path]))
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "6 0.001 2 2")
        }
    }

    @Test func renderArtifactsWritesEveryPictureAndTheReport() throws {
        let record = try ReportTestSupport.sampleRecord()
        let url: URL
        if let sample = ProcessInfo.processInfo.environment["CONVNET_REPORT_SAMPLE_DIR"] {
            url = URL(fileURLWithPath: sample)  // keep the output to look at
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } else {
            url = try ReportTestSupport.temporaryDirectory("artifacts")
        }
        try RunDirectory(url: url).write(record)
        let written = try renderArtifacts(runDirectory: url)
        let names = Set(written.map(\.lastPathComponent))
        for stem in ["training", "loss", "accuracy", "filters", "confusion_matrix"] {
            #expect(names.contains(stem + ".png"))
            #expect(names.contains(stem + ".svg"))
        }
        #expect(names.contains("report.html"))
        for file in written where file.pathExtension == "png" {
            let bytes = [UInt8](try Data(contentsOf: file))
            #expect(Array(bytes.prefix(8)) == PNGEncoder.signature)
        }
        for file in written where file.pathExtension == "svg" {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(text.hasSuffix("</svg>\n"))
        }
    }

    @Test func readingAnEmptyOrBrokenDirectoryThrows() throws {
        let url = try ReportTestSupport.temporaryDirectory("broken")
        #expect(throws: ReportError.self) { try RunDirectory(url: url).read() }
        try "iteration,epoch,loss\n1,1,2.0\n".write(
            to: url.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) { try RunDirectory(url: url).read() }
        try "iteration,epoch,loss,learning_rate\n1,1,abc,0.1\n".write(
            to: url.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) { try RunDirectory(url: url).read() }
        try "{ not json".write(to: url.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        try "{ not json".write(to: url.appendingPathComponent("history.json"), atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) { try RunDirectory(url: url).readHistory() }
    }

    @Test func inconsistentRecordsAreRejectedWithAMessage() throws {
        var record = try ReportTestSupport.sampleRecord(epochs: 1, iterationsPerEpoch: 2)
        record.confusionMatrix[2].removeLast()
        let error = #expect(throws: ReportError.self) {
            try RunDirectory(url: try ReportTestSupport.temporaryDirectory("bad")).write(record)
        }
        #expect(error?.description.contains("square") == true)
        #expect(throws: ReportError.self) {
            try FilterBank(count: 2, channels: 1, height: 2, width: 2, values: [1, 2, 3])
        }
    }
}
