import Foundation

/// A request the server refuses, with the HTTP status that says why and a one-line message.
public struct ServingError: Error, Equatable, CustomStringConvertible {
    /// 400 (not an image, corrupt, malformed JSON), 413 (body over the cap), 422 (an array of
    /// the wrong shape), 503 (shutting down).
    public var status: Int
    /// What was expected and what was found.
    public var message: String

    /// An error answered with `status`.
    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    /// "STATUS: message".
    public var description: String { "\(status): \(message)" }

    /// The body of the answer: `{"error":"..."}` on one line.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(["error": message])) ?? Data(#"{"error":"unknown"}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// One class of an answer: its index, name and softmax probability.
public struct ClassProbability: Codable, Sendable, Equatable {
    /// The class index (the model's output row).
    public var index: Int
    /// The class name from the checkpoint (the index as text when it has none).
    public var `class`: String
    /// Softmax probability in [0, 1].
    public var probability: Double
}

/// The answer for one image: its `k` most probable classes, most probable first.
public struct ImagePrediction: Codable, Sendable, Equatable {
    /// Most probable first.
    public var predictions: [ClassProbability]
}

/// What `convnet-serve` computes, without HTTP: request bodies → model inputs (the checkpoint's
/// decode, resize and preprocessing, as `convnet predict` does), concurrent requests batched into
/// one forward pass by a ``BatchingQueue``, scores → top-k answers, and the metrics.
///
/// Accepted bodies for one image (told apart by their first bytes, not by Content-Type):
/// - PNG or JPEG: decoded, converted to the checkpoint's channels, resized and center-cropped to
///   its input size (``ImageTransform``: torchvision's `Resize` + `CenterCrop`, bilinear), scaled
///   to the range of its training data, then its preprocessing: any size is accepted;
/// - `.npy`: one raw sample [C, H, W] or [1, C, H, W] (uint8 or float, values as in the dataset),
///   which must have exactly the checkpoint's input shape (otherwise 422: arrays are not resized).
///
/// Concurrency: request tasks call ``sample(from:name:)`` and ``predict(_:topK:)`` concurrently; they
/// only read the checkpoint's metadata. The model itself is used by the queue's thread only.
public final class PredictionService: @unchecked Sendable {
    /// The checkpoint and its model (the model belongs to the batching thread).
    public let predictor: Predictor
    /// Batches model inputs [C·H·W] into score rows [classes].
    public let queue: BatchingQueue<[Float], [Float]>
    /// The page of `GET /metrics`.
    public let metrics: PrometheusRegistry
    /// Classes returned when a request does not say (`--top-k`), at most the class count.
    public let defaultTopK: Int
    /// Bodies larger than this are refused with 413.
    public let maximumBodyBytes: Int

