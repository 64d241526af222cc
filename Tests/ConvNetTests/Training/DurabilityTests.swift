import Foundation
import Testing

@testable import ConvNet

/// Durability, tested the way SQLite and PostgreSQL test theirs: a real `convnet train --out`
/// child process is killed with SIGKILL at every crash point of its checkpoint commits (and
/// at training steps), then resumed; the finished run must equal an uninterrupted one byte for
/// byte (last/best checkpoints, metrics.csv, the history without its timings). Crash points
/// come from `FaultInjection` (`CONVNET_FAULT_TRACE` lists them, `CONVNET_FAULT_KILL_AT=N`
/// kills at the N-th); signals from `CONVNET_FAULT_SIGNAL_AT`.
@Suite(.serialized)
struct DurabilityTests {
    /// A small run with every kind of state: BatchNorm buffers, a Dropout stream, momentum,
    /// augmentation, a per-iteration schedule; 4 epochs of 4 batches.
    static let arguments = [
        "train", "--spec", "conv(4,k=3,p=1,bias=false) bn relu dropout(0.2) flatten dense(10)",
        "--num-training", "200", "--num-validation", "60", "--num-test", "60", "--batch-size", "50", "--epochs", "4",
        "--optimizer", "sgd_momentum", "--learning-rate", "0.05", "--schedule", "cosine", "--schedule-unit",
        "iteration",
        "--augment", "crop=1", "--seed", "11", "--quiet",
    ]

