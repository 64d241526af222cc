import Foundation
import Testing

@testable import ConvNet

/// The batching queue without HTTP: concurrent submissions gathered into one call, the batch
/// size cap, the wait, errors given to every caller, and the drain at shutdown.
struct BatchingQueueTests {
    /// The batch sizes `process` saw, in order (written on the queue's thread, read by the test).
    final class BatchLog: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int] = []
        func append(_ size: Int) {
            lock.lock()
            values.append(size)
            lock.unlock()
        }
        var sizes: [Int] {
            lock.lock()
            defer { lock.unlock() }
            return values
        }
    }

    /// A queue whose `process` doubles each input and logs the batch size.
    static func doublingQueue(maximumBatchSize: Int, maximumWait: Double, log: BatchLog) -> BatchingQueue<Int, Int> {
        BatchingQueue(maximumBatchSize: maximumBatchSize, maximumWait: maximumWait) { inputs in
            log.append(inputs.count)
            return inputs.map { $0 * 2 }
        }
    }

    /// Submits `inputs` concurrently, one task each; returns the outputs by input.
    static func submitConcurrently(_ inputs: [Int], to queue: BatchingQueue<Int, Int>) async throws -> [Int: Int] {
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for input in inputs { group.addTask { (input, try await queue.submit(input)) } }
            var outputs: [Int: Int] = [:]
            for try await (input, output) in group { outputs[input] = output }
            return outputs
        }
    }

    @Test func concurrentSubmissionsAreOneBatch() async throws {
        let log = BatchLog()
        // A long wait: in a full parallel test run, the ten tasks may start far apart.
        let queue = Self.doublingQueue(maximumBatchSize: 64, maximumWait: 3, log: log)
        defer { queue.shutDown() }
        let outputs = try await Self.submitConcurrently(Array(0..<10), to: queue)
        #expect(
            outputs == Dictionary(uniqueKeysWithValues: (0..<10).map { ($0, $0 * 2) }), "each caller its own output")
        #expect(log.sizes == [10], "ten submissions within the wait: one call of process")
    }

    @Test func batchesAreCappedAtTheMaximumSize() async throws {
        let log = BatchLog()
        let queue = Self.doublingQueue(maximumBatchSize: 4, maximumWait: 3, log: log)
        defer { queue.shutDown() }
        let outputs = try await Self.submitConcurrently(Array(0..<10), to: queue)
        #expect(outputs.count == 10 && outputs.allSatisfy { $0.value == $0.key * 2 })
        #expect(log.sizes == [4, 4, 2], "full batches close at once; the rest waits for its deadline")
    }

    @Test func maximumBatchOfOneTurnsBatchingOff() async throws {
        let log = BatchLog()
        // A wait of a minute that a batch of one never waits for (else the test takes 6 minutes).
        let queue = Self.doublingQueue(maximumBatchSize: 1, maximumWait: 60, log: log)
        defer { queue.shutDown() }
        _ = try await Self.submitConcurrently(Array(0..<6), to: queue)
        #expect(log.sizes == [1, 1, 1, 1, 1, 1])
    }

    @Test func aLoneInputWaitsAboutTheMaximumWait() async throws {
        let log = BatchLog()
        let queue = Self.doublingQueue(maximumBatchSize: 64, maximumWait: 0.05, log: log)
        defer { queue.shutDown() }
        let start = Date()
        #expect(try await queue.submit(21) == 42)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.045, "waited \(elapsed) s for company, then ran alone")
        #expect(log.sizes == [1])
    }

    @Test func anErrorReachesEveryCallerOfTheBatch() async throws {
        struct Broken: Error {}
        let queue = BatchingQueue<Int, Int>(maximumBatchSize: 8, maximumWait: 0.3) { _ in throw Broken() }
        defer { queue.shutDown() }
        let failures = await withTaskGroup(of: Bool.self) { group in
            for input in 0..<5 {
                group.addTask {
                    do {
                        _ = try await queue.submit(input)
                        return false
                    } catch { return error is Broken }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 5)
        let short = BatchingQueue<Int, Int>(maximumBatchSize: 8, maximumWait: 0) { _ in [] }
        defer { short.shutDown() }
        await #expect(throws: BatchingQueue<Int, Int>.Failure.outputCountMismatch(inputs: 1, outputs: 0)) {
            try await short.submit(1)
        }
    }

    @Test func shutDownAnswersTheQueuedInputsThenRefuses() async throws {
        let log = BatchLog()
        let queue = Self.doublingQueue(maximumBatchSize: 64, maximumWait: 60, log: log)
        let waiting = Task { try await Self.submitConcurrently([1, 2, 3], to: queue) }
        while queue.queuedCount < 3 { try await Task.sleep(for: .milliseconds(2)) }
        let seconds = await Task.detached {
            let start = Date()
            queue.shutDown()
            return Date().timeIntervalSince(start)
        }.value
        #expect(seconds < 30, "shutting down closes the batch without its full wait (60 s), took \(seconds) s")
        #expect(try await waiting.value == [1: 2, 2: 4, 3: 6])
        #expect(log.sizes == [3])
        await #expect(throws: BatchingQueue<Int, Int>.Failure.shuttingDown) { try await queue.submit(4) }
    }

    @Test func submitContentsOfKeepsTheOrder() async throws {
        let log = BatchLog()
        let queue = Self.doublingQueue(maximumBatchSize: 3, maximumWait: 0.01, log: log)
        defer { queue.shutDown() }
        #expect(try await queue.submit(contentsOf: Array(0..<7)) == (0..<7).map { $0 * 2 })
        #expect(log.sizes.reduce(0, +) == 7 && log.sizes.allSatisfy { $0 <= 3 })
    }
}

