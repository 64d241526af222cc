/// Output storage a layer reuses from step to step, so that a training step in steady state
/// allocates nothing.
///
/// It alternates between two tensors: the one handed out by the previous call may still be held
/// by the next layer (as its cached input) until that layer runs again, so it is not written;
/// the one from two calls ago normally is no longer shared and is overwritten in place. When a
/// caller does keep an older result, copy-on-write gives the layer a fresh array and the
/// caller's tensor stays intact: reuse is an optimisation, never visible.
struct TensorPair<Scalar: KernelScalar> {
    private var first: Tensor<Scalar>?
    private var second: Tensor<Scalar>?
    private var useFirst = false

    /// Returns a tensor of `shape` whose every element `body` has written (`body` gets the
    /// element pointer and count; the old contents are garbage).
    mutating func produce(
        shape: [Int], _ body: (UnsafeMutablePointer<Scalar>, Int) throws -> Void
    ) rethrows -> Tensor<Scalar> {
        try produce(matching: { $0 == shape }, makeShape: { shape }, body)
    }

    /// `produce(shape:)` for [samples] + source.dropFirst(), compared without building that
    /// array (which would allocate) unless the stored tensor's shape differs.
    mutating func produce(
        samples: Int, likeSamplesOf source: [Int], _ body: (UnsafeMutablePointer<Scalar>, Int) throws -> Void
    ) rethrows -> Tensor<Scalar> {
        try produce(
            matching: {
                $0.count == source.count && $0.first == samples && $0.dropFirst().elementsEqual(source.dropFirst())
            },
            makeShape: { [samples] + source.dropFirst() }, body)
    }

    private mutating func produce(
        matching: ([Int]) -> Bool, makeShape: () -> [Int],
        _ body: (UnsafeMutablePointer<Scalar>, Int) throws -> Void
    ) rethrows -> Tensor<Scalar> {
        useFirst.toggle()
        var tensor: Tensor<Scalar>?
        if useFirst {
            tensor = first
            first = nil
        } else {
            tensor = second
            second = nil
        }
        if tensor == nil || !matching(tensor!.shape) {
            tensor = nil
            tensor = Tensor(zeros: makeShape())
        }
        var result = tensor!
        tensor = nil
        try result.withUnsafeMutableBufferPointer { try body($0.baseAddress!, $0.count) }
        if useFirst { first = result } else { second = result }
        return result
    }
}

extension TensorPair {
    /// a + b element-wise (a's shape; b has as many elements), into this pair's storage: a
    /// residual sum, or the sum of the input gradients of two branches.
    mutating func sum(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                produce(shape: a.shape) { z, count in Scalar.add(x.baseAddress!, y.baseAddress!, z, count: count) }
            }
        }
    }
}

/// Raw scratch memory owned by a layer, grown on demand and never shrunk (64-byte aligned).
final class Workspace<Scalar: KernelScalar>: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Scalar>
    private(set) var capacity = 0

    init() {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
            .bindMemory(to: Scalar.self, capacity: 1)
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// At least `count` elements (contents undefined after growth).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Scalar> {
        if count > capacity {
            UnsafeMutableRawPointer(pointer).deallocate()
            pointer = UnsafeMutableRawPointer.allocate(
                byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64
            ).bindMemory(to: Scalar.self, capacity: max(count, 1))
            capacity = count
        }
        return pointer
    }
}

/// Splits 0..<count into contiguous ranges, one per core when count ≥ `minimum` (else one),
/// and runs `body` over each in parallel.
@inline(__always)
func parallelRanges<Body: ParallelRangeWork>(count: Int, minimum: Int = 1 << 15, _ body: Body) {
    let parts = count >= minimum ? min(ThreadPool.coreCount, max(count / 4096, 1)) : 1
    ThreadPool.run(parts: parts, RangeSplit(body: body, count: count, parts: parts))
}

/// `parallelRanges`'s parts: part p runs `body` over the p-th of `parts` equal ranges.
private struct RangeSplit<Body: ParallelRangeWork>: ParallelWork {
    let body: Body
    /// The length of the whole range and the number of parts.
    let count: Int
    let parts: Int

    func run(part: Int) {
        body.run((part * count / parts)..<((part + 1) * count / parts))
    }
}
