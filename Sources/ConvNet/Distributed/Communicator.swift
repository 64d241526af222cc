/// How the processes (ranks) of a data-parallel run talk to each other: the few collectives
/// that training needs, and nothing else. The library never depends on a transport: the
/// default is `SingleProcess` (no communication), `InProcessGroup` runs ranks as threads of
/// one process (tests, reference runs), and the optional `ConvNetMPI` target implements it
/// over MPI (`convnet train --distributed` under `mpirun`, built with `CONVNET_MPI=1`).
///
/// Every rank calls the same collectives in the same order with the same counts (MPI's rule);
/// `DataParallel` guarantees that for training. An implementation reports a peer that failed
/// by throwing (or by ending the process, as MPI's default error handler does) — never by
/// waiting for ever.
public protocol Communicator: AnyObject {
    /// This process's index, 0 ..< `size`; rank 0 writes the run's files.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }

    /// Overwrites `bytes` on every rank with rank `root`'s (parameters, buffers, small records).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws

    /// Starts summing `values` element-wise over all ranks, in place: when `wait` returns for
    /// the returned request, every rank holds the same sums. Requests complete in any order.
    func startSum<Scalar: KernelScalar>(_ values: UnsafeMutableBufferPointer<Scalar>) throws -> Int

    /// Lets started requests make progress without waiting for them (called between layers of
    /// the backward pass; transports whose progress needs the caller use it).
    func progress() throws

    /// Waits until the request from `startSum` is complete.
    func wait(_ request: Int) throws

    /// Sums `values` over all ranks, in place, and waits (small vectors: a step's loss, a stop flag).
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws
}

extension Communicator {
    /// Whether this rank writes files and prints (rank 0).
    public var isWriter: Bool { rank == 0 }

    /// Broadcasts the values of `tensor` from `root`.
    public func broadcast<Scalar: KernelScalar>(_ tensor: inout Tensor<Scalar>, root: Int) throws {
        try tensor.withUnsafeMutableBufferPointer { try broadcast(UnsafeMutableRawBufferPointer($0), root: root) }
    }

    /// Broadcasts an array of plain numbers from `root` (same count on every rank).
    public func broadcast<Element: BitwiseCopyable>(_ array: inout [Element], root: Int) throws {
        try array.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// `sum` of an array.
    public func sum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try sum($0) }
    }
}

/// One process alone: rank 0 of 1. Every collective leaves the values as they are.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func startSum<Scalar: KernelScalar>(_ values: UnsafeMutableBufferPointer<Scalar>) throws -> Int { 0 }
    public func progress() throws {}
    public func wait(_ request: Int) throws {}
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
}
