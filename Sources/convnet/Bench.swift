import ArgumentParser
import ConvNet
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `convnet bench`: the performance suite (W1, W2, W3 of ../shared/bench/README.md).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark training and inference of the W1/W2/W3 networks (images/s, GFLOP/s, memory, allocations).")

    @Flag(help: "Shorter timing (anchors.py --quick).")
    var quick = false

    @Option(help: "Comma-separated WORKLOAD:BATCH items (default W1:1,W1:16,W1:64,W1:256,W2:64,W3:64).")
    var only: String = "W1:1,W1:16,W1:64,W1:256,W2:64,W3:64"

    @Option(help: "Per-layer profiles, WORKLOAD:BATCH items ('' for none).")
    var profile: String = "W1:1,W1:64,W3:64"

    @Flag(help: "Skip the per-sample loop and image-size studies.")
    var noStudies = false

    @Flag(
        inversion: .prefixedNo,
        help: "Count heap allocations per step (builds an LD_PRELOAD shim with cc and re-runs itself).")
    var countAllocations = true

    @Flag(help: "Print JSON lines instead of tables.")
    var json = false

    @Flag(
        help: ArgumentHelp(
            "Only time Float.gemm at the im2col products of W1's and W3's convolutions (batch 64).",
            discussion: "Benchmarks/compare.py --gemm-shapes times torch.mm on the same products."))
    var gemmShapes = false

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        if countAllocations && !ProcessProbes.isCountingAllocations && getenv("CONVNET_ALLOCATION_SHIM") == nil {
            reexecWithAllocationShim()
        }
        let items = try parseItems(only)
        let profiles = try parseItems(profile)
        let runner = BenchmarkRunner(timing: quick ? .quick : .standard)
        let output = Output(json: json)

        let formatter = ISO8601DateFormatter()
        output.line(
            kind: "env",
            [
                "date": formatter.string(from: Date()), "cpu": ProcessProbes.cpuModel(),
                "cpu_detected": CPUInfo.current.summary, "gemm_plan": FloatGemmPlan.summary,
                "threads": "\(ConvNetRuntime.threads)",
                "allocation_counting": ProcessProbes.isCountingAllocations ? "on" : "off",
            ],
            text: "ConvNet bench — \(formatter.string(from: Date()))\nCPU: \(ProcessProbes.cpuModel()), "
                + "threads: \(ConvNetRuntime.threads), allocation counting: \(ProcessProbes.isCountingAllocations ? "on" : "off")"
                + "\ndetected: \(CPUInfo.current.summary)\nGEMM plan: \(FloatGemmPlan.summary)"
        )

        let peak = runner.measureGemmPeak()
        output.encode(
            kind: "peak", peak,
            text:
                "FMA limit (FMAProbe: 12 independent FMA chains per thread, 8 or 16 lanes, the faster; \(peak.threads) threads): "
                + "\(format(peak.fmaLimit, 1)) GFLOP/s\nGEMM peak (Float.gemm, square, \(peak.threads) threads): "
                + zip(peak.measurements, peak.fractionsOfFMALimit).map {
                    "\(Int($0[0]))³ \(format($0[3], 1)) GFLOP/s (\(format($1, 3)) of the FMA limit)"
                }.joined(separator: ", "))

        if gemmShapes {
            try measureConvolutionProducts(runner: runner, fmaLimit: peak.fmaLimit, output: output)
            return
        }

        if !json {
            print(
                "\nworkload batch | train img/s  ms/step | infer img/s | train GFLOP/s  of GEMM peak, of FMA limit | MFLOP/img (train, exact) | peak RSS MiB | allocs/step (train, infer)"
            )
        }
        for (workload, batch) in items {
            let result = try runner.run(workload, batch: batch, gemmPeak: peak.gigaflops, fmaLimit: peak.fmaLimit)
            output.encode(
                kind: "throughput", result,
                text: workload.rawValue
                    + String(
                        format: " %5d | %11.1f %8.2f | %11.1f | %13.1f  %6.3f, %6.3f | %8.2f, %8.2f | %12.1f | ", batch,
                        result.trainImagesPerSecond, result.trainMillisecondsPerStep,
                        result.inferImagesPerSecond, result.trainGigaflops, result.fractionOfGemmPeak ?? .nan,
                        result.fractionOfFMALimit ?? .nan,
                        Double(result.flops.training) / 1e6, Double(result.flops.trainingExact) / 1e6,
                        Double(result.peakResidentBytes) / 1_048_576)
                    + (result.allocationsPerTrainingStep.map { format($0, 1) } ?? "n/a") + ", "
                    + (result.allocationsPerInference.map { format($0, 1) } ?? "n/a"))
        }

        if !noStudies {
            let (loop, batched) = try runner.perSampleVersusBatched(.w1, batch: 64)
            output.line(
                kind: "per_sample",
                [
                    "workload": "W1", "batch": "64", "loop_img_per_s": format(loop, 1),
                    "batched_img_per_s": format(batched, 1), "speedup": format(batched / loop, 2),
                ],
                text: "\nW1, 64 images: per-sample loop \(format(loop, 1)) img/s, one batched call "
                    + "\(format(batched, 1)) img/s (\(format(batched / loop, 2))x)")
            if !json {
                print(
                    "\nW1 image-size scaling (batch 16): size | ms/step | µs/image | time ratio vs 32 | FLOP ratio vs 32 | GFLOP/s"
                )
            }
            var base: (Double, Double)?
            for size in [32, 64, 128] {
                let result = try runner.run(
                    .w1, batch: 16, imageSize: size, gemmPeak: peak.gigaflops, fmaLimit: peak.fmaLimit)
                let ms = result.trainMillisecondsPerStep
                let flops = Double(result.flops.training)
                if base == nil { base = (ms, flops) }
                output.encode(
                    kind: "image_size", result,
                    text: String(
                        format: "%4d | %8.2f | %8.1f | %6.2f | %6.2f | %7.1f", size, ms, ms * 1000 / 16,
                        ms / base!.0, flops / base!.1, result.trainGigaflops))
            }
        }

        for (workload, batch) in profiles {
            let profile = try runner.profile(workload, batch: batch)
            var text =
                "\nProfile \(workload.rawValue) batch \(batch) "
                + "(ms; GFLOP/s and its fraction of the FMA limit where the layer multiplies):"
            func rate(_ flops: Int, _ milliseconds: Double) -> String {
                guard flops > 0 else { return "" }
                let gigaflops = Double(flops) / milliseconds / 1e6
                return " (\(format(gigaflops, 1)), \(format(gigaflops / peak.fmaLimit, 3)))"
            }
            for layer in profile.layers {
                let forwardRate = rate(layer.forwardFlops, layer.forwardMilliseconds)
                let backwardRate = rate(layer.backwardFlops, layer.backwardMilliseconds)
                text +=
                    "\n  \(layer.index) \(layer.layer): forward \(format(layer.forwardMilliseconds, 3))\(forwardRate), backward \(format(layer.backwardMilliseconds, 3))\(backwardRate)"
            }
            text +=
                "\n  loss \(format(profile.lossMilliseconds, 3)), L2 + SGD update \(format(profile.updateMilliseconds, 3))"
            output.encode(kind: "profile", profile, text: text)
        }
    }

    /// The `--gemm-shapes` table: each convolution product of W1 and W3 at batch 64.
    private func measureConvolutionProducts(runner: BenchmarkRunner, fmaLimit: Double, output: Output) throws {
        if !json {
            print("\nFloat.gemm at the im2col products of the convolutions, batch 64 (GFLOP/s, of the FMA limit):")
        }
        for workload in [BenchmarkWorkload.w1, .w3] {
            for product in try workload.convolutionProducts(batch: 64) {
                let measured = runner.measure(product, fmaLimit: fmaLimit)
                output.encode(
                    kind: "gemm_shape", measured,
                    text: "\(workload.rawValue) layer \(product.layer) \(product.pass): m \(product.m) n \(product.n) "
                        + "k \(product.k) \(product.transposeA ? "T" : "N")\(product.transposeB ? "T" : "N") "
                        + "\(format(measured.gigaflops, 1)) (\(format(measured.fractionOfFMALimit ?? .nan, 3)))")
            }
        }
    }

    private func parseItems(_ text: String) throws -> [(BenchmarkWorkload, Int)] {
        try text.split(separator: ",").map { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let workload = BenchmarkWorkload(rawValue: String(parts[0]).uppercased()),
                let batch = Int(parts[1]), batch > 0
            else {
                throw ConvNetError.invalidArgument("expected WORKLOAD:BATCH such as W1:64, found '\(item)'")
            }
            return (workload, batch)
        }
    }

    /// Builds the counting shim and replaces this process with a copy that preloads it.
    private func reexecWithAllocationShim() {
        let directory = NSTemporaryDirectory() + "convnet-bench-\(getpid())"
        guard let library = try? ProcessProbes.buildAllocationShim(in: directory) else {
            FileHandle.standardError.write(Data("note: no C compiler; allocations are not counted\n".utf8))
            return
        }
        setenv("CONVNET_ALLOCATION_SHIM", library, 1)
        setenv("LD_PRELOAD", library, 1)
        let arguments = CommandLine.arguments
        var cArguments = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArguments)
        FileHandle.standardError.write(Data("note: could not re-run with the shim; allocations are not counted\n".utf8))
    }
}

private func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

/// Prints tables or JSON lines.
private struct Output {
    let json: Bool

    func line(kind: String, _ fields: [String: String], text: String) {
        if json {
            var object = fields
            object["kind"] = kind
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(text)
        }
        fflush(nil)
    }

    func encode<Value: Encodable>(kind: String, _ value: Value, text: String) {
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            let data = try! encoder.encode(value)
            var body = String(decoding: data, as: UTF8.self)
            body.removeFirst()
            print("{\"kind\":\"\(kind)\",\(body)")
        } else {
            print(text)
        }
        fflush(nil)
    }
}
