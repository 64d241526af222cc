/// The physical multiply-add limit of the cores, measured: each thread runs 12 independent
/// chains of fused multiply-adds on SIMD16<Float> (one AVX-512 register each; two AVX2
/// registers), enough to fill two FMA pipes of 4-cycle latency, with nothing else in the loop
/// but the counter. No GEMM can beat this figure, so `convnet bench` gives every GFLOP/s
/// figure also as a fraction of it.
public enum FMAProbe {
    /// Floating-point operations per loop iteration of one thread: 12 chains × 16 lanes × 2.
    public static let flopsPerIteration = 12 * 16 * 2

    /// GFLOP/s of `threads` threads (the kernels' threads by default) running the chains for
    /// about `seconds`; the best of `tries` (on a shared host, a short try is the likeliest to
    /// find every core free: the limit is the best the cores ever do, not their average).
    public static func measure(threads: Int = ThreadPool.coreCount, seconds: Double = 0.05, tries: Int = 7) -> Double {
        let parts = max(1, threads)
        // Calibrate: iterations that take about `seconds` on one thread.
        var iterations = 1 << 16
        while true {
            let start = monotonicNanoseconds()
            sink(chains(iterations: iterations, seed: 1))
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            if elapsed >= seconds / 4 || iterations >= 1 << 30 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 4
        }
        var best = 0.0
        for _ in 0..<max(1, tries) {
            let start = monotonicNanoseconds()
            ThreadPool.run(parts: parts, FMAChains(iterations: iterations))
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            best = max(best, Double(parts * iterations * flopsPerIteration) / elapsed / 1e9)
        }
        return best
    }

    /// The chains: a ← y + a · x, twelve times per iteration, each on its own accumulator.
    @inline(never)
    static func chains(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 0.999_999_9)
        let y = SIMD16<Float>(repeating: seed * 1e-7)
        var a0 = SIMD16<Float>(repeating: seed)
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
            a0 = floatMultiplyAdd(y, a0, x)
            a1 = floatMultiplyAdd(y, a1, x)
            a2 = floatMultiplyAdd(y, a2, x)
            a3 = floatMultiplyAdd(y, a3, x)
            a4 = floatMultiplyAdd(y, a4, x)
            a5 = floatMultiplyAdd(y, a5, x)
            a6 = floatMultiplyAdd(y, a6, x)
            a7 = floatMultiplyAdd(y, a7, x)
            a8 = floatMultiplyAdd(y, a8, x)
            a9 = floatMultiplyAdd(y, a9, x)
            a10 = floatMultiplyAdd(y, a10, x)
            a11 = floatMultiplyAdd(y, a11, x)
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
private struct FMAChains: ParallelWork {
    /// Loop iterations per part.
    let iterations: Int

    func run(part: Int) { FMAProbe.sink(FMAProbe.chains(iterations: iterations, seed: Float(part + 1))) }
}
