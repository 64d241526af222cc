import Testing

@testable import ConvNetKernels

/// The parallel, vectorised Float kernels of the training step's update path against plain
/// loops written here (their naive twins), on lengths that split between threads and are not
/// multiples of the SIMD width.
@Suite("Float update kernels against plain loops")
struct FastElementwiseTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = GemmTests.SplitMix64(state: seed)
        return (0..<count).map { _ in Float.random(in: -2...2, using: &generator) }
    }

    @Test(
        "sumOfSquares (Float, SIMD8<Double>, split) equals a Double loop", arguments: [0, 1, 17, 1000, 65_536, 200_003])
    func sumOfSquares(count: Int) {
        let x = Self.values(count, seed: 1)
        var expected = 0.0
        for value in x { expected += Double(value) * Double(value) }
        let actual = x.withUnsafeBufferPointer {
            Float.sumOfSquares($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, count: count)
        }
        #expect(abs(actual - expected) <= 1e-12 * max(expected, 1))
    }

    @Test("axpy, SGD and momentum steps split between threads equal plain loops", arguments: [5, 70_001])
    func updates(count: Int) {
        let g = Self.values(count, seed: 2)
        let w0 = Self.values(count, seed: 3)
        let v0 = Self.values(count, seed: 4)
        for nesterov in [false, true] {
            var w = w0
            var v = v0
            w.withUnsafeMutableBufferPointer { w in
                v.withUnsafeMutableBufferPointer { v in
                    g.withUnsafeBufferPointer { g in
                        Float.momentumStep(
                            w.baseAddress!, g.baseAddress!, velocity: v.baseAddress!, count: count,
                            learningRate: 0.1, momentum: 0.9, nesterov: nesterov)
                    }
                }
            }
            var expectedW = w0
            var expectedV = v0
            for i in 0..<count {
                expectedV[i] = 0.9 * expectedV[i] + g[i]
                expectedW[i] -= 0.1 * (nesterov ? g[i] + 0.9 * expectedV[i] : expectedV[i])
            }
            #expect(w == expectedW)
            #expect(v == expectedV)
        }
        var w = w0
        w.withUnsafeMutableBufferPointer { w in
            g.withUnsafeBufferPointer { g in
                Float.axpy(alpha: 0.25, g.baseAddress!, w.baseAddress!, count: count)
                Float.sgdStep(w.baseAddress!, g.baseAddress!, count: count, learningRate: 0.5)
            }
        }
        var expected = w0
        for i in 0..<count {
            expected[i] += 0.25 * g[i]
            expected[i] -= 0.5 * g[i]
        }
        #expect(w == expected)
    }

    @Test(
        "accumulateRowSums (eight rows side by side) adds each row's left-to-right sum, same bits",
        arguments: [(0, 5), (1, 1), (7, 13), (8, 676), (19, 37), (32, 169)])
    func accumulateRowSums(rows: Int, columns: Int) {
        var x = Self.values(rows * columns, seed: 5)
        // Large and small magnitudes, so that a different order would round differently.
        for i in stride(from: 0, to: x.count, by: 3) { x[i] *= 4096 }
        if rows > 9 { x[9 * columns + columns / 2] = .nan }
        let start = Self.values(rows, seed: 6)
        var sums = start
        x.withUnsafeBufferPointer { x in
            sums.withUnsafeMutableBufferPointer { sums in
                Float.accumulateRowSums(
                    x.baseAddress ?? UnsafePointer(bitPattern: 64)!,
                    sums.baseAddress ?? UnsafeMutablePointer(bitPattern: 64)!,
                    rows: rows, columns: columns)
            }
        }
        for r in 0..<rows {
            var sum: Float = 0
            for c in 0..<columns { sum += x[r * columns + c] }
            let expected = start[r] + sum
            #expect(
                sums[r].bitPattern == expected.bitPattern || sums[r].isNaN && expected.isNaN,
                "row \(r): \(sums[r]) against \(expected)")
        }
        if rows > 9 { #expect(sums[9].isNaN && !sums[8].isNaN && !sums[10].isNaN) }
    }
}