/// The Prometheus text page: counters with labels, cumulative histogram buckets, escaping.
struct PrometheusRegistryTests {
    @Test func expositionFormat() {
        let registry = PrometheusRegistry()
        registry.declareCounter("requests_total", help: "Requests.")
        registry.declareHistogram("batch_size", help: "Images per batch.", buckets: [1, 4, 16])
        registry.increment("requests_total", labels: [("route", "/v1/predict"), ("status", "200")])
        registry.increment("requests_total", labels: [("route", "/v1/predict"), ("status", "200")])
        registry.increment("requests_total", labels: [("route", "a\"b\\c"), ("status", "404")])
        for size in [1.0, 3, 3, 20] { registry.observe("batch_size", size) }
        #expect(registry.counterValue("requests_total", labels: [("route", "/v1/predict"), ("status", "200")]) == 2)
        let expected = """
            # HELP requests_total Requests.
            # TYPE requests_total counter
            requests_total{route="/v1/predict",status="200"} 2
            requests_total{route="a\\"b\\\\c",status="404"} 1
            # HELP batch_size Images per batch.
            # TYPE batch_size histogram
            batch_size_bucket{le="1"} 1
            batch_size_bucket{le="4"} 3
            batch_size_bucket{le="16"} 3
            batch_size_bucket{le="+Inf"} 4
            batch_size_sum 27
            batch_size_count 4

            """
        #expect(registry.exposition() == expected)
    }
}

/// Request bodies → model inputs, as `convnet predict` computes them, and the refusals.
struct PredictionServiceTests {
    /// A random (untrained) 3-class model on [3, 8, 8] images, with preprocessing, saved in `folder`.
    static func makeCheckpoint(in folder: URL) throws -> URL {
        let spec = try ModelSpec(parsing: "conv(4,k=3,p=1) relu maxpool(2) flatten dense(3)")
        let network: Sequential<Float> = try spec.makeNetwork(inputShape: [3, 8, 8], seed: 7)
        let preprocessing = try Preprocessing(scale: 255, sampleShape: [3, 8, 8], mean: [0.5, 0.4, 0.3])
        let metadata = CheckpointMetadata(
            spec: spec, inputShape: [3, 8, 8], classNames: ["cat", "dog", "fish"], preprocessing: preprocessing)
        let url = folder.appendingPathComponent("model.safetensors")
        try Checkpoint.save(network, metadata: metadata, to: url)
        return url
    }

