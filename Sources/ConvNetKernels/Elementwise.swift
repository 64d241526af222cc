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

    public static func accumulateRowSums(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let row = x + r * columns
            var sum: Self = 0
            for c in 0..<columns { sum += row[c] }
            sums[r] += sum
        }
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
        for i in 0..<count { y[i] += alpha * x[i] }
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