    static func temporaryDirectory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "convnet-durability-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandLineTests.Result {
        let binary = try #require(CommandLineTests.binary, "convnet binary not found next to the tests")
        return try CommandLineTests.run(binary, arguments, environment: environment)
    }

    /// The labels of a `CONVNET_FAULT_TRACE` file, in order (line N: "N LABEL"; point N is
    /// `labels[N - 1]`).
    static func crashPointLabels(_ trace: URL) throws -> [String] {
        try String(contentsOf: trace, encoding: .utf8).split(separator: "\n").map {
            String($0.split(separator: " ", maxSplits: 1).last ?? "")
        }
    }

    /// The files a finished run must reproduce exactly, by name.
    func finalFiles(_ directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in ["last.safetensors", "best.safetensors", "metrics.csv"] {
            files[name] = try Data(contentsOf: directory.appendingPathComponent(name))
        }
        // history.json without its timings (seconds differ from run to run).
        let history = try JSONSerialization.jsonObject(
            with: Data(contentsOf: directory.appendingPathComponent("history.json")))
        var epochs = try #require((history as? [String: Any])?["epochs"] as? [[String: Any]])
        for index in epochs.indices {
            epochs[index]["seconds"] = nil
            epochs[index]["elapsed_seconds"] = nil
        }
        files["history.json (no timings)"] = try JSONSerialization.data(withJSONObject: epochs, options: [.sortedKeys])
        return files
    }

    /// What a run directory must never keep after a successful run: temporary files, older or
    /// uncommitted generations.
    func expectClean(_ directory: URL, _ context: String) throws {
        let top = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!top.contains { $0.contains(".tmp-") }, "\(context): temporary files left: \(top)")
        let generations = try FileManager.default.contentsOfDirectory(
            atPath: directory.appendingPathComponent(CheckpointStore.folderName).path)
        #expect(generations.count == 2, "\(context): checkpoints/ holds \(generations)")
    }

    @Test func killedAtAnyPointResumesBitIdentically() throws {
        guard CommandLineTests.binary != nil else {
            print("skipping: convnet binary not found next to the tests in \(productsDirectory().path)")
            return
        }
        let reference = Self.temporaryDirectory("reference")
        defer { try? FileManager.default.removeItem(at: reference) }
        let trace = reference.appendingPathExtension("trace")
        defer { try? FileManager.default.removeItem(at: trace) }
        let whole = try run(
            Self.arguments + ["--out", reference.path], environment: ["CONVNET_FAULT_TRACE": trace.path])
        #expect(whole.status == 0, "\(whole.error)")
        let expected = try finalFiles(reference)
        let labels = try Self.crashPointLabels(trace)
        // Every point of the first two commits (the first creates everything, the second
        // replaces it), every other point of the later ones, and one training step in four.
        let secondCommitEnd =
            labels.indices.filter { labels[$0].hasSuffix(":cleaned") }.dropFirst().first ?? labels.count
        var points: [Int] = []
        var stepCount = 0
        for (index, label) in labels.enumerated() {
            if label == "step" {
                stepCount += 1
                if stepCount % 4 == 2 { points.append(index + 1) }
            } else if index <= secondCommitEnd || index % 2 == 0 {
                points.append(index + 1)
            }
        }
        #expect(labels.count > 60 && points.count > 40, "\(labels.count) crash points, \(points.count) chosen")
        // The commit is the rename of the `current` link; from the point after it on, a resume works.
        let firstCommit =
            try #require(labels.firstIndex { $0.hasPrefix("commit:") && $0.hasSuffix(":link-renamed") } ?? nil) + 1
        var resumed = 0
        var restarted = 0
        for point in points {
            let directory = Self.temporaryDirectory("kill-\(point)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let killed = try run(
                Self.arguments + ["--out", directory.path], environment: ["CONVNET_FAULT_KILL_AT": String(point)])
            let context = "killed at point \(point) (\(labels[point - 1]))"
            #expect(
                killed.killedBySignal && killed.status == SIGKILL, "\(context): status \(killed.status) \(killed.error)"
            )
            let again = try run(["train", "--resume", directory.path, "--quiet"])
            if point < firstCommit {
                // Nothing was committed: resume says why; a new start in the same folder works.
                #expect(again.status == 1 && again.error.contains("cannot resume"), "\(context): \(again.error)")
                let fresh = try run(Self.arguments + ["--out", directory.path])
                #expect(fresh.status == 0, "\(context), started again: \(fresh.error)")
                restarted += 1
            } else {
                #expect(again.status == 0, "\(context): resume failed: \(again.error)")
                resumed += 1
            }
            guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("best.safetensors").path)
            else {
                Issue.record("\(context): no best.safetensors after finishing")
                continue
            }
            let files = try finalFiles(directory)
            for (name, data) in expected where files[name] != data {
                Issue.record("\(context): \(name) differs from the uninterrupted run")
            }
            try expectClean(directory, context)
        }
        #expect(resumed > 30 && restarted > 0, "resumed \(resumed), restarted \(restarted)")
    }

    /// A full disk (a write failing with ENOSPC, `CONVNET_FAULT_FAIL_AT`) in any file of a
    /// commit stops training with one `error:` line and exit 1; the previous epoch stays in
    /// force and resumes to the same final files.
    @Test func fullDiskStopsAndResumes() throws {
        guard CommandLineTests.binary != nil else { return }
        let reference = Self.temporaryDirectory("reference3")
        let trace = reference.appendingPathExtension("trace")
        defer {
            try? FileManager.default.removeItem(at: reference)
            try? FileManager.default.removeItem(at: trace)
        }
        #expect(
            try run(Self.arguments + ["--out", reference.path], environment: ["CONVNET_FAULT_TRACE": trace.path]).status
                == 0)
        let labels = try Self.crashPointLabels(trace)
        // Every file's write in the first two commits, and the manifest's in the last.
        let firstTwoCommits = labels.indices.filter { labels[$0].hasSuffix(":cleaned") }.dropFirst().first ?? 0
        var points = labels.indices.filter { $0 <= firstTwoCommits && $0 > 4 && labels[$0].hasSuffix(":half") }.map {
            $0 + 1
        }
        points += labels.indices.filter { labels[$0] == "write:manifest.json:half" }.suffix(1).map { $0 + 1 }
        #expect(points.count >= 11, "\(points)")
        for point in points {
            let directory = Self.temporaryDirectory("full-\(point)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let context = "write failing at point \(point) (\(labels[point - 1]))"
            let failed = try run(
                Self.arguments + ["--out", directory.path], environment: ["CONVNET_FAULT_FAIL_AT": String(point)])
            let lines = failed.error.split(separator: "\n")
            #expect(failed.status == 1 && lines.count == 1, "\(context): exit \(failed.status), \(failed.error)")
            #expect(
                lines.first?.hasPrefix("error: ") == true && failed.error.contains("No space left on device"),
                "\(context): \(failed.error)")
            let resumed = try run(["train", "--resume", directory.path, "--quiet"])
            if resumed.status != 0 {
                // Only a failure in the first commit leaves nothing to resume; then a new start works.
                #expect(resumed.error.contains("nothing was saved there yet"), "\(context): \(resumed.error)")
                #expect(try run(Self.arguments + ["--out", directory.path]).status == 0, "\(context)")
            }
            #expect(try finalFiles(directory) == finalFiles(reference), "\(context)")
            try expectClean(directory, context)
        }
    }

    /// The (step, tags) of every scalar event in a TensorBoard event file: TFRecord framing
    /// (length, CRC, data, CRC) around `Event` protobufs (step = field 2, summary = field 5 with
    /// values = field 1, tag = field 1), decoded here independently of the writer.
    static func scalarEvents(_ bytes: [UInt8]) -> [(step: Int, tags: [String])] {
        func varint(_ data: ArraySlice<UInt8>, _ position: inout Int) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while position < data.endIndex {
                let byte = data[position]
                position += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return value
        }
        /// (field, wire type, payload) of each field of a message.
        func fields(_ data: ArraySlice<UInt8>) -> [(Int, UInt64, ArraySlice<UInt8>, UInt64)] {
            var result: [(Int, UInt64, ArraySlice<UInt8>, UInt64)] = []
            var position = data.startIndex
            while position < data.endIndex {
                let key = varint(data, &position)
                let wire = key & 7
                switch wire {
                case 0: result.append((Int(key >> 3), wire, data[position..<position], varint(data, &position)))
                case 1:
                    result.append((Int(key >> 3), wire, data[position..<position + 8], 0))
                    position += 8
                case 5:
                    result.append((Int(key >> 3), wire, data[position..<position + 4], 0))
                    position += 4
                case 2:
                    let length = Int(varint(data, &position))
                    result.append((Int(key >> 3), wire, data[position..<position + length], 0))
                    position += length
                default: return result
                }
            }
            return result
        }
        var events: [(step: Int, tags: [String])] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            var length = 0
            for index in 0..<8 { length |= Int(bytes[offset + index]) << (8 * index) }
            let body = bytes[(offset + 12)..<(offset + 12 + length)]
            offset += 16 + length
            var step = 0
            var tags: [String] = []
            for (field, _, payload, number) in fields(body) {
                if field == 2 { step = Int(number) }
                if field == 5 {
                    for (valueField, _, value, _) in fields(payload) where valueField == 1 {
                        for (tagField, _, tag, _) in fields(value) where tagField == 1 {
                            tags.append(String(decoding: tag, as: UTF8.self))
                        }
                    }
                }
            }
            if !tags.isEmpty { events.append((step, tags)) }
        }
        return events
    }

    /// A process killed in epoch 3 has logged steps that the resumed run trains again: the
    /// resumed run writes the events anew from the committed history, so each step appears once.
    @Test func resumeRewritesTheTensorBoardEvents() throws {
        guard CommandLineTests.binary != nil else { return }
        let directory = Self.temporaryDirectory("events")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Killed right after step 10 (epoch 3, batch 2), once steps 9 and 10 were logged.
        let trace = directory.appendingPathExtension("trace")
        defer { try? FileManager.default.removeItem(at: trace) }
        _ = try run(Self.arguments + ["--out", directory.path], environment: ["CONVNET_FAULT_TRACE": trace.path])
        try FileManager.default.removeItem(at: directory)
        let labels = try Self.crashPointLabels(trace)
        let tenthStep = try #require(labels.indices.filter { labels[$0] == "step" }.dropFirst(9).first) + 1
        let killed = try run(
            Self.arguments + ["--out", directory.path], environment: ["CONVNET_FAULT_KILL_AT": "\(tenthStep)"])
        #expect(killed.killedBySignal)
        #expect(try run(["train", "--resume", directory.path, "--quiet"]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("events.out.tfevents.")
        }
        #expect(files.count == 1, "\(files)")
        let eventFile = directory.appendingPathComponent(try #require(files.first))
        let events = Self.scalarEvents(Array(try Data(contentsOf: eventFile)))
        let lossSteps = events.filter { $0.tags.contains("loss") }.map(\.step)
        #expect(lossSteps == Array(1...16), "\(lossSteps)")
        let epochSteps = events.filter { $0.tags.contains("accuracy/val") }.map(\.step)
        #expect(epochSteps == [4, 8, 12, 16], "\(epochSteps)")
    }

    /// The thread count is part of a run: how a long sum is split between threads follows it
    /// (here the convolution's per-core weight-gradient partials), so a run started with one
    /// thread and resumed without `--threads` where there are more cores continues with one, and
    /// ends with the files of a run that never stopped. `--threads` overrides it, with a note,
    /// and then the files differ (the check that this model's bits do follow the thread count;
    /// should every sum one day be split independently of it, that expectation goes).
    @Test func resumeKeepsTheThreadCount() throws {
        guard CommandLineTests.binary != nil else { return }
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard cores > 1, ProcessInfo.processInfo.environment["CONVNET_THREADS"] == nil else {
            print("resumeKeepsTheThreadCount skipped: one core, or CONVNET_THREADS set")
            return
        }
        let reference = Self.temporaryDirectory("threads-reference")
        let kept = Self.temporaryDirectory("threads-kept")
        let changed = Self.temporaryDirectory("threads-changed")
        defer {
            for directory in [reference, kept, changed] { try? FileManager.default.removeItem(at: directory) }
        }
        let oneThread = Self.arguments + ["--threads", "1"]
        #expect(try run(oneThread + ["--out", reference.path]).status == 0)
        let configuration = try JSONDecoder().decode(
            TrainingConfiguration.self,
            from: Data(contentsOf: reference.appendingPathComponent(TrainingJob.configurationFileName)))
        #expect(configuration.threads == 1)
        for directory in [kept, changed] {
            let stopped = try run(oneThread + ["--stop-after-epoch", "2", "--out", directory.path])
            #expect(stopped.status == 0, "\(stopped.error)")
        }
        let resumed = try run(["train", "--resume", kept.path, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("note: continuing with the 1 thread the run started with"), "\(resumed.error)")
        #expect(try finalFiles(kept) == finalFiles(reference))
        let overridden = try run(["train", "--resume", changed.path, "--quiet", "--threads", "\(cores)"])
        #expect(overridden.status == 0, "\(overridden.error)")
        #expect(
            overridden.error.contains("note: \(cores) threads where the run started with 1 thread"),
            "\(overridden.error)")
        #expect(try finalFiles(changed) != finalFiles(reference))
    }

    /// Killed twice (the second time while resuming), still bit-identical.
    @Test func killedWhileResumingStillResumes() throws {
        guard CommandLineTests.binary != nil else { return }
        let reference = Self.temporaryDirectory("reference2")
        let directory = Self.temporaryDirectory("twice")
        defer {
            try? FileManager.default.removeItem(at: reference)
            try? FileManager.default.removeItem(at: directory)
        }
        #expect(try run(Self.arguments + ["--out", reference.path]).status == 0)
        let first = try run(Self.arguments + ["--out", directory.path], environment: ["CONVNET_FAULT_KILL_AT": "75"])
        #expect(first.killedBySignal)
        let second = try run(
            ["train", "--resume", directory.path, "--quiet"], environment: ["CONVNET_FAULT_KILL_AT": "40"])
        #expect(second.killedBySignal)
        let third = try run(["train", "--resume", directory.path, "--quiet"])
        #expect(third.status == 0, "\(third.error)")
        #expect(try finalFiles(directory) == finalFiles(reference))
    }

    /// SIGINT and SIGTERM stop at a step boundary, commit, say how to continue (one line) and
    /// exit 130 / 143; a second SIGINT exits at once. Every such run resumes bit-identically.
    @Test(arguments: [("INT", "5", Int32(130)), ("TERM", "9", Int32(143)), ("INT", "6,7", Int32(130))])
    func signalsStopResumably(signal: String, points: String, status: Int32) throws {
        guard CommandLineTests.binary != nil else { return }
        let reference = Self.temporaryDirectory("reference-\(signal)")
        let directory = Self.temporaryDirectory("signal-\(signal)")
        defer {
            try? FileManager.default.removeItem(at: reference)
            try? FileManager.default.removeItem(at: directory)
        }
        #expect(try run(Self.arguments + ["--out", reference.path]).status == 0)
        // Points 5 to 9 are training steps of epoch 1 or 2 (config.json's write takes four).
        let stopped = try run(
            Self.arguments + ["--out", directory.path],
            environment: ["CONVNET_FAULT_SIGNAL_AT": points, "CONVNET_FAULT_SIGNAL": signal])
        #expect(stopped.status == status && !stopped.killedBySignal, "exit \(stopped.status): \(stopped.error)")
        let lines = stopped.error.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.first?.hasPrefix("stopping after this step") == true, "\(stopped.error)")
        if !points.contains(",") {  // (a second signal exits at once, before or after the commit)
            #expect(lines.last?.hasPrefix("interrupted by SIG\(signal)") == true, "\(stopped.error)")
            #expect(
                lines.last?.contains("continue with: convnet train --resume \(directory.path)") == true,
                "\(stopped.error)")
        }
        let resumed = try run(["train", "--resume", directory.path, "--quiet"])
        if resumed.status != 0 {
            // Only a second signal before the first commit may leave nothing to resume.
            #expect(points.contains(",") && resumed.error.contains("cannot resume"), "\(resumed.error)")
            return
        }
        #expect(try finalFiles(directory) == finalFiles(reference))
        try expectClean(directory, "signal \(signal) at \(points)")
    }

    /// Training whose loss or weights stop being finite ends with one line naming the
    /// iteration, keeps the last good checkpoint (loadable, finite) and suggests a remedy.
    @Test func divergenceKeepsTheLastGoodCheckpoint() throws {
        guard CommandLineTests.binary != nil else { return }
        let directory = Self.temporaryDirectory("diverged")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A warm-up from 1e-8 × a huge rate: epoch 1 trains, epoch 2's rate explodes.
        let result = try run([
            "train", "--out", directory.path, "--epochs", "4", "--optimizer", "sgd", "--learning-rate", "1e9",
            "--schedule", "cosine", "--warmup", "3", "--warmup-start", "1e-10", "--quiet",
        ])
        #expect(result.status == 1, "\(result.status) \(result.error)")
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: training diverged: "), "\(result.error)")
        #expect(result.error.contains("iteration"), "\(result.error)")
        #expect(result.error.contains("keeps the last good checkpoint (after epoch 1)"), "\(result.error)")
        #expect(result.error.contains("--init"), "\(result.error)")
        let loaded = try Checkpoint.load(from: directory.appendingPathComponent("last.safetensors"), as: Float.self)
        #expect(loaded.model.parameters.allSatisfy { $0.value.firstNonFiniteIndex == nil })
        #expect(loaded.metadata.extra["epoch"] == "1")
        // And it resumes into the same divergence, not into a corrupt state.
        let again = try run(["train", "--resume", directory.path, "--quiet"])
        #expect(again.status == 1 && again.error.hasPrefix("error: training diverged: "), "\(again.error)")
    }
}
