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
}
