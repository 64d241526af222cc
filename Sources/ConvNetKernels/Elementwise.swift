/// Activations, bias additions, row and column sums, axpy.
///
/// Requirements of `KernelScalar`, with default implementations below (specialised for
/// Float and Double); pointers are raw row-major buffers, sizes element counts.
public protocol ElementwiseKernels: BinaryFloatingPoint {
    /// y = max(x, 0).
    static func reluForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy where x > 0, else 0.
    static func reluBackward(
        input x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y = x where x > 0, else slope·x (PyTorch's `leaky_relu`).
    static func leakyReLUForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int, slope: Self)
    /// dx = dy where x > 0, else slope·dy.
    static func leakyReLUBackward(
        input x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int, slope: Self)
    /// y = a · b element-wise (Dropout's mask).
    static func multiply(
        _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// x ← alpha · x in place.
    static func scale(_ x: UnsafeMutablePointer<Self>, by alpha: Self, count: Int)
    /// y = a + b element-wise (a residual sum).
    static func add(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// y = 1 / (1 + e^−x), computed without overflow for large |x|.
    static func sigmoidForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy · y · (1 − y).
    static func sigmoidBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y = tanh x.
    static func tanhForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy · (1 − y²).
    static func tanhBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y[r, c] += bias[c] for a rows×columns matrix.
    static func addRowBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int)
    /// sums[c] = Σ_r x[r, c] (overwrites sums).
    static func sumRows(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// sums[r] = Σ_c x[r, c] (overwrites sums).
    static func sumColumns(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// y[r, c] += bias[r] for a rows×columns matrix (one image's [F, H'·W'] convolution output).
    static func addColumnBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int)
    /// sums[r] += Σ_c x[r, c] (accumulates).
    static func accumulateRowSums(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// y += alpha · x.
    static func axpy(alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// Σ x², accumulated in Double.
    static func sumOfSquares(_ x: UnsafePointer<Self>, count: Int) -> Double
}

extension KernelScalar {
    public static func reluForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
    }

    public static func reluBackward(
        input x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int
    ) {
        for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : 0 }
    }

    public static func leakyReLUForward(
        _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int, slope: Self
    ) {
        for i in 0..<count { y[i] = x[i] > 0 ? x[i] : slope * x[i] }
    }

    public static func leakyReLUBackward(
        input x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int, slope: Self
    ) {
        for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : slope * dy[i] }
    }

    public static func multiply(
        _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int
    ) {
        splitBetweenCores(count: count, ElementwiseProduct(a: a, b: b, y: y))
    }

    public static func scale(_ x: UnsafeMutablePointer<Self>, by alpha: Self, count: Int) {
        splitBetweenCores(count: count, InPlaceScaling(x: x, alpha: alpha))
    }

    public static func add(
        _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int
    ) {
        splitBetweenCores(count: count, ElementwiseSum(a: a, b: b, y: y))
    }
}

/// `multiply` over one range (the fields are its arguments).
private struct ElementwiseProduct<Scalar: KernelScalar>: ParallelRangeWork {
    let a: UnsafePointer<Scalar>
    let b: UnsafePointer<Scalar>
    let y: UnsafeMutablePointer<Scalar>

    func run(_ range: Range<Int>) {
        for i in range { y[i] = a[i] * b[i] }
    }
}

/// `scale` over one range (the fields are its arguments).
private struct InPlaceScaling<Scalar: KernelScalar>: ParallelRangeWork {
    let x: UnsafeMutablePointer<Scalar>
    let alpha: Scalar

    func run(_ range: Range<Int>) {
        for i in range { x[i] *= alpha }
    }
}

/// `add` over one range (the fields are its arguments).
private struct ElementwiseSum<Scalar: KernelScalar>: ParallelRangeWork {
    let a: UnsafePointer<Scalar>
    let b: UnsafePointer<Scalar>
    let y: UnsafeMutablePointer<Scalar>

    func run(_ range: Range<Int>) {
        for i in range { y[i] = a[i] + b[i] }
    }
}

extension KernelScalar {
    public static func sigmoidForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count {
            let value = x[i]
            if value >= 0 {
                y[i] = 1 / (1 + exponential(-value))
            } else {
                let e = exponential(value)
                y[i] = e / (1 + e)
            }
        }
    }

    public static func sigmoidBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int
    ) {
        for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }

