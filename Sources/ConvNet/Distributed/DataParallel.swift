import Foundation

/// Data-parallel training of one model replica per rank (PyTorch's
/// `DistributedDataParallel`, Horovod): every rank holds the same weights, computes the
/// gradients of its own share of each global batch, and the gradients are summed over the
/// ranks before every rank applies the same optimizer step.
///
/// - **Start**: `synchronize()` overwrites every rank's parameters and buffers with rank 0's.
/// - **Shards**: rank r of N takes samples ⌊M·r/N⌋ ..< ⌊M·(r+1)/N⌋ of each global batch of M
///   (`shard(of:)`), so the N shards are disjoint and together are exactly the batch a single
///   process would take: a run of N ranks × B equals one process at N·B.
/// - **Gradients**: each rank scales its mean gradient by its share (n_r / M) and the scaled
///   gradients are summed, which gives the mean over the global batch for any split (also the
///   last, smaller batch). Parameters are grouped, last layer first, into buckets of about
///   `bucketBytes`, each one contiguous buffer allocated once; a bucket's sum starts
///   (`Communicator.startSum`, MPI_Iallreduce) as soon as the backward pass has produced all
///   of its gradients, so communication overlaps the backward pass of the earlier layers, and
///   between layers `Communicator.progress()` lets the transport move data. After the backward
///   pass the buckets are waited for in order and copied back. L2 regularisation is added
///   after the sum (the weights are the same on every rank).
/// - **BatchNorm**: batch statistics are each rank's own (DDP's default, not SyncBatchNorm);
///   the running statistics kept and saved are rank 0's (DDP's `broadcast_buffers`), sent to
///   the other ranks by `synchronize()` at every epoch's end.
/// - **Loss, accuracy, stop**: one small sum per step carries the share-weighted loss, the
///   correct count and whether any rank was asked to stop, so every rank records the global
///   loss and all stop at the same step.
public final class DataParallel<Scalar: KernelScalar> {
    /// The ranks.
    public let communicator: any Communicator
    /// This rank's replica.
    public let model: Model<Scalar>
    /// The size a bucket grows to before a new one starts (a parameter is never split).
    public let bucketBytes: Int
    /// 1 MiB: small enough that a network of a few MB has several buckets whose sums overlap the
    /// backward pass, large enough that a bucket's latency (µs on one machine, tens of µs over
    /// TCP) is small next to its transfer.
    public static var defaultBucketBytes: Int { 1 << 20 }

    /// One contiguous buffer and the parameters it carries.
    struct Bucket {
        var storage: UnsafeMutableBufferPointer<Scalar>
        /// (parameter index, offset in storage, element count).
        var members: [(parameter: Int, offset: Int, count: Int)]
        var pending = 0
        var request = 0
    }

