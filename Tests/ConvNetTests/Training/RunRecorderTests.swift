import Foundation
import Testing

@testable import ConvNet

/// One training run with a run directory leaves every artifact: metrics.csv (one row per
/// iteration), history.json (one entry per epoch), run.json, TensorBoard events, the pictures
/// in PNG and SVG, and report.html; progress goes to one plain line per epoch off a terminal.
struct RunRecorderTests {
    @Test func trainingLeavesAllArtifacts() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("convnet-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let splits = try BundledData.digitsSplits(Float.self)
        let model = try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
        var options = SolverOptions()
        options.batchSize = 64
        options.epochs = 2
        let solver = try Solver(
            model: model, optimizer: try Adam<Float>(), trainInputs: splits.train.inputs,
            trainTargets: splits.train.labels,
            validationInputs: splits.validation.inputs, validationTargets: splits.validation.labels, options: options)
        var lines: [String] = []
        let progress = ProgressBar(mode: .plain) { lines.append($0) }
        let recorder = try RunRecorder(
            model: model, title: "test run", directory: directory, configuration: [KeyValue("data", "digits")],
            classNames: splits.train.classNames, progress: progress)
        recorder.attach(to: solver)
        try solver.train()
        let test = try #require(try recorder.finish(testInputs: splits.test.inputs, testLabels: splits.test.labels))

        #expect(lines.count == 2, "one plain line per epoch: \(lines)")
        #expect(lines.allSatisfy { $0.contains("val acc") })
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        for name in [
            "metrics.csv", "history.json", "run.json", "report.html", "training.png", "training.svg",
            "loss.png", "accuracy.png", "filters.png", "filters.svg", "confusion_matrix.png", "confusion_matrix.svg",
        ] {
            #expect(files.contains(name), "\(name) missing from \(files)")
        }
        #expect(files.contains { $0.hasPrefix("events.out.tfevents.") })
        let run = try RunDirectory(url: directory)
        #expect(try run.readMetrics().count == 2 * 20)
        #expect(try run.readHistory().count == 2)
        let record = try run.read()
        #expect(record.confusionMatrix.flatMap { $0 }.reduce(0, +) == splits.test.count)
        #expect(record.firstLayerFilters?.count == 16)
        #expect(record.finalMetrics.testAccuracy == test.accuracy)
        let html = try String(contentsOf: directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("test run") && html.contains("data:image/png;base64,"))
    }
}