    public static func tanhForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = hyperbolicTangent(x[i]) }
    }

    public static func tanhBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int
    ) {
        for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
    }

    public static func addRowBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let row = y + r * columns
            for c in 0..<columns { row[c] += bias[c] }
        }
    }

    public static func addColumnBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let row = y + r * columns
            let b = bias[r]
            for c in 0..<columns { row[c] += b }
        }
    }

    /// Each row is summed left to right from zero, then added to its sum: the order of the
    /// one-row loop (`rowSum`, which takes the rows after the last eight; the tests compare
    /// with a plain loop of their own), so the bits do not change. Eight rows run
    /// side by side, so eight add chains are in flight instead of one add latency per element
    /// (a convolution's bias gradient: [F, H'·W'] per image).
    public static func accumulateRowSums(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int
    ) {
        var r = 0
        while r + 8 <= rows {
            let row = x + r * columns
            var partial = (Self(0), Self(0), Self(0), Self(0), Self(0), Self(0), Self(0), Self(0))
            for c in 0..<columns {
                partial.0 += row[c]
                partial.1 += row[columns + c]
                partial.2 += row[2 * columns + c]
                partial.3 += row[3 * columns + c]
                partial.4 += row[4 * columns + c]
                partial.5 += row[5 * columns + c]
                partial.6 += row[6 * columns + c]
                partial.7 += row[7 * columns + c]
            }
            sums[r] += partial.0
            sums[r + 1] += partial.1
            sums[r + 2] += partial.2
            sums[r + 3] += partial.3
            sums[r + 4] += partial.4
            sums[r + 5] += partial.5
            sums[r + 6] += partial.6
            sums[r + 7] += partial.7
            r += 8
        }
        while r < rows {
            sums[r] += rowSum(x + r * columns, columns: columns)
            r += 1
        }
    }

    /// Σ row[c], left to right from zero: one row of `accumulateRowSums`.
    @inline(__always)
    static func rowSum(_ row: UnsafePointer<Self>, columns: Int) -> Self {
        var sum: Self = 0
        for c in 0..<columns { sum += row[c] }
        return sum
    }

    public static func sumRows(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int
    ) {
        sums.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let row = x + r * columns
            for c in 0..<columns { sums[c] += row[c] }
        }
    }

    public static func sumColumns(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let row = x + r * columns
            var sum: Self = 0
            for c in 0..<columns { sum += row[c] }
            sums[r] = sum
        }
    }

    public static func axpy(alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        splitBetweenCores(count: count, Axpy(alpha: alpha, x: x, y: y))
    }

    public static func sumOfSquares(_ x: UnsafePointer<Self>, count: Int) -> Double {
        var sum = 0.0
        for i in 0..<count {
            let value = x[i].doubleValue
            sum += value * value
        }
        return sum
    }
}

/// `axpy` over one range (the fields are its arguments).
private struct Axpy<Scalar: KernelScalar>: ParallelRangeWork {
    let alpha: Scalar
    let x: UnsafePointer<Scalar>
    let y: UnsafeMutablePointer<Scalar>

    func run(_ range: Range<Int>) {
        for i in range { y[i] += alpha * x[i] }
    }
}

extension Float {
    /// Σ x², accumulated in Double: eight Double lanes per step, the range split between
    /// cores (the L2 penalty reads every weight once per training step).
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        let parts = count >= 1 << 16 ? min(ThreadPool.coreCount, 8) : 1
        var partials = SIMD8<Double>()  // one slot per part (parts ≤ 8)
        withUnsafeMutablePointer(to: &partials) { partials in
            let slots = UnsafeMutableRawPointer(partials).assumingMemoryBound(to: Double.self)
            ThreadPool.run(parts: parts, SumOfSquaresParts(x: x, count: count, parts: parts, slots: slots))
        }
        var total = 0.0
        for part in 0..<parts { total += partials[part] }
        return total
    }
}

/// `Float.sumOfSquares`'s parts: part p sums the squares of its blocks of 16 elements.
private struct SumOfSquaresParts: ParallelWork {
    /// The values and their number.
    let x: UnsafePointer<Float>
    let count: Int
    /// The number of parts.
    let parts: Int
    /// One sum per part (written).
    let slots: UnsafeMutablePointer<Double>

    func run(part: Int) {
        let blocks = (count + 15) / 16
        let start = min(count, part * blocks / parts * 16)
        let end = min(count, (part + 1) * blocks / parts * 16)
        var s0 = SIMD8<Double>()
        var s1 = SIMD8<Double>()
        let raw = UnsafeRawPointer(x)
        var i = start
        while i + 16 <= end {
            let a = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            let b = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            s0 += a * a
            s1 += b * b
            i += 16
        }
        var sum = (s0 + s1).sum()
        while i < end {
            let value = Double(x[i])
            sum += value * value
            i += 1
        }
        slots[part] = sum
    }
}
