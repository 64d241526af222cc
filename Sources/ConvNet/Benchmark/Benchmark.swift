import ConvNetKernels
import Foundation

/// How long to time each measurement: the anchors' protocol (warm-up, then at least
/// `minimumIterations` and `minimumSeconds`, at most `maximumIterations` or `maximumSeconds`;
/// the median is reported).
public struct BenchmarkTiming: Sendable, Codable {
    public var warmupIterations: Int
    public var warmupSeconds: Double
    public var minimumIterations: Int
    public var minimumSeconds: Double
    public var maximumIterations: Int
    public var maximumSeconds: Double

    /// anchors.py's default.
    public static let standard = BenchmarkTiming(
        warmupIterations: 2, warmupSeconds: 0.3, minimumIterations: 5, minimumSeconds: 1.5,
        maximumIterations: 300, maximumSeconds: 8)
    /// anchors.py's --quick.
    public static let quick = BenchmarkTiming(
        warmupIterations: 1, warmupSeconds: 0.1, minimumIterations: 3, minimumSeconds: 0.3,
        maximumIterations: 30, maximumSeconds: 3)

    public init(
        warmupIterations: Int, warmupSeconds: Double, minimumIterations: Int, minimumSeconds: Double,
        maximumIterations: Int, maximumSeconds: Double
    ) {
        self.warmupIterations = warmupIterations
        self.warmupSeconds = warmupSeconds
        self.minimumIterations = minimumIterations
        self.minimumSeconds = minimumSeconds
        self.maximumIterations = maximumIterations
        self.maximumSeconds = maximumSeconds
    }

    /// Median seconds per call of `body` after warm-up, and the number of timed calls.
    public func median(_ body: () throws -> Void) rethrows -> (seconds: Double, iterations: Int) {
        var start = ProcessProbes.nanoseconds()
        var done = 0
        while done < warmupIterations
            || (Double(ProcessProbes.nanoseconds() - start) * 1e-9 < warmupSeconds && done < 50)
        {
            try body()
            done += 1
        }
        var times: [Double] = []
        times.reserveCapacity(maximumIterations)
        start = ProcessProbes.nanoseconds()
        while true {
            let before = ProcessProbes.nanoseconds()
            try body()
            let after = ProcessProbes.nanoseconds()
            times.append(Double(after - before) * 1e-9)
            let elapsed = Double(after - start) * 1e-9
            if times.count >= minimumIterations
                && (elapsed >= minimumSeconds || times.count >= maximumIterations || elapsed >= maximumSeconds)
            {
                break
            }
        }
        times.sort()
        let middle = times.count / 2
        let median = times.count % 2 == 1 ? times[middle] : (times[middle - 1] + times[middle]) / 2
        return (median, times.count)
    }
}

/// One workload at one batch size: training and inference throughput and what they cost.
public struct BenchmarkResult: Sendable, Codable {
    public var workload: String
    public var batch: Int
    public var imageSize: Int
    public var trainImagesPerSecond: Double
    public var inferImagesPerSecond: Double
    public var trainMillisecondsPerStep: Double
    public var inferMillisecondsPerBatch: Double
    /// FLOPs per image: forward, training (3 × forward, the anchors' convention), exact.
    public var flops: FlopCount
    /// Training GFLOP/s by the anchors' convention (3 × forward per image).
    public var trainGigaflops: Double
    /// Inference GFLOP/s.
    public var inferGigaflops: Double
    /// trainGigaflops / the GEMM peak this binary measured.
    public var fractionOfGemmPeak: Double?
    /// trainGigaflops / the cores' measured FMA limit (`FMAProbe`).
    public var fractionOfFMALimit: Double?
    /// Peak resident memory while this workload ran, bytes.
    public var peakResidentBytes: Int
    /// Heap allocations per steady-state training step (nil without the counting shim).
    public var allocationsPerTrainingStep: Double?
    /// Heap allocations per steady-state inference batch (nil without the counting shim).
    public var allocationsPerInference: Double?
    public var timedIterations: [Int]
}