    /// A service for a loaded checkpoint; starts the batching thread (``BatchingQueue/shutDown()`` ends it).
    /// - Parameters:
    ///   - predictor: the loaded checkpoint (its model is used by the batching thread from now on).
    ///   - maximumBatchSize: images per forward pass at most (`--max-batch`; 1 turns batching off).
    ///   - maximumWait: seconds a batch waits for more images after its first (`--max-wait-ms` / 1000).
    ///   - defaultTopK: classes per answer when a request does not say (`--top-k`).
    ///   - maximumBodyBytes: larger bodies are refused with 413 (`--max-body-bytes`).
    public init(
        predictor: Predictor, maximumBatchSize: Int, maximumWait: Double, defaultTopK: Int = 5,
        maximumBodyBytes: Int = 8 << 20
    ) throws {
        guard maximumBatchSize >= 1 else {
            throw ConvNetError.invalidArgument("--max-batch must be ≥ 1, found \(maximumBatchSize)")
        }
        guard maximumWait >= 0, maximumWait.isFinite else {
            throw ConvNetError.invalidArgument("--max-wait-ms must be ≥ 0, found \(maximumWait * 1000)")
        }
        guard defaultTopK >= 1 else { throw ConvNetError.invalidArgument("--top-k must be ≥ 1, found \(defaultTopK)") }
        guard maximumBodyBytes >= 1 else {
            throw ConvNetError.invalidArgument("--max-body-bytes must be ≥ 1, found \(maximumBodyBytes)")
        }
        self.predictor = predictor
        self.defaultTopK = min(defaultTopK, predictor.model.classCount)
        self.maximumBodyBytes = maximumBodyBytes
        let metrics = PrometheusRegistry()
        metrics.declareCounter("convnet_requests_total", help: "HTTP requests answered, by route and status.")
        metrics.declareCounter("convnet_request_errors_total", help: "HTTP requests answered with a 4xx or 5xx status.")
        metrics.declareHistogram(
            "convnet_request_duration_seconds", help: "Seconds from a request's arrival to its answer, by route.",
            buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5])
        metrics.declareHistogram(
            "convnet_batch_size", help: "Images per forward pass.", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
        metrics.declareHistogram(
            "convnet_batch_seconds", help: "Seconds of one batched forward pass.",
            buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1])
        metrics.declareCounter("convnet_images_total", help: "Images scored.")
        metrics.declareGauge("convnet_queued_images", help: "Images waiting for a batch when /metrics was read.")
        metrics.declareGauge("convnet_requests_in_flight", help: "Requests being answered when /metrics was read.")
        self.metrics = metrics
        let model = predictor.model
        let sampleCount = model.inputShape.reduce(1, *)
        queue = BatchingQueue(
            maximumBatchSize: maximumBatchSize, maximumWait: maximumWait,
            onBatch: { report in
                metrics.observe("convnet_batch_size", Double(report.size))
                metrics.observe("convnet_batch_seconds", report.processSeconds)
                metrics.increment("convnet_images_total", by: Double(report.size))
            },
            process: { samples in
                // [N, C·H·W] → one tensor [N, C, H, W] → scores [N, classes] in one forward pass.
                var values = [Float]()
                values.reserveCapacity(samples.count * sampleCount)
                for sample in samples { values += sample }
                let inputs = try Tensor<Float>(shape: [samples.count] + model.inputShape, scalars: values)
                let scores = try model.scores(inputs, batchSize: samples.count)
                let classes = model.classCount
                return (0..<samples.count).map { Array(scores.scalars[$0 * classes..<($0 + 1) * classes]) }
            })
    }

    /// One request body → the model input [C·H·W] (preprocessed), or a ``ServingError``
    /// (413 over the cap, 400 not an image or corrupt, 422 an array of the wrong shape).
    public func sample(from body: [UInt8], name: String = "body") throws -> [Float] {
        guard body.count <= maximumBodyBytes else {
            throw ServingError(status: 413, "\(name) has \(body.count) bytes, over the cap of \(maximumBodyBytes)")
        }
        let raw: ImageArray
        do {
            if body.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {  // "\x93NUMPY"
                let array = try NumPyArray(npy: body, name: name)
                let shape =
                    array.shape.first == 1 && array.shape.count == predictor.model.inputShape.count + 1
                    ? array.shape : [1] + array.shape
                guard Array(shape.dropFirst()) == predictor.model.inputShape else {
                    throw ServingError(
                        status: 422,
                        "\(name): the model takes one image [\(Self.list(predictor.model.inputShape))] "
                            + "(or [1, \(Self.list(predictor.model.inputShape))]), found [\(Self.list(array.shape))]")
                }
                let reshaped = try NumPyArray(shape: shape, elementType: array.elementType, bytes: array.bytes)
                raw = try ImageArray(reshaped, layout: .nchw)
            } else {
                let image = try ImageDecoder.decode(body, name: name)
                raw = try ImageArray(
                    shape: [1] + predictor.model.inputShape, storage: .float32(predictor.imageInput(image)))
            }
            return try predictor.inputs(raw).scalars
        } catch let error as ServingError {
            throw error
        } catch let error as ConvNetError {
            throw ServingError(status: 400, error.description)
        } catch {
            throw ServingError(status: 400, "\(name): \(error)")
        }
    }