    @Test func bodiesBecomeTheInputsOfConvnetPredict() async throws {
        let folder = makeTemporaryDirectory("convnet-serve-unit")
        defer { try? FileManager.default.removeItem(at: folder) }
        let predictor = try Predictor(checkpoint: Self.makeCheckpoint(in: folder))
        let service = try PredictionService(
            predictor: predictor, maximumBatchSize: 8, maximumWait: 0.001, defaultTopK: 2, maximumBodyBytes: 100_000)
        defer { service.queue.shutDown() }
        let jpeg = ImageDecoderTests.fixtures.appendingPathComponent(
            "jpeg_RGB_33x31_progressiveTrue_quality75_subsampling0.jpg")
        let png = folder.appendingPathComponent("a.png")
        try ImageFolderTests.writePNG((0..<300).map { UInt8($0 % 256) }, width: 10, height: 10, channels: 3, to: png)
        for file in [png, jpeg] {
            let sample = try service.sample(from: [UInt8](Data(contentsOf: file)))
            #expect(
                sample == (try predictor.inputs(predictor.imageInputs([file])).scalars), "\(file.lastPathComponent)")
            let answer = try await service.predict([sample])
            let direct = try predictor.topK(predictor.scores(predictor.imageInputs([file])), k: 2)[0]
            #expect(answer[0].predictions.map(\.class) == direct.map(\.name))
            for (served, expected) in zip(answer[0].predictions, direct) {
                #expect(abs(served.probability - expected.probability) < 1e-6)
            }
        }
        // A .npy sample [3, 8, 8] (or [1, 3, 8, 8]) of raw uint8 values, as `convnet predict --input`.
        let raw = (0..<192).map { UInt8(($0 * 7) % 256) }
        let npy = try NumPyArray(shape: [3, 8, 8], elementType: .uint8, bytes: raw).encoded()
        let expected = try predictor.inputs(ImageArray(shape: [1, 3, 8, 8], storage: .uint8(raw))).scalars
        #expect(try service.sample(from: npy) == expected)
        let batched = try NumPyArray(shape: [1, 3, 8, 8], elementType: .uint8, bytes: raw).encoded()
        #expect(try service.sample(from: batched) == expected)
        #expect(service.modelDescription.classes == ["cat", "dog", "fish"])
        #expect(service.modelDescription.inputShape == [3, 8, 8])
        #expect(service.modelDescription.pytorch.hasPrefix("nn.Sequential(nn.Conv2d(3, 4"))
    }

    @Test func badBodiesAreRefusedWithTheirStatus() throws {
        let folder = makeTemporaryDirectory("convnet-serve-unit")
        defer { try? FileManager.default.removeItem(at: folder) }
        let predictor = try Predictor(checkpoint: Self.makeCheckpoint(in: folder))
        let service = try PredictionService(
            predictor: predictor, maximumBatchSize: 8, maximumWait: 0.001, maximumBodyBytes: 1000)
        defer { service.queue.shutDown() }
        func status(_ body: [UInt8]) -> Int? {
            do {
                _ = try service.sample(from: body)
                return nil
            } catch let error as ServingError {
                #expect(
                    !error.json.contains("\n") && error.json.hasPrefix(#"{"error":"#), "one-line JSON: \(error.json)")
                return error.status
            } catch { return -1 }
        }
        #expect(status(Array("hello".utf8)) == 400, "not an image")
        #expect(status([]) == 400, "empty")
        #expect(status([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]) == 400, "a truncated PNG")
        #expect(status([0xFF, 0xD8, 0xFF, 0xE0, 0, 0]) == 400, "a truncated JPEG")
        #expect(status([0x93] + Array("NUMPY garbage".utf8)) == 400, "a corrupt .npy")
        let wrongShape = try NumPyArray(
            shape: [3, 9, 9], elementType: .uint8, bytes: [UInt8](repeating: 1, count: 243))
        #expect(status(wrongShape.encoded()) == 422, "arrays are not resized")
        #expect(status([UInt8](repeating: 0, count: 1001)) == 413)
        #expect(throws: ServingError.self) { try service.samples(fromBatchJSON: Array("[1, 2]".utf8)) }
        #expect(throws: ServingError.self) { try service.samples(fromBatchJSON: Array(#"{"images": ["%%%"]}"#.utf8)) }
    }
}
