import Foundation
import Testing

@testable import ConvNet

/// `mpirun -np 2 convnet train --distributed` on this machine (as root: --allow-run-as-root,
/// --oversubscribe), against one process and against the in-process ranks of
/// `InProcessGroup`. The CLI trains in Float, so runs are compared to a stated tolerance
/// (the Double check to 1e-12 is `DistributedTrainingTests`). Skipped with one line where `convnet`
/// was built without MPI (CONVNET_MPI=1) or mpirun is missing.
struct DistributedCommandTests {
    /// The `convnet` with `--distributed`, and mpirun; nil (after the skip line) when either is missing.
    static func tools() throws -> (convnet: URL, mpirun: URL)? {
        let skip = "skipped: convnet train --distributed not built (CONVNET_MPI=1 and Open MPI needed)"
        let mpirun = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        guard let convnet = CommandLineTests.binary, let mpirun,
            try CommandLineTests.run(convnet, ["train", "--help"]).output.contains("--distributed")
        else {
            print(skip)
            return nil
        }
        return (convnet, mpirun)
    }

    /// The digits, 320 training and 64 validation samples, 1 thread per process.
    static let common = [
        "--num-training", "320", "--num-validation", "64", "--threads", "1", "--quiet", "--seed", "3",
    ]

    /// Every rank gives up on a collective after a minute (`MPICommunicator.timeout`).
    static let environment = ["CONVNET_MPI_TIMEOUT": "60"]

