import Foundation
import Testing

/// Runs the built `convnet` binary: bad input gives one line on stderr and exit code 1.
struct CommandLineTests {
    struct Result {
        var status: Int32
        /// Whether a signal ended the process (`status` is then its number).
        var killedBySignal = false
        var output: String
        var error: String
    }

    static var binary: URL? {
        let candidate = productsDirectory().appendingPathComponent("convnet")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }

    func run(_ arguments: [String]) throws -> Result? {
        guard let binary = Self.binary else {
            print("skipping: convnet binary not found next to the tests in \(productsDirectory().path)")
            return nil
        }
        return try Self.run(binary, arguments)
    }

    /// Runs `binary` with `arguments`, the test's environment (less `CONVNET_FAULT_*`) plus
    /// `environment`; waits for it and returns its status and output. With a `timeout`, a
    /// process still running after that many seconds is sent SIGTERM, and SIGKILL 10 s later.
    static func run(
        _ binary: URL, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        for key in variables.keys where key.hasPrefix("CONVNET_FAULT_") { variables[key] = nil }
        for (key, value) in environment { variables[key] = value }
        process.environment = variables
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let finished = FinishedFlag()
        if let timeout {
            let pid = process.processIdentifier
            // SIGTERM first (mpirun then stops its ranks), SIGKILL 10 s later.
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                finished.check { kill(pid, SIGTERM) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout + 10) {
                finished.check { kill(pid, SIGKILL) }
            }
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.set()
        return Result(
            status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
            output: String(decoding: outputData, as: UTF8.self), error: String(decoding: errorData, as: UTF8.self))
    }

    /// `--threads N` runs the kernels on N threads (here: a gradient check that computes).
    @Test func threadsOptionIsAccepted() throws {
        guard
            let result = try run([
                "gradcheck", "conv(2,k=3,p=1) relu flatten dense(3)", "--input-shape", "1,4,4", "--threads", "1",
            ])
        else { return }
        #expect(result.status == 0, "\(result.error)")
    }

    @Test(arguments: [
        (["train", "--model", "resnet"], "unknown model 'resnet'"),
        (["train", "--optimizer", "lion"], "unknown update rule 'lion'"),
        (["train", "--recipe", "cifar"], "unknown recipe 'cifar'"),
        (["train", "--schedule", "triangle"], "unknown learning-rate schedule 'triangle'"),
        (["train", "--schedule", "step"], "needs a step size"),
        (["train", "--warmup", "3"], "need --schedule"),
        (["train", "--schedule", "cosine", "--lr-decay", "0.9"], "not both"),
        (["train", "--augment", "rotate=5"], "unknown augmentation 'rotate=5'"),
        (["train", "--label-smoothing", "1"], "label smoothing must be in [0, 1)"),
        (["train", "--clip-norm", "0"], "gradient clipping norm must be > 0"),
        (["train", "--init-scheme", "orthogonal"], "unknown initialisation scheme 'orthogonal'"),
        (["train", "--weight-decay=-1"], "weight decay must be ≥ 0"),
        (["train", "--early-stopping", "0"], "patience must be ≥ 1"),
        (["train", "--learning-rate=-1"], "learning rate must be ≥ 0"),
        (["train", "--learning-rate", "-1"], "learning rate must be ≥ 0"),
        (["train", "--learning-rate", "0"], "learning rate must be > 0"),
        (["train", "--num-validation", "5000"], "5000 validation samples exceed the 270 in the validation split"),
        (
            ["train", "--num-training", "9223372036854775807"],
            "asked for 9223372036854775807 training samples, the split has 1257"
        ),
        (["train", "--num-training", "-3"], "training count must be ≥ 0"),
        (["train", "--model", "xor", "--dataset", "mnist"], "--model xor trains on its own four points"),
        (["train", "--stop-after-epoch", "0", "--out", "/tmp"], "--stop-after-epoch must be ≥ 1"),
        (["train", "--stop-after-epoch", "1"], "--stop-after-epoch needs --out"),
        (["train", "--spec", "flatten dense(1048576) dense(1048576)"], "above the limit of 268435456"),
        (["summary", "lenet5", "--classes", "0"], "needs 1 to 100000 classes, found 0"),
        (
            ["summary", "flatten dense(10)", "--input-shape", "9999999999,9999999999,9"],
            "whose product fits in an integer"
        ),
        (
            ["summary", "res(" + String(repeating: "res(", count: 40) + "relu" + String(repeating: ")", count: 41)],
            "nest deeper than the limit of 32"
        ),
        (["eval", "/nonexistent/model.safetensors"], "no such file"),
        (["train", "--batch-size", "0"], "batch size must be > 0"),
        (["train", "--threads", "0"], "--threads must be between 1 and 1024, found 0"),
        (["predict", "/nonexistent.safetensors", "a.png", "--preprocessed"], "--preprocessed applies to --input"),
        (["train", "--lr-decay", "2"], "decay must be in (0, 1]"),
        (["train", "--optimizer", "adam", "--momentum", "0.9"], "momentum applies to"),
        (["train", "--hidden", "10,x", "--model", "mlp"], "--hidden takes positive integers"),
        (["train", "--epochs", "abc"], "error:"),
        (["train", "--no-such-flag"], "error:"),
    ])
    func badInputIsOneLineAndExitOne(arguments: [String], expected: String) throws {
        guard let result = try run(arguments) else { return }
        #expect(result.status == 1, "\(arguments): exit \(result.status)")
        let lines = result.error.split(separator: "\n")
        #expect(lines.first?.hasPrefix("error: ") == true, "\(arguments): \(result.error)")
        #expect(lines.first?.contains(expected) == true, "\(arguments): \(result.error)")
        #expect(result.output.isEmpty)
    }

    @Test func xorPrintsFourPredictions() throws {
        guard let result = try run(["train", "--model", "xor", "--batch-size", "2", "--epochs", "3000"]) else { return }
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("mini-batch gradient descent"))
        #expect(result.output.split(separator: "\n").filter { $0.contains(" xor ") }.count == 4)
        #expect(result.output.contains("accuracy 1.00"))
    }

    @Test func helpExitsZero() throws {
        guard let result = try run(["--help"]) else { return }
        #expect(result.status == 0)
        #expect(result.output.contains("train"))
    }
}

extension CommandLineTests {
    @Test func trainWithRunDirectoryThenPlot() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-cli-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let result = try run(["train", "--epochs", "2", "--out", directory.path]) else { return }
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("Epoch ") }.count == 2, "plain lines off a terminal: \(result.output)")
        #expect(result.output.contains("test accuracy"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("report.html"))
        guard let plot = try run(["plot", directory.path]) else { return }
        #expect(plot.status == 0, "\(plot.error)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("report.html").path))
        guard let missing = try run(["plot", directory.appendingPathComponent("nothing").path]) else { return }
        #expect(missing.status == 1)
        #expect(missing.error.hasPrefix("error: "))
    }
}

/// Set once a child process has been waited for, so that a timeout never signals a reused pid.
final class FinishedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false

    /// Runs `body` unless the flag is set.
    func check(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if !isSet { body() }
    }

    func set() {
        lock.lock()
        isSet = true
        lock.unlock()
    }
}
