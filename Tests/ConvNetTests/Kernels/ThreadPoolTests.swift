import Testing

@testable import ConvNetKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if os(Linux)
import Synchronization
#endif

/// `ThreadPool.run` with a `ParallelWork` value: every part runs exactly once and computes the
/// right thing, on the pool's threads, and serially on the calling thread when the pool is busy
/// (a call from inside a part, or the pool held). The closure form and `splitBetweenCores` go
/// through the same pool.
@Suite("ThreadPool runs every part of a ParallelWork once")
struct ThreadPoolTests {
    /// Part p counts its runs in runs[p] and writes the sum of the integers in its range of
    /// 0..<count (p·count/parts ..< (p+1)·count/parts) into sums[p].
    struct RangeSums: ParallelWork {
        let runs: UnsafeMutablePointer<Int>
        let sums: UnsafeMutablePointer<Int>
        let count: Int
        let parts: Int

        func run(part: Int) {
            runs[part] += 1
            var sum = 0
            for i in (part * count / parts)..<((part + 1) * count / parts) { sum += i }
            sums[part] = sum
        }
    }

    /// A generic work type (the pool reaches it through its metatype when the caller is not
    /// specialised): part p fills its range of `values` with p + 1.
    struct Fill<Scalar: BinaryFloatingPoint>: ParallelWork {
        let values: UnsafeMutablePointer<Scalar>
        let count: Int
        let parts: Int

        func run(part: Int) {
            for i in (part * count / parts)..<((part + 1) * count / parts) { values[i] = Scalar(part + 1) }
        }
    }

    /// Part p records the thread it ran on in threads[p].
    struct ThreadRecorder: ParallelWork {
        let threads: UnsafeMutablePointer<pthread_t>

        func run(part: Int) { threads[part] = pthread_self() }
    }

    /// Outer part p records its thread, then runs a `RangeSums` of `innerParts` parts into its
    /// own rows of `runs` and `sums` with a nested call, recording the inner parts' threads in
    /// its row of `innerThreads`.
    struct Nested: ParallelWork {
        let runs: UnsafeMutablePointer<Int>
        let sums: UnsafeMutablePointer<Int>
        let threads: UnsafeMutablePointer<pthread_t>
        let innerThreads: UnsafeMutablePointer<pthread_t>
        let innerParts: Int
        let count: Int

        func run(part: Int) {
            threads[part] = pthread_self()
            let row = part * innerParts
            ThreadPool.run(
                parts: innerParts, RangeSums(runs: runs + row, sums: sums + row, count: count, parts: innerParts))
            ThreadPool.run(parts: innerParts, ThreadRecorder(threads: innerThreads + row))
        }
    }

    /// Σ i over part p of 0..<count split into `parts`.
    static func expectedSum(part: Int, parts: Int, count: Int) -> Int {
        ((part * count / parts)..<((part + 1) * count / parts)).reduce(0, +)
    }

    @Test("every part runs once with the right result", arguments: [1, 2, 3, 7, 64, 1000])
    func everyPartOnce(parts: Int) {
        let count = 100_003
        var runs = [Int](repeating: 0, count: parts)
        var sums = [Int](repeating: -1, count: parts)
        runs.withUnsafeMutableBufferPointer { runs in
            sums.withUnsafeMutableBufferPointer { sums in
                ThreadPool.run(
                    parts: parts,
                    RangeSums(runs: runs.baseAddress!, sums: sums.baseAddress!, count: count, parts: parts))
            }
        }
        #expect(runs == [Int](repeating: 1, count: parts))
        #expect(sums == (0..<parts).map { Self.expectedSum(part: $0, parts: parts, count: count) })
        #expect(sums.reduce(0, +) == count * (count - 1) / 2)
    }