/// The Float GEMM's measured peak on this machine.
public struct GemmPeak: Sendable, Codable {
    /// (m, n, k, GFLOP/s) for each square product measured.
    public var measurements: [[Double]]
    /// The best of them.
    public var gigaflops: Double
    /// Threads the kernels use.
    public var threads: Int
    /// The cores' physical multiply-add limit measured by `FMAProbe` (GFLOP/s, same threads).
    public var fmaLimit: Double
    /// Each measurement's GFLOP/s as a fraction of `fmaLimit`, in the same order.
    public var fractionsOfFMALimit: [Double] { measurements.map { fmaLimit > 0 ? $0[3] / fmaLimit : .nan } }
}

/// One product of a convolution layer's im2col formulation over a whole batch, as `Conv2D`
/// calls `gemm` for it (the im2col algorithm; layers may take direct or Winograd kernels
/// instead): forward Y[F × N·P] = Wᵀ·cols (A stored [patch × F]), weight gradient
/// dW[F × patch] = dY·colsᵀ, input gradient dcols[patch × N·P] = Wᵀ·dY (A stored [F × patch]),
/// where P is the output plane and patch = C·K·K.
public struct ConvolutionProduct: Sendable, Codable {
    public var workload: String
    /// The layer's index in the network.
    public var layer: Int
    /// "forward", "weight gradient" or "input gradient".
    public var pass: String
    public var m: Int
    public var n: Int
    public var k: Int
    /// Whether A is stored k×m (and B n×k), as `gemm`'s flags.
    public var transposeA: Bool
    public var transposeB: Bool
    /// Measured GFLOP/s (2·m·n·k over the median time), 0 until measured.
    public var gigaflops: Double = 0
    /// gigaflops / the cores' measured FMA limit.
    public var fractionOfFMALimit: Double?
}

extension BenchmarkWorkload {
    /// The three products of each convolution layer for a batch of `batch` images (groups of
    /// 1 only).
    public func convolutionProducts(batch: Int) throws -> [ConvolutionProduct] {
        let network = try makeNetwork()
        let outputShapes = try network.layerShapes(forInputShape: inputShape)
        var products: [ConvolutionProduct] = []
        for (index, layer) in network.layers.enumerated() {
            let spec = layer.specification
            guard spec.token == ConvolutionKind.token, spec.arguments.integer("groups") == 1 else { continue }
            let input = index == 0 ? inputShape : outputShapes[index - 1]
            let output = outputShapes[index]
            let kernel = spec.arguments.integer("kernel")
            let (filters, patch) = (output[0], input[0] * kernel * kernel)
            let columns = batch * output[1] * output[2]
            func product(_ pass: String, _ m: Int, _ n: Int, _ k: Int, _ transposeA: Bool, _ transposeB: Bool)
                -> ConvolutionProduct
            {
                ConvolutionProduct(
                    workload: rawValue, layer: index, pass: pass, m: m, n: n, k: k, transposeA: transposeA,
                    transposeB: transposeB)
            }
            products += [
                product("forward", filters, columns, patch, true, false),
                product("weight gradient", filters, patch, columns, false, true),
                product("input gradient", patch, columns, filters, true, false),
            ]
        }
        return products
    }
}

/// Time per layer, forward and backward, of one training step.
public struct LayerProfile: Sendable, Codable {
    public var index: Int
    public var layer: String
    public var forwardMilliseconds: Double
    public var backwardMilliseconds: Double
    /// 2 · MACs for the batch (forward), and the backward's (2× forward, or 1× for the first
    /// layer whose input gradient is not needed).
    public var forwardFlops: Int
    public var backwardFlops: Int
}

/// Per-layer profile of one workload and batch.
public struct BenchmarkProfile: Sendable, Codable {
    public var workload: String
    public var batch: Int
    public var layers: [LayerProfile]
    public var lossMilliseconds: Double
    public var updateMilliseconds: Double
}

/// Runs the benchmark suite in-process. Everything `convnet bench` prints comes from here.
public struct BenchmarkRunner {
    public var timing: BenchmarkTiming

