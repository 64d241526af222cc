import Foundation
import Testing

@testable import ConvNet

/// A run stopped after epoch 2 and resumed from its run directory (new objects, everything
/// read back from the files) ends bit-identical to an uninterrupted run with the same seed.
struct TrainingJobTests {
    func temporaryDirectory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "convnet-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    func configuration(spec: String? = nil) -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.spec = spec
        configuration.trainingCount = 300
        configuration.validationCount = 100
        configuration.updateRule = "sgd_momentum"
        configuration.learningRate = 0.05
        configuration.momentum = 0.9
        configuration.learningRateDecay = 0.8
        configuration.batchSize = 25
        configuration.epochs = 4
        configuration.seed = 9
        return configuration
    }

    /// The digits CNN, and a network with BatchNorm (running statistics in the checkpoints),
    /// Dropout (its random stream in the training state) and a residual block.
    @Test(arguments: [
        nil,
        "conv(8,k=3,p=1,bias=false) bn relu dropout(0.2) block(16,s=2) gap flatten dense(32) bn relu dropout(0.3) dense(10)",
    ])
    func resumedRunIsBitIdentical(spec: String?) throws {
        let whole = temporaryDirectory("whole")
        let parts = temporaryDirectory("parts")
        defer {
            try? FileManager.default.removeItem(at: whole)
            try? FileManager.default.removeItem(at: parts)
        }
        for directory in [whole, parts] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let quiet = ProgressBar(mode: .quiet) { _ in }
        let uninterrupted = try TrainingJob(configuration: configuration(spec: spec), directory: whole, progress: quiet)
        let expected = try #require(try uninterrupted.run())

        let first = try TrainingJob(configuration: configuration(spec: spec), directory: parts, progress: quiet)
        #expect(try first.run(stopAfterEpoch: 2) == nil)
        let resumed = try TrainingJob(resuming: parts, progress: quiet)
        #expect(resumed.solver.completedEpochs == 2)
        let result = try #require(try resumed.run())

        #expect(result.accuracy == expected.accuracy && result.loss == expected.loss)
        #expect(resumed.solver.history.iterations == uninterrupted.solver.history.iterations)
        #expect(resumed.model.parameters.map(\.value) == uninterrupted.model.parameters.map(\.value))
        #expect(resumed.model.snapshot() == uninterrupted.model.snapshot())
        for name in [TrainingJob.lastCheckpointName, TrainingJob.bestCheckpointName, "metrics.csv"] {
            let a = try Data(contentsOf: whole.appendingPathComponent(name))
            let b = try Data(contentsOf: parts.appendingPathComponent(name))
            #expect(a == b, "\(name) differs")
        }
        // The best checkpoint loads back with the same accuracy on the test split.
        let predictor = try Predictor(checkpoint: whole.appendingPathComponent(TrainingJob.bestCheckpointName))
        let raw = try DatasetLoader.bundledDigits()
        let report = try predictor.evaluate(try #require(raw.test))
        #expect(abs(report.accuracy - expected.accuracy) < 1e-12)
    }

    /// `--init`: a run started from saved weights (and trained for 0 epochs) scores exactly
    /// what the saved model scored.
    @Test func initialWeightsAreUsed() throws {
        let directory = temporaryDirectory("init")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let quiet = ProgressBar(mode: .quiet) { _ in }
        var first = configuration()
        first.epochs = 2
        let trained = try #require(try TrainingJob(configuration: first, directory: directory, progress: quiet).run())
        var second = configuration()
        second.epochs = 0
        second.seed = 77
        second.initialWeights = directory.appendingPathComponent(TrainingJob.bestCheckpointName).path
        let started = try #require(try TrainingJob(configuration: second, directory: nil, progress: quiet).run())
        #expect(started.accuracy == trained.accuracy && started.loss == trained.loss)
        second.spec = "conv(4,k=3,p=1) relu flatten dense(10)"
        #expect(throws: ConvNetError.self) { try TrainingJob(configuration: second, directory: nil, progress: quiet) }
    }

    /// `--init W --epochs 0 --out D` saves W's weights as D's last and best checkpoints (with
    /// ConvNet's metadata), e.g. to bring PyTorch weights in without training.
    @Test func zeroEpochRunSavesItsInitialWeights() throws {
        let quiet = ProgressBar(mode: .quiet) { _ in }
        let source = temporaryDirectory("zero-source")
        let directory = temporaryDirectory("zero")
        defer {
            try? FileManager.default.removeItem(at: source)
            try? FileManager.default.removeItem(at: directory)
        }
        for folder in [source, directory] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        var first = configuration()
        first.epochs = 1
        try TrainingJob(configuration: first, directory: source, progress: quiet).run()
        let weights = source.appendingPathComponent(TrainingJob.lastCheckpointName)
        var second = configuration()
        second.epochs = 0
        second.initialWeights = weights.path
        let result = try #require(try TrainingJob(configuration: second, directory: directory, progress: quiet).run())
        let original = try SafeTensorsFile(contentsOf: weights)
        for name in [TrainingJob.lastCheckpointName, TrainingJob.bestCheckpointName] {
            let saved = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(name))
            #expect(saved.names == original.names, "\(name)")
            for tensorName in original.names {
                #expect(saved[tensorName]?.bytes == original[tensorName]?.bytes, "\(name): \(tensorName)")
            }
        }
        let predictor = try Predictor(checkpoint: directory.appendingPathComponent(TrainingJob.bestCheckpointName))
        let report = try predictor.evaluate(try #require(try DatasetLoader.bundledDigits().test))
        #expect(abs(report.accuracy - result.accuracy) < 1e-12)
    }

    /// `predict --preprocessed`: inputs normalised by the checkpoint's own preprocessing score
    /// exactly as the raw images do; given as raw instead, they draw a warning.
    @Test func predictorTakesPreprocessedInputs() throws {
        let directory = temporaryDirectory("preprocessed")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var settings = configuration()
        settings.epochs = 1
        settings.mean = "image"
        try TrainingJob(configuration: settings, directory: directory, progress: ProgressBar(mode: .quiet) { _ in })
            .run()
        let predictor = try Predictor(checkpoint: directory.appendingPathComponent(TrainingJob.bestCheckpointName))
        let raw = try #require(try DatasetLoader.bundledDigits().test).images
        let normalised = try predictor.inputs(raw)
        let given = try ImageArray(shape: normalised.shape, storage: .float32(normalised.scalars))
        #expect(try predictor.scores(given, preprocessed: true) == predictor.scores(raw))
        #expect(predictor.preprocessingWarning(for: raw) == nil)
        let warning = try #require(predictor.preprocessingWarning(for: given))
        #expect(warning.contains("pass --preprocessed"), "\(warning)")
    }

    /// A committed file changed afterwards (here: the state file of epoch 1 copied over that of
    /// epoch 2) is named on resume, never continued from; so are files of different epochs in
    /// a run directory of an older ConvNet (one file per name, written one by one); temporary
    /// files of killed writes go.
    @Test func mixedEpochFilesAreRefusedOnResume() throws {
        let quiet = ProgressBar(mode: .quiet) { _ in }
        let directory = temporaryDirectory("mixed")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let first = try TrainingJob(configuration: configuration(), directory: directory, progress: quiet)
        #expect(try first.run(stopAfterEpoch: 1) == nil)
        let state = directory.appendingPathComponent("last.state.safetensors")
        let epochOneState = try Data(contentsOf: state)
        let second = try TrainingJob(resuming: directory, progress: quiet)
        #expect(try second.run(stopAfterEpoch: 2) == nil)
        let epochTwoState = try Data(contentsOf: state)
        try epochOneState.write(to: state)  // through the link, into the committed generation
        let leftover = directory.appendingPathComponent(".last.safetensors.tmp-1-2")
        try Data([1, 2, 3]).write(to: leftover)
        var message = thrownMessage { _ = try TrainingJob(resuming: directory, progress: quiet) }
        #expect(
            message?.contains("last.state.safetensors is not the file that was committed") == true,
            "\(message ?? "no error")")
        #expect(!FileManager.default.fileExists(atPath: leftover.path))

        // The older layout: plain files, no checkpoints/ folder.
        try epochTwoState.write(to: state)
        for name in CheckpointStore.publishedNames {
            let url = directory.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url) else { continue }
            try FileManager.default.removeItem(at: url)
            try data.write(to: url)
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent(CheckpointStore.folderName))
        #expect(try TrainingJob(resuming: directory, progress: quiet).solver.completedEpochs == 2)
        try epochOneState.write(to: state)  // as if killed after last.safetensors, before its state
        message = thrownMessage { _ = try TrainingJob(resuming: directory, progress: quiet) }
        #expect(
            message?.contains("last.safetensors holds epoch 2 but last.state.safetensors epoch 1") == true,
            "\(message ?? "no error")")
    }

    /// A new run refuses a folder that holds another run's checkpoints (it would replace them).
    @Test func newRunDoesNotOverwriteASavedOne() throws {
        let quiet = ProgressBar(mode: .quiet) { _ in }
        let directory = temporaryDirectory("taken")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        #expect(
            try TrainingJob(configuration: configuration(), directory: directory, progress: quiet).run(
                stopAfterEpoch: 1) == nil)
        let before = try Data(contentsOf: directory.appendingPathComponent("last.safetensors"))
        let message = thrownMessage {
            _ = try TrainingJob(configuration: configuration(), directory: directory, progress: quiet)
        }
        #expect(
            message?.contains("already holds a run's checkpoints; continue it with --resume") == true,
            "\(message ?? "no error")")
        #expect(try Data(contentsOf: directory.appendingPathComponent("last.safetensors")) == before)
    }

    /// A checkpoint that cannot be written stops training with the error after that epoch.
    @Test func failedSaveStopsTraining() throws {
        let directory = temporaryDirectory("unsaveable")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A file where the checkpoints folder goes: the first commit cannot create its generation.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data([1]).write(to: directory.appendingPathComponent(CheckpointStore.folderName))
        let job = try TrainingJob(
            configuration: configuration(), directory: directory, progress: ProgressBar(mode: .quiet) { _ in })
        let message = thrownMessage { _ = try job.run() }
        #expect(message?.contains("cannot create") == true, "\(message ?? "no error")")
        #expect(job.solver.completedEpochs == 1 && !job.solver.isFinished)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("metrics.csv").path))
    }

    @Test func resumingWithoutARunIsAnError() throws {
        let empty = temporaryDirectory("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: ConvNetError.self) {
            try TrainingJob(resuming: empty, progress: ProgressBar(mode: .quiet) { _ in })
        }
    }

    @Test func badConfigurationsAreErrors() throws {
        var bad = configuration()
        bad.spec = "conv(8,k=3) relu maxpol(2)"
        #expect(throws: ConvNetError.self) {
            try TrainingJob(configuration: bad, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        }
        bad = configuration()
        bad.spec = "conv(8,k=3,p=1) relu flatten dense(7)"  // 7 outputs for 10 classes
        #expect(throws: ConvNetError.self) {
            try TrainingJob(configuration: bad, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        }
        bad = configuration()
        bad.mean = "median"
        #expect(throws: ConvNetError.self) {
            try TrainingJob(configuration: bad, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        }
        bad = configuration()
        bad.dataset = "imagenet"
        #expect(throws: ConvNetError.self) {
            try TrainingJob(configuration: bad, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        }
    }
}
