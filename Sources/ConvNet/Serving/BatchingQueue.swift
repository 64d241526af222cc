import Foundation

/// Dynamic batching: inputs submitted one at a time, from any number of concurrent tasks, are
/// gathered into batches and processed by one call per batch, and each caller gets its own output.
///
/// A batch closes when it holds `maximumBatchSize` inputs, or `maximumWait` after its first input
/// arrived, whichever comes first; the next batch starts gathering while the previous one is being
/// processed. The batches are processed one after another on one thread of the queue's own (not
/// a thread of Swift's cooperative pool, which the HTTP server needs for its I/O), so `process`
/// may use state that is not thread-safe, such as one model instance and its reused buffers.
///
/// ```swift
/// let queue = BatchingQueue<[Float], [Float]>(maximumBatchSize: 64, maximumWait: 0.002) { samples in
///     try scoresOfEachRow(model.scores(stacked(samples)))  // one forward pass for the batch
/// }
/// let scores = try await queue.submit(sample)  // from each request's task
/// ```
///
/// Inputs are taken in the order they arrived. `shutDown()` stops new submissions, lets the
/// queued inputs be processed, and returns when the last batch is done (a server's drain); the
/// queue's thread keeps the queue alive until then.
public final class BatchingQueue<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    /// Why a submission was not processed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// `shutDown()` was called before the input was submitted.
        case shuttingDown
        /// `process` returned a number of outputs different from the number of inputs.
        case outputCountMismatch(inputs: Int, outputs: Int)

        /// What went wrong, in words.
        public var description: String {
            switch self {
            case .shuttingDown: return "the server is shutting down"
            case .outputCountMismatch(let inputs, let outputs):
                return "a batch of \(inputs) inputs gave \(outputs) outputs"
            }
        }
    }

    /// One processed batch, as reported to `onBatch`.
    public struct BatchReport: Sendable {
        /// The number of inputs in the batch (1 ... maximumBatchSize).
        public var size: Int
        /// Seconds the first input of the batch waited before processing started.
        public var queueSeconds: Double
        /// Seconds `process` took for the whole batch.
        public var processSeconds: Double
    }

    /// The largest number of inputs processed in one call.
    public let maximumBatchSize: Int
    /// Seconds a batch waits for more inputs after its first one arrived.
    public let maximumWait: Double

    private struct Pending {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
        var arrival: UInt64
    }

    private let process: ([Input]) throws -> [Output]
    private let onBatch: (@Sendable (BatchReport) -> Void)?
    /// Guards `pending`, `isShuttingDown` and `isStopped`; signalled on every arrival and at shutdown.
    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var isShuttingDown = false
    private var isStopped = false
    private var thread: Thread?

    /// - Parameters:
    ///   - maximumBatchSize: at most this many inputs per call of `process` (≥ 1; 1 turns batching off).
    ///   - maximumWait: seconds a batch keeps gathering after its first input (≥ 0).
    ///   - onBatch: called on the queue's thread after each batch (for metrics).
    ///   - process: inputs [N] → outputs [N], in the same order; called on the queue's thread only.
    ///     An error it throws is given to every caller of that batch.
    public init(
        maximumBatchSize: Int, maximumWait: Double, onBatch: (@Sendable (BatchReport) -> Void)? = nil,
        process: @escaping ([Input]) throws -> [Output]
    ) {
        precondition(maximumBatchSize >= 1, "maximumBatchSize must be ≥ 1")
        precondition(maximumWait >= 0 && maximumWait.isFinite, "maximumWait must be finite and ≥ 0")
        self.maximumBatchSize = maximumBatchSize
        self.maximumWait = maximumWait
        self.process = process
        self.onBatch = onBatch
        let thread = Thread { self.run() }  // holds the queue until shutDown() ends the thread
        thread.name = "convnet-batching"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues `input` and returns its output once its batch has been processed. Throws
    /// `Failure.shuttingDown` after `shutDown()`, or the error `process` threw for the batch.
    public func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !isShuttingDown else {
                continuation.resume(throwing: Failure.shuttingDown)
                return
            }
            pending.append(
                Pending(input: input, continuation: continuation, arrival: DispatchTime.now().uptimeNanoseconds))
            condition.signal()
        }
    }

    /// Queues several inputs at once (they may be split over batches) and returns their outputs
    /// in order.
    public func submit(contentsOf inputs: [Input]) async throws -> [Output] {
        try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            for (index, input) in inputs.enumerated() {
                group.addTask { (index, try await self.submit(input)) }
            }
            var outputs = [Output?](repeating: nil, count: inputs.count)
            for try await (index, output) in group { outputs[index] = output }
            return outputs.map { $0! }
        }
    }

    /// The number of inputs waiting for a batch.
    public var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Refuses new inputs, processes those already queued, and returns when the queue's thread
    /// has finished its last batch.
    public func shutDown() {
        condition.lock()
        isShuttingDown = true
        condition.broadcast()
        while !isStopped { condition.wait() }
        condition.unlock()
    }

    /// The queue's thread: waits for a first input, gathers until the batch is full or its
    /// deadline passes, then processes it outside the lock.
    private func run() {
        condition.lock()
        while true {
            while pending.isEmpty && !isShuttingDown { condition.wait() }
            if pending.isEmpty {  // shutting down, nothing left
                isStopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            // Gather: until full, shutting down (no more will come), or the first input's deadline.
            let deadline = pending[0].arrival + UInt64(maximumWait * 1e9)
            while pending.count < maximumBatchSize && !isShuttingDown {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
            }
            let count = min(pending.count, maximumBatchSize)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            condition.unlock()

            let start = DispatchTime.now().uptimeNanoseconds
            let result = Result { try process(batch.map(\.input)) }
            let end = DispatchTime.now().uptimeNanoseconds
            switch result {
            case .success(let outputs) where outputs.count == batch.count:
                for (item, output) in zip(batch, outputs) { item.continuation.resume(returning: output) }
            case .success(let outputs):
                let failure = Failure.outputCountMismatch(inputs: batch.count, outputs: outputs.count)
                for item in batch { item.continuation.resume(throwing: failure) }
            case .failure(let error):
                for item in batch { item.continuation.resume(throwing: error) }
            }
            onBatch?(
                BatchReport(
                    size: batch.count, queueSeconds: Double(start - batch[0].arrival) / 1e9,
                    processSeconds: Double(end - start) / 1e9))
            condition.lock()
        }
    }
}
