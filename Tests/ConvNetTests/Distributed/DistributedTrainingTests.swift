import Foundation
import Testing

@testable import ConvNet

/// Data-parallel training through `InProcessGroup` (ranks as threads, no MPI), in Double: N
/// ranks × batch B must equal one process at batch N·B step for step, to 1e-12.
struct DistributedTrainingTests {
    /// 22 random 2×5×5 samples of 3 classes (22 = 2 batches of 8 + a last batch of 6).
    static func data(count: Int = 22) -> (inputs: Tensor<Double>, labels: Tensor<Double>) {
        var random = SeededRandom(seed: 7)
        let inputs: Tensor<Double> = randomTensor([count, 2, 5, 5], seed: 11)
        let labels = Tensor<Double>(
            uncheckedShape: [count], scalars: (0..<count).map { _ in Double(random.integer(below: 3)) })
        return (inputs, labels)
    }

    static func makeModel(spec: String, seed: UInt64) throws -> Model<Double> {
        let network: Sequential<Double> = try ModelSpec(parsing: spec).makeNetwork(inputShape: [2, 5, 5], seed: seed)
        return try Model(network: network, loss: SoftmaxCrossEntropy(), inputShape: [2, 5, 5], regularization: 1e-3)
    }

    static func makeOptimizer(_ rule: String) throws -> any Optimizer<Double> {
        rule == "adam" ? try Adam(learningRate: 1e-2) : try SGD(learningRate: 5e-2, momentum: 0.9)
    }

    static let plainSpec = "conv(3,k=3,p=1) relu maxpool(2) flatten dense(6) relu dense(3)"
    static let batchNormSpec = "conv(3,k=3,p=1,bias=false) bn relu flatten dense(3)"

    /// The losses and every parameter's values after each step, and the final buffers.
    struct Trace {
        var losses: [Double] = []
        var parameters: [[Double]] = []
        var buffers: [Double] = []
    }

    /// Trains `spec` for 2 epochs at global batch 8 on `ranks` ranks (1: a plain Solver).
    /// Every rank but 0 starts from other weights, which rank 0's broadcast must replace.
    static func train(spec: String, rule: String, ranks: Int, bucketBytes: Int = 64, count: Int = 22) throws
        -> [Trace]
    {
        let (inputs, labels) = data(count: count)
        let body: (any Communicator) throws -> Trace = { communicator in
            let model = try makeModel(spec: spec, seed: communicator.rank == 0 ? 1 : 99)
            var options = SolverOptions()
            options.batchSize = 8
            options.epochs = 2
            options.verbose = false
            let solver = try Solver(
                model: model, optimizer: try makeOptimizer(rule), trainInputs: inputs, trainTargets: labels,
                options: options)
            solver.communicator = communicator
            solver.bucketBytes = bucketBytes
            var trace = Trace()
            solver.onIteration = { progress in
                trace.losses.append(progress.record.loss)
                trace.parameters.append(model.parameters.flatMap { $0.value.scalars })
            }
            try solver.train()
            trace.buffers = model.buffers.flatMap { $0.values.scalars }
            return trace
        }
        return ranks == 1 ? [try body(SingleProcess())] : try InProcessGroup.run(ranks: ranks, body)
    }