    @Test("a generic work type fills every range", arguments: [2, 5, 33])
    func genericWork(parts: Int) {
        let count = 10_007
        var values = [Double](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { values in
            ThreadPool.run(parts: parts, Fill(values: values.baseAddress!, count: count, parts: parts))
        }
        let expected = (0..<count).map { i in Double((0..<parts).first { i < ($0 + 1) * count / parts }! + 1) }
        let wrong = zip(values, expected).filter { $0 != $1 }.count
        #expect(wrong == 0)
    }

    @Test("a call from inside a part runs each part once, serially on that part's thread")
    func nested() {
        let outerParts = 8
        let innerParts = 6
        let count = 200_000
        let caller = pthread_self()
        // The outer call owns the pool when one of its parts ran on a worker thread; it may not
        // (one core, the caller took every part, or another test held the pool): try a few times.
        for _ in 0..<20 {
            var runs = [Int](repeating: 0, count: outerParts * innerParts)
            var sums = [Int](repeating: -1, count: outerParts * innerParts)
            var threads = [pthread_t](repeating: caller, count: outerParts)
            var innerThreads = [pthread_t](repeating: caller, count: outerParts * innerParts)
            runs.withUnsafeMutableBufferPointer { runs in
                sums.withUnsafeMutableBufferPointer { sums in
                    threads.withUnsafeMutableBufferPointer { threads in
                        innerThreads.withUnsafeMutableBufferPointer { innerThreads in
                            ThreadPool.run(
                                parts: outerParts,
                                Nested(
                                    runs: runs.baseAddress!, sums: sums.baseAddress!, threads: threads.baseAddress!,
                                    innerThreads: innerThreads.baseAddress!, innerParts: innerParts, count: count))
                        }
                    }
                }
            }
            #expect(runs == [Int](repeating: 1, count: outerParts * innerParts))
            let expected = (0..<innerParts).map { Self.expectedSum(part: $0, parts: innerParts, count: count) }
            #expect(sums == Array([[Int]](repeating: expected, count: outerParts).joined()))
            if threads.contains(where: { pthread_equal($0, caller) == 0 }) {
                for part in 0..<(outerParts * innerParts) {
                    #expect(pthread_equal(innerThreads[part], threads[part / innerParts]) != 0)
                }
                return
            }
        }
    }

    #if os(Linux)
    @Test("with the pool busy, a call runs its parts serially on the calling thread")
    func busyPool() {
        let pool = SpinningWorkerPool.shared
        // Another test may hold the pool for a moment.
        while !pool.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {}
        defer { pool.busy.store(false, ordering: .releasing) }
        let caller = pthread_self()
        var threads = [pthread_t](repeating: 0, count: 16)
        threads.withUnsafeMutableBufferPointer { threads in
            ThreadPool.run(parts: 16, ThreadRecorder(threads: threads.baseAddress!))
        }
        #expect(threads.allSatisfy { pthread_equal($0, caller) != 0 })
    }
    #endif

    @Test("the closure form runs every part once", arguments: [1, 3, 64])
    func closureForm(parts: Int) {
        var runs = [Int](repeating: 0, count: parts)
        runs.withUnsafeMutableBufferPointer { runs in
            let runs = runs.baseAddress!
            ThreadPool.run(parts: parts) { part in runs[part] += 1 }
        }
        #expect(runs == [Int](repeating: 1, count: parts))
    }

    /// Counts, per element of 0..<count, how many ranges covered it, and per index how many
    /// non-empty ranges started there.
    struct Coverage: ParallelRangeWork {
        let hits: UnsafeMutablePointer<Int>
        let starts: UnsafeMutablePointer<Int>

        func run(_ range: Range<Int>) {
            for i in range { hits[i] += 1 }
            if !range.isEmpty { starts[range.lowerBound] += 1 }
        }
    }

    @Test("splitBetweenCores covers 0..<count once, parts on multiples of 16", arguments: [0, 15, 70_001, 200_000])
    func splitCoversOnce(count: Int) {
        var hits = [Int](repeating: 0, count: count + 1)
        var starts = [Int](repeating: 0, count: count + 1)
        hits.withUnsafeMutableBufferPointer { hits in
            starts.withUnsafeMutableBufferPointer { starts in
                splitBetweenCores(count: count, Coverage(hits: hits.baseAddress!, starts: starts.baseAddress!))
            }
        }
        #expect(hits == [Int](repeating: 1, count: count) + [0])
        #expect(starts.indices.allSatisfy { starts[$0] == 0 || ($0 % 16 == 0 && starts[$0] == 1) })
        #expect(count == 0 || starts[0] == 1)
    }
}
