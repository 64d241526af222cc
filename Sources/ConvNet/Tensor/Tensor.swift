/// An n-dimensional array of `Float` or `Double`, row-major and contiguous.
///
/// Images are NCHW: `[batch, channels, height, width]`. A tensor is a value (copy-on-write
/// through its `scalars` array).
public struct Tensor<Scalar: KernelScalar>: Equatable, Sendable {
    /// The size of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Scalar]

    /// Wraps `scalars` with a shape; throws if the element count does not match.
    public init(shape: [Int], scalars: [Scalar]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw ConvNetError.shapeMismatch("negative dimension in shape \(describe(shape))")
        }
        let count = shape.reduce(1, *)
        guard count == scalars.count else {
            throw ConvNetError.shapeMismatch(
                "shape \(describe(shape)) needs \(count) elements, found \(scalars.count)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// Internal initialiser for shapes the library computed itself.
    init(uncheckedShape shape: [Int], scalars: [Scalar]) {
        precondition(shape.reduce(1, *) == scalars.count, "internal shape error \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Scalar, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.scalars = [Scalar](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of zeros.
    ///
    /// Written as zero bytes (+0.0 in IEEE 754): the layers are generic and reach this
    /// unspecialised, where `Array(repeating:count:)` copies each element through the type's
    /// value witness (about 3 ns per element: 10 ms for one [128, 32, 28, 28] activation).
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        self.scalars = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).initializeMemory(
                    as: UInt8.self, repeating: 0, count: count * MemoryLayout<Scalar>.stride)
            }
            initialized = count
        }
    }

    /// `count` evenly spaced values from `start` to `end` inclusive (numpy's `linspace`),
    /// laid out in `shape`.
    public init(linearlySpacedFrom start: Double, to end: Double, shape: [Int]) {
        let count = shape.reduce(1, *)
        let step = count > 1 ? (end - start) / Double(count - 1) : 0
        self.init(
            uncheckedShape: shape,
            scalars: (0..<count).map { Scalar(start + Double($0) * step) })
    }

    /// The number of elements.
    public var count: Int { scalars.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(to newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, scalars: scalars)
    }

    /// Element at a multi-dimensional index (for tests and small tensors).
    public subscript(_ index: Int...) -> Scalar {
        get { scalars[offset(of: index)] }
        set { scalars[offset(of: index)] = newValue }
    }

    private func offset(of index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not fit shape \(shape)")
        var offset = 0
        for (position, size) in zip(index, shape) {
            precondition(position >= 0 && position < size, "index \(index) outside shape \(shape)")
            offset = offset * size + position
        }
        return offset
    }

    /// The same values in another element type (Float ↔ Double).
    public func converted<Other: KernelScalar>(to: Other.Type = Other.self) -> Tensor<Other> {
        Tensor<Other>(uncheckedShape: shape, scalars: scalars.map { Other($0.doubleValue) })
    }

    /// The samples at `indices` along the first axis, in that order: a mini-batch.
    public func gathering(samples indices: some Collection<Int>) -> Tensor {
        let sampleSize = shape.isEmpty ? 1 : count / max(shape[0], 1)
        var result = [Scalar]()
        result.reserveCapacity(indices.count * sampleSize)
        scalars.withUnsafeBufferPointer { source in
            for index in indices {
                precondition(index >= 0 && index < shape[0], "sample \(index) outside \(shape[0])")
                result.append(contentsOf: source[(index * sampleSize)..<((index + 1) * sampleSize)])
            }
        }
        var newShape = shape
        newShape[0] = indices.count
        return Tensor(uncheckedShape: newShape, scalars: result)
    }

    /// `gathering(samples:)` into storage reused from call to call (what the Solver's steps
    /// use: no allocation once `buffers` hold tensors of the batch's shape).
    func gathering(samples indices: some Collection<Int>, into buffers: inout TensorPair<Scalar>) -> Tensor {
        let sampleSize = shape.isEmpty ? 1 : count / max(shape[0], 1)
        let rows = shape.isEmpty ? 1 : shape[0]
        precondition(!shape.isEmpty, "gathering needs a batch axis")
        return scalars.withUnsafeBufferPointer { source in
            buffers.produce(samples: indices.count, likeSamplesOf: shape) { target, _ in
                var offset = 0
                for index in indices {
                    precondition(index >= 0 && index < rows, "sample \(index) outside \(rows)")
                    (target + offset).update(from: source.baseAddress! + index * sampleSize, count: sampleSize)
                    offset += sampleSize
                }
            }
        }
    }

    /// Samples `range` along the first axis.
    public func slicing(samples range: Range<Int>) -> Tensor {
        gathering(samples: range)
    }

    /// The index of the first NaN or infinite element, if any.
    public var firstNonFiniteIndex: Int? {
        scalars.withUnsafeBufferPointer { buffer in
            buffer.firstIndex { !$0.isFinite }
        }
    }

    /// Throws `ConvNetError.nonFinite` naming `what` when any element is NaN or infinite.
    public func checkFinite(_ what: String) throws {
        if let index = firstNonFiniteIndex {
            throw ConvNetError.nonFinite(
                "\(what) contains \(scalars[index]) at flat index \(index) of shape \(describe(shape))")
        }
    }

    /// Calls `body` with a pointer to the elements.
    @inlinable
    public func withUnsafeBufferPointer<Result>(
        _ body: (UnsafeBufferPointer<Scalar>) throws -> Result
    ) rethrows -> Result {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the elements.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<Result>(
        _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> Result
    ) rethrows -> Result {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor\(describe(shape))(\(preview)\(count > 8 ? ", …" : ""))"
    }
}