    @Test(arguments: [("sgd_momentum", 2), ("adam", 2), ("sgd_momentum", 3), ("adam", 3)])
    func ranksEqualOneProcessAtTheGlobalBatch(rule: String, ranks: Int) throws {
        let single = try Self.train(spec: Self.plainSpec, rule: rule, ranks: 1)[0]
        let parallel = try Self.train(spec: Self.plainSpec, rule: rule, ranks: ranks)
        #expect(single.losses.count == 6)  // 2 epochs of 3 batches (8, 8, 6)
        for trace in parallel {
            #expect(trace.losses.count == single.losses.count)
            #expect(relativeError(trace.losses, single.losses) < 1e-12)
            for (step, (mine, reference)) in zip(trace.parameters, single.parameters).enumerated() {
                let error = relativeError(mine, reference)
                #expect(error < 1e-12, "\(rule), \(ranks) ranks, step \(step + 1): relative error \(error)")
            }
        }
        // Every rank holds the same bits.
        for trace in parallel.dropFirst() { #expect(trace.parameters == parallel[0].parameters) }
    }

    /// 17 samples at global batch 8 on 2 ranks: the last batch has 1 sample, so rank 0's shard is
    /// empty; it still joins the sums (with zeros) and the run equals one process.
    @Test func anEmptyShardStillJoinsTheSums() throws {
        let single = try Self.train(spec: Self.plainSpec, rule: "adam", ranks: 1, count: 17)[0]
        let parallel = try Self.train(spec: Self.plainSpec, rule: "adam", ranks: 2, count: 17)
        #expect(single.losses.count == 6)
        for trace in parallel {
            #expect(relativeError(trace.losses, single.losses) < 1e-12)
            #expect(relativeError(trace.parameters.last ?? [], single.parameters.last ?? []) < 1e-12)
        }
    }

    /// With BatchNorm each rank normalises with its own shard's statistics (DDP's default), so
    /// the run differs from one process at N·B; it must equal the same computation done by
    /// hand: per shard, forward and backward on that shard alone, gradients weighted by the
    /// shard's share and summed, one step; the running statistics are rank 0's.
    @Test(arguments: ["sgd_momentum", "adam"])
    func batchNormStatisticsArePerRank(rule: String) throws {
        let parallel = try Self.train(spec: Self.batchNormSpec, rule: rule, ranks: 2)
        let (inputs, labels) = Self.data()
        let model = try Self.makeModel(spec: Self.batchNormSpec, seed: 1)
        let optimizer = try Self.makeOptimizer(rule)
        var random = SeededRandom(seed: 0)
        var reference = Trace()
        for _ in 0..<2 {
            let order = random.permutation(inputs.shape[0])
            var start = 0
            while start < order.count {
                let batch = order[start..<min(start + 8, order.count)]
                start += 8
                var sums = model.parameters.map { [Double](repeating: 0, count: $0.value.count) }
                var loss = 0.0
                var rankZeroBuffers: ModelSnapshot<Double>?
                for rank in 0..<2 {
                    let shard = Array(
                        batch[
                            (batch.startIndex + batch.count * rank / 2)..<(batch.startIndex + batch.count * (rank + 1)
                                / 2)
                        ])
                    let share = Double(shard.count) / Double(batch.count)
                    let before = model.snapshot()
                    let shardLoss = try model.dataLossAndGradients(
                        inputs: inputs.gathering(samples: shard), targets: labels.gathering(samples: shard))
                    loss += share * shardLoss
                    for (index, parameter) in model.parameters.enumerated() {
                        for i in sums[index].indices { sums[index][i] += share * parameter.gradient.scalars[i] }
                    }
                    if rank == 0 { rankZeroBuffers = model.snapshot() } else { try model.restore(before) }
                }
                if let rankZeroBuffers {  // rank 0's running statistics, the current weights
                    var kept = rankZeroBuffers
                    kept.parameters = model.parameters.map(\.value)
                    try model.restore(kept)
                }
                for (index, parameter) in model.parameters.enumerated() { parameter.gradient.scalars = sums[index] }
                model.addRegularizationGradient()
                reference.losses.append(loss + model.regularizationLoss)
                try optimizer.update(model.parameters)
                reference.parameters.append(model.parameters.flatMap { $0.value.scalars })
            }
        }
        reference.buffers = model.buffers.flatMap { $0.values.scalars }
        for trace in parallel {
            #expect(relativeError(trace.losses, reference.losses) < 1e-12)
            for (mine, expected) in zip(trace.parameters, reference.parameters) {
                #expect(relativeError(mine, expected) < 1e-12)
            }
            #expect(relativeError(trace.buffers, reference.buffers) < 1e-12)
        }
        // And it is not the single process at batch 16 (the statistics are per rank).
        let single = try Self.train(spec: Self.batchNormSpec, rule: rule, ranks: 1)[0]
        #expect(relativeError(single.losses, parallel[0].losses) > 1e-6)
    }

    /// Buckets: parameters last layer first, a bucket closed when the next parameter would pass
    /// the size (never split), one contiguous buffer each.
    @Test func bucketsFollowTheBackwardOrder() throws {
        let model = try Self.makeModel(spec: Self.plainSpec, seed: 1)
        // conv 3·2·3·3 = 54 + 3, dense 12·6 = 72 + 6, dense 6·3 = 18 + 3 (Doubles).
        let small = DataParallel(model: model, communicator: SingleProcess(), bucketBytes: 64)
        #expect(small.bucketSizes == [3, 18, 6, 72, 3, 54])
        let medium = DataParallel(model: model, communicator: SingleProcess(), bucketBytes: 8 * 60)
        #expect(medium.bucketSizes == [3 + 18 + 6, 72, 3 + 54])
        let large = DataParallel(model: model, communicator: SingleProcess())
        #expect(large.bucketSizes == [156])
    }

    /// A stop asked for on one rank only stops every rank at the same step.
    @Test func aStopOnOneRankStopsAll() throws {
        let (inputs, labels) = Self.data()
        let steps = try InProcessGroup.run(ranks: 2) { communicator -> Int in
            let model = try Self.makeModel(spec: Self.plainSpec, seed: 1)
            var options = SolverOptions()
            options.batchSize = 4
            options.epochs = 2
            options.verbose = false
            let solver = try Solver(
                model: model, optimizer: try SGD(learningRate: 1e-2), trainInputs: inputs, trainTargets: labels,
                options: options)
            solver.communicator = communicator
            let stop = StopRequest()
            solver.stopRequest = stop
            solver.onIteration = { progress in
                if communicator.rank == 1 && progress.record.iteration == 2 { stop.request() }
            }
            try solver.train()
            #expect(solver.interruptedEpoch?.completedBatches == 3)
            return solver.history.iterations.count
        }
        #expect(steps == [3, 3])  // rank 1 asked during step 2: every rank stops after step 3
    }
}