    private let parameters: [Parameter<Scalar>]
    private var buckets: [Bucket] = []
    /// The bucket of each parameter.
    private var bucketOfParameter: [Int]
    /// The parameters (indices) of each layer of the network, by layer index.
    private let parametersOfLayer: [[Int]]
    private var launched = 0
    private var weight: Scalar = 1
    /// Set during `lossAndGradients`: the network's backward reports to the buckets only then.
    private var active = false
    /// [share-weighted data loss, correct count, stop flag]: summed once per step.
    private let statistics = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3)
    /// Seconds spent waiting for sums after the backward pass, since the start (for measurements).
    public private(set) var waitSeconds = 0.0

    /// Buckets for `model`'s parameters (last first, as the backward pass produces them).
    public init(model: Model<Scalar>, communicator: any Communicator, bucketBytes: Int = defaultBucketBytes) {
        self.model = model
        self.communicator = communicator
        self.bucketBytes = max(bucketBytes, MemoryLayout<Scalar>.stride)
        parameters = model.parameters
        var index: [ObjectIdentifier: Int] = [:]
        for (position, parameter) in parameters.enumerated() { index[ObjectIdentifier(parameter)] = position }
        parametersOfLayer = model.network.layers.map { layer in
            layer.parameters.compactMap { index[ObjectIdentifier($0)] }
        }
        bucketOfParameter = Array(repeating: 0, count: parameters.count)
        let capacity = self.bucketBytes / MemoryLayout<Scalar>.stride
        var members: [(parameter: Int, offset: Int, count: Int)] = []
        var filled = 0
        func close() {
            guard !members.isEmpty else { return }
            let storage = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: filled)
            storage.initialize(repeating: 0)
            for member in members { bucketOfParameter[member.parameter] = buckets.count }
            buckets.append(Bucket(storage: storage, members: members))
            members = []
            filled = 0
        }
        for position in parameters.indices.reversed() {
            let count = parameters[position].value.count
            if filled > 0 && filled + count > capacity { close() }
            members.append((position, filled, count))
            filled += count
        }
        close()
        // Installed once (a closure made per step would be an allocation per step).
        model.network.onLayerBackward = { [weak self] layer in try self?.layerFinished(layer) }
    }

    deinit {
        for bucket in buckets { bucket.storage.deallocate() }
        statistics.deallocate()
    }

    /// The number of buckets.
    public var bucketCount: Int { buckets.count }
    /// The elements of each bucket, in launch order.
    public var bucketSizes: [Int] { buckets.map(\.storage.count) }

    /// Rank r's part of a global batch: ⌊M·r/N⌋ ..< ⌊M·(r+1)/N⌋ (disjoint, together the batch).
    public func shard(of batch: ArraySlice<Int>) -> ArraySlice<Int> {
        let (count, ranks, rank) = (batch.count, communicator.size, communicator.rank)
        let start = batch.startIndex + count * rank / ranks
        let end = batch.startIndex + count * (rank + 1) / ranks
        return batch[start..<end]
    }

    /// Overwrites every parameter and buffer with rank 0's.
    public func synchronize() throws {
        guard communicator.size > 1 else { return }
        for parameter in parameters { try communicator.broadcast(&parameter.value, root: 0) }
        for buffer in model.buffers {
            if buffer.isInteger {
                try communicator.broadcast(&buffer.integers, root: 0)
            } else {
                try communicator.broadcast(&buffer.values, root: 0)
            }
        }
    }

    /// One step's gradients: forward and backward on this rank's shard (nil when the shard is
    /// empty), summing the buckets as they fill; returns the global loss (data loss over the
    /// global batch + regularisation), the global correct count and whether any rank asked to
    /// stop. `share` is the shard's fraction of the global batch.
    public func lossAndGradients(
        inputs: Tensor<Scalar>?, targets: Tensor<Scalar>?, share: Double, stop: Bool
    ) throws -> (loss: Double, correct: Int, stop: Bool) {
        launched = 0
        weight = Scalar(share)
        for index in buckets.indices { buckets[index].pending = buckets[index].members.count }
        statistics[0] = 0
        statistics[1] = 0
        statistics[2] = stop ? 1 : 0
        if let inputs, let targets {
            active = true
            defer { active = false }
            let dataLoss = try model.dataLossAndGradients(inputs: inputs, targets: targets)
            statistics[0] = share * dataLoss
            statistics[1] = Double(model.lastCorrectCount)
        } else {
            for parameter in parameters {
                parameter.gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
        }
        // Whatever the backward pass did not report (or an empty shard) is sent now, in order.
        for index in buckets.indices { buckets[index].pending = 0 }
        try launchReadyBuckets()
        let started = Date()
        let statisticsRequest = try communicator.startSum(statistics)
        for index in buckets.indices {
            try communicator.wait(buckets[index].request)
            let storage = buckets[index].storage
            for member in buckets[index].members {
                parameters[member.parameter].gradient.withUnsafeMutableBufferPointer { gradient in
                    _ = gradient.update(fromContentsOf: storage[member.offset..<(member.offset + member.count)])
                }
            }
        }
        try communicator.wait(statisticsRequest)
        waitSeconds += Date().timeIntervalSince(started)
        model.addRegularizationGradient()
        return (statistics[0] + model.regularizationLoss, Int(statistics[1].rounded()), statistics[2] > 0)
    }

    /// Called after layer `layer`'s backward: its gradients are final.
    private func layerFinished(_ layer: Int) throws {
        guard active, layer < parametersOfLayer.count else { return }
        for parameter in parametersOfLayer[layer] { buckets[bucketOfParameter[parameter]].pending -= 1 }
        try launchReadyBuckets()
        try communicator.progress()
    }

    /// Starts the sums of the next buckets whose gradients are all in (always in bucket order,
    /// so that every rank starts the same collectives in the same order).
    private func launchReadyBuckets() throws {
        while launched < buckets.count && buckets[launched].pending <= 0 {
            let storage = buckets[launched].storage
            for member in buckets[launched].members {
                parameters[member.parameter].gradient.withUnsafeBufferPointer { gradient in
                    let target = storage.baseAddress! + member.offset
                    for i in 0..<member.count { target[i] = weight * gradient[i] }
                }
            }
            buckets[launched].request = try communicator.startSum(storage)
            launched += 1
        }
    }
}