    /// Scores `samples` (model inputs from ``sample(from:name:)``) through the batching queue and
    /// returns each one's `topK` classes (nil: ``defaultTopK``).
    public func predict(_ samples: [[Float]], topK: Int? = nil) async throws -> [ImagePrediction] {
        let k = topK ?? defaultTopK
        guard k >= 1, k <= predictor.model.classCount else {
            throw ServingError(status: 400, "top_k must be in 1...\(predictor.model.classCount), found \(k)")
        }
        let rows: [[Float]]
        do {
            rows =
                samples.count == 1 ? [try await queue.submit(samples[0])] : try await queue.submit(contentsOf: samples)
        } catch BatchingQueue<[Float], [Float]>.Failure.shuttingDown {
            throw ServingError(status: 503, "the server is shutting down")
        }
        let scores = try Tensor<Float>(shape: [rows.count, predictor.model.classCount], scalars: rows.flatMap { $0 })
        return try predictor.topK(scores, k: k).map { best in
            ImagePrediction(
                predictions: best.map { ClassProbability(index: $0.index, class: $0.name, probability: $0.probability) }
            )
        }
    }

    /// The body of `POST /v1/predict/batch`: `{"images": ["<base64 PNG, JPEG or .npy>", ...]}` →
    /// the model inputs, in order. A malformed body or any bad image refuses the whole request.
    public func samples(fromBatchJSON body: [UInt8]) throws -> [[Float]] {
        guard body.count <= maximumBodyBytes else {
            throw ServingError(status: 413, "the body has \(body.count) bytes, over the cap of \(maximumBodyBytes)")
        }
        struct Batch: Decodable { var images: [String] }
        let batch: Batch
        do {
            batch = try JSONDecoder().decode(Batch.self, from: Data(body))
        } catch {
            throw ServingError(status: 400, #"expected JSON {"images": ["<base64>", ...]}, found a body that is not"#)
        }
        guard !batch.images.isEmpty else { throw ServingError(status: 400, "the list of images is empty") }
        return try batch.images.enumerated().map { index, text in
            guard let bytes = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw ServingError(status: 400, "image \(index): not base64")
            }
            return try sample(from: [UInt8](bytes), name: "image \(index)")
        }
    }

    /// `GET /v1/model`: what the checkpoint holds.
    public struct ModelDescription: Codable, Sendable, Equatable {
        /// The model spec (`convnet train --spec` syntax).
        public var spec: String
        /// One image [C, H, W].
        public var inputShape: [Int]
        /// Class names, by index.
        public var classes: [String]
        /// Trained parameters.
        public var parameters: Int
        /// The same network as a PyTorch module.
        public var pytorch: String
        /// Images per forward pass at most (`--max-batch`).
        public var maxBatch: Int
        /// Milliseconds a batch waits for more images (`--max-wait-ms`).
        public var maxWaitMilliseconds: Double
    }

    /// What `GET /v1/model` answers.
    public var modelDescription: ModelDescription {
        let model = predictor.model
        let names = predictor.checkpoint.metadata.classNames
        return ModelDescription(
            spec: predictor.checkpoint.metadata.spec.description, inputShape: model.inputShape,
            classes: (0..<model.classCount).map { $0 < names.count ? names[$0] : String($0) },
            parameters: model.parameters.reduce(0) { $0 + $1.value.count },
            pytorch: model.network.pytorchModule, maxBatch: queue.maximumBatchSize,
            maxWaitMilliseconds: queue.maximumWait * 1000)
    }

    /// Counts one answered request in the metrics: `route` (a known path, or "other"), its HTTP
    /// `status`, and the `seconds` from its arrival to its answer.
    public func record(route: String, status: Int, seconds: Double) {
        metrics.increment("convnet_requests_total", labels: [("route", route), ("status", String(status))])
        if status >= 400 { metrics.increment("convnet_request_errors_total", labels: [("route", route)]) }
        metrics.observe("convnet_request_duration_seconds", seconds, labels: [("route", route)])
    }

    private static func list(_ values: [Int]) -> String { values.map(String.init).joined(separator: ", ") }
}