    public init(timing: BenchmarkTiming = .standard) {
        self.timing = timing
    }

    /// A random batch of `batch` samples and labels (seeded).
    public static func makeBatch(inputShape: [Int], batch: Int, seed: UInt64 = 1) -> (Tensor<Float>, Tensor<Float>) {
        var random = SeededRandom(seed: seed)
        let count = batch * inputShape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = Float(random.normal()) }
        var labels = [Float](repeating: 0, count: batch)
        for i in 0..<batch { labels[i] = Float(Int(random.uniform(in: 0, 10)) % 10) }
        return (
            Tensor(uncheckedShape: [batch] + inputShape, scalars: values),
            Tensor(uncheckedShape: [batch], scalars: labels)
        )
    }

    /// Measures the Float GEMM on square products (all threads), median of several runs.
    public func measureGemmPeak(sizes: [Int] = [1024, 2048]) -> GemmPeak {
        var measurements: [[Double]] = []
        for size in sizes {
            let seconds = gemmSeconds(
                transposeA: false, transposeB: false, m: size, n: size, k: size,
                a: [Float](repeating: 0.5, count: size * size), b: [Float](repeating: 0.25, count: size * size))
            let flops = 2 * Double(size) * Double(size) * Double(size)
            measurements.append([Double(size), Double(size), Double(size), flops / seconds / 1e9])
        }
        return GemmPeak(
            measurements: measurements, gigaflops: measurements.map { $0[3] }.max() ?? 0,
            threads: ThreadPool.coreCount, fmaLimit: FMAProbe.measure())
    }

    /// Times `Float.gemm` on `product` (beta 0, operands of ±1 values), median of
    /// `timing.minimumIterations` calls after two warm-up calls.
    public func measure(_ product: ConvolutionProduct, fmaLimit: Double) -> ConvolutionProduct {
        let (m, n, k) = (product.m, product.n, product.k)
        var generator = SeededRandom(seed: UInt64(m * n + k))
        let seconds = gemmSeconds(
            transposeA: product.transposeA, transposeB: product.transposeB, m: m, n: n, k: k,
            a: (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) },
            b: (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) })
        var measured = product
        measured.gigaflops = 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9
        measured.fractionOfFMALimit = fmaLimit > 0 ? measured.gigaflops / fmaLimit : nil
        return measured
    }

    /// Median seconds of `Float.gemm` (alpha 1, beta 0) on A and B stored as `gemm`'s flags say
    /// (A m×k, or k×m when `transposeA`; B k×n, or n×k), over `timing.minimumIterations` calls
    /// after two warm-up calls.
    private func gemmSeconds(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: [Float], b: [Float]
    ) -> Double {
        var c = [Float](repeating: 0, count: m * n)
        let fixed = BenchmarkTiming(
            warmupIterations: 2, warmupSeconds: 0, minimumIterations: timing.minimumIterations,
            minimumSeconds: 0, maximumIterations: timing.minimumIterations, maximumSeconds: 0)
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    fixed.median {
                        Float.gemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                            a: a.baseAddress!, lda: transposeA ? m : k, b: b.baseAddress!, ldb: transposeB ? k : n,
                            beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }.seconds
    }

    /// One training step as the anchors define it: forward, loss (+ L2), backward, SGD momentum.
    public static func trainingStep(
        model: Model<Float>, optimizer: SGD<Float>, parameters: [Parameter<Float>],
        inputs: Tensor<Float>, targets: Tensor<Float>
    ) throws {
        _ = try model.lossAndGradients(inputs: inputs, targets: targets)
        try optimizer.update(parameters)
    }

    /// Measures training and inference of `workload` at `batch`.
    public func run(
        _ workload: BenchmarkWorkload, batch: Int, imageSize: Int? = nil, gemmPeak: Double? = nil,
        fmaLimit: Double? = nil
    ) throws -> BenchmarkResult {
        ProcessProbes.resetPeakResident()
        let model = try workload.makeModel(imageSize: imageSize)
        let optimizer = try SGD<Float>(
            learningRate: BenchmarkWorkload.learningRate, momentum: BenchmarkWorkload.momentum)
        let parameters = model.parameters
        let (inputs, targets) = Self.makeBatch(inputShape: model.inputShape, batch: batch)
        let flops = try FlopCount(network: model.network, inputShape: model.inputShape)

        let train = try timing.median {
            try Self.trainingStep(
                model: model, optimizer: optimizer, parameters: parameters, inputs: inputs, targets: targets)
        }
        var trainAllocations: Double?
        if let before = ProcessProbes.allocationCount() {
            let steps = 10
            for _ in 0..<steps {
                try Self.trainingStep(
                    model: model, optimizer: optimizer, parameters: parameters, inputs: inputs, targets: targets)
            }
            trainAllocations = Double(ProcessProbes.allocationCount()! - before) / Double(steps)
        }
        let network = model.network
        model.mode = .inference
        defer { model.mode = .training }
        let infer = try timing.median { _ = try network.forward(inputs) }
        var inferAllocations: Double?
        if let before = ProcessProbes.allocationCount() {
            let steps = 10
            for _ in 0..<steps { _ = try network.forward(inputs) }
            inferAllocations = Double(ProcessProbes.allocationCount()! - before) / Double(steps)
        }
        let trainRate = Double(batch) / train.seconds
        let inferRate = Double(batch) / infer.seconds
        let trainGigaflops = trainRate * Double(flops.training) / 1e9
        return BenchmarkResult(
            workload: workload.rawValue, batch: batch, imageSize: model.inputShape[1],
            trainImagesPerSecond: trainRate, inferImagesPerSecond: inferRate,
            trainMillisecondsPerStep: train.seconds * 1e3, inferMillisecondsPerBatch: infer.seconds * 1e3,
            flops: flops, trainGigaflops: trainGigaflops,
            inferGigaflops: inferRate * Double(flops.forward) / 1e9,
            fractionOfGemmPeak: gemmPeak.map { trainGigaflops / $0 },
            fractionOfFMALimit: fmaLimit.map { trainGigaflops / $0 },
            peakResidentBytes: ProcessProbes.peakResidentBytes(),
            allocationsPerTrainingStep: trainAllocations, allocationsPerInference: inferAllocations,
            timedIterations: [train.iterations, infer.iterations])
    }

    /// The learner's question: gradients of `batch` samples by a loop of batch-1 calls (each
    /// sample's gradients summed into an accumulator, then one update) versus one batched call.
    /// Returns images per second of (loop, batched).
    public func perSampleVersusBatched(_ workload: BenchmarkWorkload, batch: Int = 64) throws -> (
        loop: Double, batched: Double
    ) {
        let model = try workload.makeModel()
        let optimizer = try SGD<Float>(
            learningRate: BenchmarkWorkload.learningRate, momentum: BenchmarkWorkload.momentum)
        let parameters = model.parameters
        let (inputs, targets) = Self.makeBatch(inputShape: model.inputShape, batch: batch)
        let samples = (0..<batch).map { inputs.slicing(samples: $0..<($0 + 1)) }
        let labels = (0..<batch).map { targets.slicing(samples: $0..<($0 + 1)) }
        var sums = parameters.map { [Float](repeating: 0, count: $0.value.count) }
        let scale = 1 / Float(batch)
        let loop = try timing.median {
            for index in sums.indices { sums[index].withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
            for n in 0..<batch {
                _ = try model.lossAndGradients(inputs: samples[n], targets: labels[n])
                // numpy's `dW_sum += dW / N`, as a plain loop: `Float.axpy` named on the concrete
                // type from outside ConvNetKernels runs the kernels' generic default unspecialised
                // (about 8 ns per element here), which made the accumulation, not the per-sample
                // passes, most of this loop's time.
                for (index, parameter) in parameters.enumerated() {
                    parameter.gradient.withUnsafeBufferPointer { g in
                        sums[index].withUnsafeMutableBufferPointer { s in
                            for i in 0..<g.count { s[i] += scale * g[i] }
                        }
                    }
                }
            }
            for (index, parameter) in parameters.enumerated() {
                parameter.gradient.withUnsafeMutableBufferPointer { g in
                    sums[index].withUnsafeBufferPointer { s in
                        g.baseAddress!.update(from: s.baseAddress!, count: s.count)
                    }
                }
            }
            try optimizer.update(parameters)
        }
        let batched = try timing.median {
            try Self.trainingStep(
                model: model, optimizer: optimizer, parameters: parameters, inputs: inputs, targets: targets)
        }
        return (Double(batch) / loop.seconds, Double(batch) / batched.seconds)
    }

    /// Times each layer's forward and backward inside a training step (median over steps).
    public func profile(_ workload: BenchmarkWorkload, batch: Int, imageSize: Int? = nil) throws -> BenchmarkProfile {
        let model = try workload.makeModel(imageSize: imageSize)
        let optimizer = try SGD<Float>(
            learningRate: BenchmarkWorkload.learningRate, momentum: BenchmarkWorkload.momentum)
        let parameters = model.parameters
        let (inputs, targets) = Self.makeBatch(inputShape: model.inputShape, batch: batch)
        let layers = model.network.layers
        // The layers as the training step runs them: one taken over by the layer before it (a
        // fused ReLU or pool) is timed with that layer and shows 0.
        let running = model.network.runningLayerIndices
        let flops = try FlopCount(network: model.network, inputShape: model.inputShape)
        var forward = [[Double]](repeating: [], count: layers.count)
        var backward = [[Double]](repeating: [], count: layers.count)
        var lossTimes: [Double] = []
        var updateTimes: [Double] = []
        let iterations = max(timing.minimumIterations, 7)
        for iteration in 0..<(iterations + 2) {
            var x = inputs
            for index in running {
                let start = ProcessProbes.nanoseconds()
                x = try layers[index].forward(x)
                if iteration >= 2 { forward[index].append(Double(ProcessProbes.nanoseconds() - start) * 1e-6) }
            }
            var start = ProcessProbes.nanoseconds()
            let value = try model.loss.evaluate(scores: x, targets: targets)
            if iteration >= 2 { lossTimes.append(Double(ProcessProbes.nanoseconds() - start) * 1e-6) }
            var gradient = value.gradient
            for index in running.reversed() {
                let start = ProcessProbes.nanoseconds()
                if let next = try layers[index].backward(gradient, needsInputGradient: index != 0) { gradient = next }
                if iteration >= 2 { backward[index].append(Double(ProcessProbes.nanoseconds() - start) * 1e-6) }
            }
            start = ProcessProbes.nanoseconds()
            model.addRegularizationGradient()
            try optimizer.update(parameters)
            if iteration >= 2 { updateTimes.append(Double(ProcessProbes.nanoseconds() - start) * 1e-6) }
        }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        }
        let firstWithProducts = flops.forwardMACsPerLayer.firstIndex { $0 > 0 }
        let profiles = layers.indices.map { index -> LayerProfile in
            let macs = flops.forwardMACsPerLayer[index] * batch
            return LayerProfile(
                index: index,
                layer: layers[index].description + (layers[index].algorithm.map { " [\($0)]" } ?? "")
                    + (running.contains(index) ? "" : " [fused into the layer before]"),
                forwardMilliseconds: median(forward[index]),
                backwardMilliseconds: median(backward[index]), forwardFlops: 2 * macs,
                backwardFlops: index == firstWithProducts ? 2 * macs : 4 * macs)
        }
        return BenchmarkProfile(
            workload: workload.rawValue, batch: batch, layers: profiles, lossMilliseconds: median(lossTimes),
            updateMilliseconds: median(updateTimes))
    }
}

/// Facts about how the library runs on this machine.
public enum ConvNetRuntime {
    /// The threads the kernels split work over (cores, or CONVNET_THREADS).
    public static var threads: Int { ThreadPool.coreCount }
}
