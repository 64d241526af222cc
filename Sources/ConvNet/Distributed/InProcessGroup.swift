import Foundation

/// N ranks as N threads of one process, sharing memory: a `Communicator` for tests and
/// reference runs that need no MPI. Collectives are exact and deterministic: a sum adds the
/// ranks' values in rank order (rank 0 + rank 1 + …) on every rank, so every rank holds the
/// same bits. `startSum` completes at once (the ranks meet inside it), so nothing overlaps.
///
/// ```swift
/// let results = try InProcessGroup.run(ranks: 2) { communicator in
///     let solver = try Solver(model: makeModel(), ...)   // one replica per rank
///     solver.communicator = communicator
///     return try solver.train()
/// }
/// ```
public final class InProcessGroup: @unchecked Sendable {
    /// The number of ranks.
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var failed = false
    /// Each rank's buffer in the collective in progress.
    private var slots: [UnsafeMutableRawPointer?]

    /// A group of `size` ranks; hand `communicator(rank:)` to each rank's thread.
    public init(size: Int) {
        precondition(size >= 1, "a group needs at least one rank")
        self.size = size
        slots = Array(repeating: nil, count: size)
    }

    /// Rank `rank`'s side of the group.
    public func communicator(rank: Int) -> any Communicator {
        precondition(rank >= 0 && rank < size, "rank \(rank) outside 0..<\(size)")
        return Member(group: self, rank: rank)
    }

    /// Runs `body` on `ranks` threads, one per rank, and returns their results in rank order;
    /// the first error thrown by any rank is rethrown (the other ranks are released from their
    /// collectives with an error instead of waiting for ever).
    public static func run<Result>(
        ranks: Int, stackBytes: Int = 16 << 20, _ body: @escaping (any Communicator) throws -> Result
    ) throws -> [Result] {
        let group = InProcessGroup(size: ranks)
        let box = ResultsBox<Result>(count: ranks)
        let unchecked = UncheckedBody(body: body)
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                do {
                    box.set(rank, .success(try unchecked.body(group.communicator(rank: rank))))
                } catch {
                    box.set(rank, .failure(error))
                    group.fail()
                }
            }
            thread.stackSize = stackBytes
            thread.start()
        }
        done.wait()
        return try box.results()
    }

    /// Releases every rank waiting in a collective (with an error): a rank has failed.
    func fail() {
        condition.lock()
        failed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every rank has arrived (a reusable barrier).
    func barrier() throws {
        condition.lock()
        defer { condition.unlock() }
        if failed { throw ConvNetError.invalidArgument("another rank of the in-process group failed") }
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
            return
        }
        while generation == mine && !failed { condition.wait() }
        if generation == mine { throw ConvNetError.invalidArgument("another rank of the in-process group failed") }
    }

    /// Publishes `pointer` as `rank`'s buffer, then waits for every rank's.
    func exchange(_ pointer: UnsafeMutableRawPointer?, rank: Int) throws {
        condition.lock()
        slots[rank] = pointer
        condition.unlock()
        try barrier()
    }

    func slot(_ rank: Int) -> UnsafeMutableRawPointer? {
        condition.lock()
        defer { condition.unlock() }
        return slots[rank]
    }

    private final class Member: Communicator {
        let group: InProcessGroup
        let rank: Int
        var size: Int { group.size }

        init(group: InProcessGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
            guard group.size > 1 else { return }
            try group.exchange(bytes.baseAddress, rank: rank)
            if rank != root, bytes.count > 0, let source = group.slot(root) {
                bytes.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
            }
            try group.barrier()  // the root's buffer is read before anyone goes on
        }

        func startSum<Scalar: KernelScalar>(_ values: UnsafeMutableBufferPointer<Scalar>) throws -> Int {
            guard group.size > 1 else { return 0 }
            try group.exchange(UnsafeMutableRawPointer(values.baseAddress), rank: rank)
            // Every rank adds in rank order into its own scratch, then writes it back after
            // everyone has read: all ranks hold the same bits.
            var sums = [Scalar](repeating: 0, count: values.count)
            for other in 0..<group.size {
                guard let pointer = group.slot(other) else { continue }
                let source = pointer.assumingMemoryBound(to: Scalar.self)
                for i in 0..<values.count { sums[i] = other == 0 ? source[i] : sums[i] + source[i] }
            }
            try group.barrier()
            _ = values.update(fromContentsOf: sums)
            return 0
        }

        func progress() throws {}
        func wait(_ request: Int) throws {}

        func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
            _ = try startSum(values)
        }
    }
}

/// The results of the ranks' threads.
private final class ResultsBox<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Swift.Result<Result, any Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ rank: Int, _ value: Swift.Result<Result, any Error>) {
        lock.lock()
        values[rank] = value
        lock.unlock()
    }

    /// Rank order; the first rank's own error (not a release by another's failure) is thrown.
    func results() throws -> [Result] {
        lock.lock()
        defer { lock.unlock() }
        var collected: [Result] = []
        var errors: [any Error] = []
        for value in values {
            switch value {
            case .success(let result)?: collected.append(result)
            case .failure(let error)?: errors.append(error)
            case nil: break
            }
        }
        if let original = errors.first(where: { !"\($0)".contains("another rank of the in-process group failed") })
            ?? errors.first
        {
            throw original
        }
        return collected
    }
}

/// A rank's body, handed to its thread (each thread runs it on its own replica).
private struct UncheckedBody<Result>: @unchecked Sendable {
    let body: (any Communicator) throws -> Result
}
