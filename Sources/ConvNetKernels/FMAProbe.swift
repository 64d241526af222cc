/// The physical multiply-add limit of the cores, measured: each thread runs 12 independent
/// chains of fused multiply-adds, enough to fill two FMA pipes of 4-cycle latency, with nothing
/// else in the loop but the counter, once on SIMD16<Float> (one AVX-512 register per chain) and
/// once on SIMD8<Float> (one AVX2 register: twelve SIMD16 chains need 24 of AVX2's 16 registers
/// and spill, which measured 0.5 of the limit on a Zen 3); the limit is the faster of the two.
/// No GEMM can beat this figure, so `convnet bench` gives every GFLOP/s figure also as a
/// fraction of it.
public enum FMAProbe {
    /// Floating-point operations per loop iteration of one thread on `lanes`-wide vectors:
    /// 12 chains × lanes × 2.
    public static func flopsPerIteration(lanes: Int) -> Int { 12 * lanes * 2 }

    /// GFLOP/s of `threads` threads (the kernels' threads by default) running the chains for
    /// about `seconds`; the best of `tries` (on a shared host, a short try is the likeliest to
    /// find every core free: the limit is the best the cores ever do, not their average).
    public static func measure(threads: Int = ThreadPool.coreCount, seconds: Double = 0.05, tries: Int = 7) -> Double {
        max(
            measure(SIMD16<Float>.self, threads: threads, seconds: seconds, tries: tries),
            measure(SIMD8<Float>.self, threads: threads, seconds: seconds, tries: tries))
    }

    /// `measure` on chains of `Vector`.
    static func measure<Vector: SIMD>(
        _ vector: Vector.Type, threads: Int, seconds: Double, tries: Int
    ) -> Double where Vector.Scalar == Float {
        let parts = max(1, threads)
        // Calibrate: iterations that take about `seconds` on one thread.
        var iterations = 1 << 16
        while true {
            let start = monotonicNanoseconds()
            sink(chains(iterations: iterations, seed: 1, vector: Vector.self))
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            if elapsed >= seconds / 4 || iterations >= 1 << 30 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 4
        }
        let flops = Double(parts * iterations * flopsPerIteration(lanes: Vector.scalarCount))
        var best = 0.0
        for _ in 0..<max(1, tries) {
            let start = monotonicNanoseconds()
            ThreadPool.run(parts: parts, FMAChains<Vector>(iterations: iterations))
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            best = max(best, flops / elapsed / 1e9)
        }
        return best
    }

    /// The chains: a ← y + a · x, twelve times per iteration, each on its own accumulator of
    /// `Vector`; returns the sum of all lanes of all chains.
    @inline(never)
    static func chains<Vector: SIMD>(
        iterations: Int, seed: Float, vector: Vector.Type
    ) -> Float where Vector.Scalar == Float {
        let x = Vector(repeating: 0.999_999_9)
        let y = Vector(repeating: seed * 1e-7)
        @inline(__always) func step(_ a: Vector) -> Vector { floatMultiplyAdd(y, a, x) }
        var a0 = Vector(repeating: seed)
        var a1 = a0 + 1
        var a2 = a0 + 2
        var a3 = a0 + 3
        var a4 = a0 + 4
        var a5 = a0 + 5
        var a6 = a0 + 6
        var a7 = a0 + 7
        var a8 = a0 + 8
        var a9 = a0 + 9
        var a10 = a0 + 10
        var a11 = a0 + 11
        for _ in 0..<iterations {
            a0 = step(a0)
            a1 = step(a1)
            a2 = step(a2)
            a3 = step(a3)
            a4 = step(a4)
            a5 = step(a5)
            a6 = step(a6)
            a7 = step(a7)
            a8 = step(a8)
            a9 = step(a9)
            a10 = step(a10)
            a11 = step(a11)
        }
        let sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return sum.sum()
    }

    /// Keeps a result alive so that the loop that produced it is not optimised away.
    @inline(never)
    static func sink(_ value: Float) {
        if value.isNaN { print("", terminator: "") }
    }
}

/// `FMAProbe.measure`'s parts: each runs the chains (seeded by its part number).
private struct FMAChains<Vector: SIMD>: ParallelWork where Vector.Scalar == Float {
    /// Loop iterations per part.
    let iterations: Int

    func run(part: Int) {
        FMAProbe.sink(FMAProbe.chains(iterations: iterations, seed: Float(part + 1), vector: Vector.self))
    }
}