    /// `mpirun -np N convnet train --distributed ARGUMENTS`.
    static func mpirun(
        _ tools: (convnet: URL, mpirun: URL), ranks: Int = 2, _ arguments: [String], timeout: TimeInterval = 300
    ) throws -> CommandLineTests.Result {
        try CommandLineTests.run(
            tools.mpirun,
            ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(ranks), tools.convnet.path]
                + ["train", "--distributed"] + arguments, environment: environment, timeout: timeout)
    }

    static func temporaryDirectory(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-mpi-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: url)
        return url
    }

    /// Every tensor of `DIR/last.safetensors`, by name, as Doubles.
    static func weights(_ directory: URL) throws -> [String: [Double]] {
        let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("last.safetensors"))
        var result: [String: [Double]] = [:]
        for (name, tensor) in file.tensors {
            result[name] =
                tensor.dtype == .I64
                ? try tensor.integerValues(name: name).map(Double.init) : try tensor.doubleValues(name: name)
        }
        return result
    }

    /// The loss column of `DIR/metrics.csv`.
    static func losses(_ directory: URL) throws -> [Double] {
        let text = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",")
            return fields.count >= 3 ? Double(fields[2]) : nil
        }
    }

    /// The largest |a − b| over every tensor of two weight sets with the same names.
    static func largestDifference(_ a: [String: [Double]], _ b: [String: [Double]]) -> Double {
        #expect(a.keys.sorted() == b.keys.sorted())
        var worst = 0.0
        for (name, values) in a {
            guard let other = b[name], other.count == values.count else { return .infinity }
            for (x, y) in zip(values, other) { worst = max(worst, abs(x - y)) }
        }
        return worst
    }

    /// 2 ranks × batch 16 = one process at batch 32, every step: the losses to 1e-5 relative and
    /// the final weights to 1e-5 absolute (Float: the sums are split differently).
    @Test(arguments: [("sgd_momentum", "0.05"), ("adam", "0.002")])
    func twoRanksEqualOneProcessAtTwiceTheBatch(rule: String, learningRate: String) throws {
        guard let tools = try Self.tools() else { return }
        let parallel = Self.temporaryDirectory("\(rule)-2x16")
        let single = Self.temporaryDirectory("\(rule)-1x32")
        defer {
            try? FileManager.default.removeItem(at: parallel)
            try? FileManager.default.removeItem(at: single)
        }
        let options = Self.common + ["--optimizer", rule, "--learning-rate", learningRate, "--epochs", "2"]
        let run = try Self.mpirun(tools, options + ["--batch-size", "16", "--bucket-kib", "4", "--out", parallel.path])
        #expect(run.status == 0, "\(run.output)\(run.error)")
        let alone = try CommandLineTests.run(
            tools.convnet, ["train"] + options + ["--batch-size", "32", "--out", single.path])
        #expect(alone.status == 0, "\(alone.error)")
        let (parallelLosses, singleLosses) = (try Self.losses(parallel), try Self.losses(single))
        #expect(parallelLosses.count == 20)  // 2 epochs of 320 / 32
        #expect(relativeError(parallelLosses, singleLosses) < 1e-5)
        let difference = Self.largestDifference(try Self.weights(parallel), try Self.weights(single))
        #expect(difference < 1e-5, "largest weight difference \(difference)")
        print("distributed \(rule): 2×16 vs 1×32, largest weight difference \(difference)")
        // Rank 0 wrote the run; config.json keeps the global batch and the ranks.
        let configuration = try JSONDecoder().decode(
            TrainingConfiguration.self,
            from: Data(contentsOf: parallel.appendingPathComponent(TrainingJob.configurationFileName)))
        #expect(configuration.batchSize == 32 && configuration.ranks == 2)
    }

    /// With BatchNorm the ranks normalise with their own shard's statistics (DDP's default), so
    /// the run is not the single process at batch 32: it is compared with the same two ranks
    /// run as threads of this process (`InProcessGroup`), weights and running statistics to 1e-5.
    @Test(arguments: ["sgd_momentum", "adam"])
    func batchNormRunEqualsInProcessRanks(rule: String) throws {
        guard let tools = try Self.tools() else { return }
        let spec = "conv(6,k=3,p=1,bias=false) bn relu maxpool(2) flatten dense(10)"
        let directory = Self.temporaryDirectory("bn-\(rule)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try Self.mpirun(
            tools,
            Self.common + [
                "--spec", spec, "--optimizer", rule, "--epochs", "2", "--batch-size", "16", "--out", directory.path,
            ])
        #expect(run.status == 0, "\(run.output)\(run.error)")
        var configuration = TrainingConfiguration()
        configuration.mean = "none"
        configuration.trainingCount = 320
        configuration.validationCount = 64
        configuration.seed = 3
        configuration.spec = spec
        configuration.updateRule = rule
        configuration.learningRate = nil
        configuration.epochs = 2
        configuration.batchSize = 32
        let replicas = try InProcessGroup.run(ranks: 2) { communicator -> [String: [Double]] in
            let job = try TrainingJob(
                configuration: configuration, directory: nil, progress: ProgressBar(mode: .quiet, sink: { _ in }),
                communicator: communicator)
            try job.run()
            var result: [String: [Double]] = [:]
            for (name, parameter) in job.model.network.namedParameters {
                result[name] = parameter.value.scalars.map(Double.init)
            }
            for (name, buffer) in job.model.network.namedBuffers {
                result[name] =
                    buffer.isInteger ? buffer.integers.map(Double.init) : buffer.values.scalars.map(Double.init)
            }
            return result
        }
        let fromMPI = try Self.weights(directory)
        let difference = Self.largestDifference(fromMPI, replicas[0])
        #expect(difference < 1e-5, "largest difference \(difference)")
        #expect(Self.largestDifference(replicas[0], replicas[1]) == 0)
        print("distributed BatchNorm \(rule): mpirun vs in-process ranks, largest difference \(difference)")
    }

    /// A rank killed (SIGKILL) in epoch 2 ends every rank within seconds, each surviving rank
    /// with an `error:` line; `--resume` on 2 ranks then finishes exactly as a run never killed,
    /// and a distributed run stopped after epoch 1 continues in one process (at the same
    /// global batch) to the same weights within Float's tolerance.
    @Test func killedRankEndsTheJobAndTheRunResumes() throws {
        guard let tools = try Self.tools() else { return }
        let reference = Self.temporaryDirectory("reference")
        let killed = Self.temporaryDirectory("killed")
        let stopped = Self.temporaryDirectory("stopped")
        defer {
            for directory in [reference, killed, stopped] { try? FileManager.default.removeItem(at: directory) }
        }
        let options = Self.common + ["--optimizer", "sgd_momentum", "--epochs", "3", "--batch-size", "16"]
        let full = try Self.mpirun(tools, options + ["--out", reference.path])
        #expect(full.status == 0, "\(full.output)\(full.error)")

        // Rank 1 kills itself at its 13th training step (epoch 2 of 10 steps each).
        let started = Date()
        let crash = try CommandLineTests.run(
            tools.mpirun,
            ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
                + ["-np", "1", tools.convnet.path, "train", "--distributed"] + options + ["--out", killed.path]
                + [":", "-np", "1", "/usr/bin/env", "CONVNET_FAULT_KILL_AT=13", tools.convnet.path, "train"]
                + ["--distributed"] + options + ["--out", killed.path],
            environment: Self.environment, timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        #expect(crash.status != 0)
        #expect(seconds < 60, "the job took \(seconds) s to end")
        let errorLines = (crash.output + crash.error).split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(!errorLines.isEmpty, "no error: line in \(crash.output)\(crash.error)")
        print("killed rank: the job ended after \(String(format: "%.1f", seconds)) s with: \(errorLines.first ?? "")")
        let resumed = try Self.mpirun(tools, ["--resume", killed.path, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.output)\(resumed.error)")
        #expect(Self.largestDifference(try Self.weights(killed), try Self.weights(reference)) == 0)
        #expect(try Self.losses(killed) == Self.losses(reference))

        let first = try Self.mpirun(tools, options + ["--out", stopped.path, "--stop-after-epoch", "1"])
        #expect(first.status == 0, "\(first.output)\(first.error)")
        let alone = try CommandLineTests.run(tools.convnet, ["train", "--resume", stopped.path, "--quiet"])
        #expect(alone.status == 0, "\(alone.error)")
        let difference = Self.largestDifference(try Self.weights(stopped), try Self.weights(reference))
        #expect(difference < 1e-5, "largest weight difference \(difference)")
    }

    /// Two "hosts": one rank in each of two network namespaces joined by a veth pair
    /// (`Scripts/mpi-two-namespaces.sh`), so the sums cross a TCP link instead of shared memory;
    /// the run must equal the same 2 ranks on loopback bit for bit (a + b is b + a).
    @Test func twoNamespacesOverVethEqualLoopback() throws {
        guard let tools = try Self.tools() else { return }
        let probe = "convnet-probe-\(getpid())"
        let ip = URL(fileURLWithPath: "/usr/sbin/ip")
        guard FileManager.default.isExecutableFile(atPath: ip.path),
            try CommandLineTests.run(ip, ["netns", "add", probe]).status == 0
        else {
            print("skipped: the two-namespace MPI test needs root and ip netns (iproute2)")
            return
        }
        _ = try CommandLineTests.run(ip, ["netns", "del", probe])
        let overVeth = Self.temporaryDirectory("veth")
        let loopback = Self.temporaryDirectory("loopback")
        defer {
            try? FileManager.default.removeItem(at: overVeth)
            try? FileManager.default.removeItem(at: loopback)
        }
        let options = Self.common + ["--epochs", "1", "--batch-size", "16", "--optimizer", "adam"]
        let script = packageRoot().appendingPathComponent("Scripts/mpi-two-namespaces.sh")
        let veth = try CommandLineTests.run(
            URL(fileURLWithPath: "/bin/bash"),
            [script.path, tools.convnet.path, "train", "--distributed"] + options + ["--out", overVeth.path],
            environment: Self.environment, timeout: 120)
        #expect(veth.status == 0, "\(veth.output)\(veth.error)")
        let local = try Self.mpirun(tools, options + ["--out", loopback.path])
        #expect(local.status == 0, "\(local.output)\(local.error)")
        #expect(Self.largestDifference(try Self.weights(overVeth), try Self.weights(loopback)) == 0)
    }
}
