import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if os(Linux)
import Synchronization
#endif

/// The body of a parallel job, as a value: `ThreadPool.run(parts:_:)` calls `run(part:)` once for
/// every part, on several threads at once. A conforming type is usually a small struct holding the
/// pointers and sizes its parts need (each part writing a disjoint range), declared next to the
/// kernel that runs it. Passing such a value allocates nothing, where the closure form of
/// `ThreadPool.run` heap-allocates on every parallel call.
public protocol ParallelWork {
    /// Does part `part` of the work (0 ≤ part < parts); parts run concurrently and in any order.
    func run(part: Int)
}

/// The body of a loop over 0..<count that a helper splits into contiguous ranges, one per part
/// (`splitBetweenCores` and `overChannels` in the kernels, `parallelRanges` and `overPlanes` in
/// the layers); like `ParallelWork`, a value, so that the split allocates nothing.
public protocol ParallelRangeWork {
    /// Does the iterations in `range`; ranges run concurrently and never overlap.
    func run(_ range: Range<Int>)
}

/// How many threads the kernels split work over: the number of online cores, or
/// `CONVNET_THREADS` when it is set to a positive integer.
///
/// On Linux the work runs on `coreCount − 1` persistent worker threads plus the calling
/// thread (no oversubscription, no allocation per call, microsecond hand-off: workers spin
/// for about 2 ms after each job before they sleep, and a job never waits for a worker that
/// is still waking up: the caller runs the parts itself). A call made while another
/// parallel job is running (from inside a part, or from another thread) runs its parts
/// serially on the calling thread, so nested kernels never oversubscribe the cores.
public enum ThreadPool {
    /// The number of parallel parts a kernel splits its work into: `requestedCount`, else
    /// `onlineCores`. Fixed at its first use.
    public static let coreCount: Int = requestedCount ?? onlineCores

    /// The cores online now (at least 1).
    public static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The thread count `CONVNET_THREADS` asks for now (a positive integer), nil when it is
    /// unset or not one. Readable before `coreCount` is fixed.
    public static var requestedCount: Int? {
        guard let text = getenv("CONVNET_THREADS"), let value = Int(String(cString: text)), value > 0 else {
            return nil
        }
        return value
    }

    /// Runs `work.run(part:)` for `part` in 0..<parts, in parallel when parts > 1, and returns
    /// when every part is done. Allocates nothing (on Linux): the worker threads read `work` where
    /// it lies in the caller's frame. Generic callers get the fastest hand-off when they are
    /// specialised (a kernel's code for Float); unspecialised generic code (a generic layer) runs
    /// the unspecialised `run(part:)`, as a closure written there would.
    public static func run<Work: ParallelWork>(parts: Int, _ work: Work) {
        if parts <= 1 || coreCount <= 1 {
            for part in 0..<max(parts, 1) { work.run(part: part) }
            return
        }
        #if os(Linux)
        SpinningWorkerPool.shared.run(parts: parts, work)
        #else
        withUnsafePointer(to: work) { work in
            let shared = UncheckedSendable(value: { (part: Int) in work.pointee.run(part: part) })
            DispatchQueue.concurrentPerform(iterations: parts) { part in shared.value(part) }
        }
        #endif
    }

    /// Runs `body(part)` for `part` in 0..<parts, in parallel when parts > 1 (the kernels pass
    /// raw pointers into `body`; each part writes a disjoint range). Each parallel call
    /// heap-allocates (the closure is boxed so that the workers can call it); code on the
    /// training step passes a `ParallelWork` value to `run(parts:_:)` instead. Nested calls (the
    /// pool busy) run serially without allocating.
    public static func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || coreCount <= 1 || isBusy {
            for part in 0..<max(parts, 1) { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in run(parts: parts, ClosureWork(body: body)) }
    }

    /// Whether a parallel job is running now (a nested `run` would execute serially).
    public static var isBusy: Bool {
        #if os(Linux)
        return SpinningWorkerPool.shared.busy.load(ordering: .relaxed)
        #else
        return false
        #endif
    }
}

/// The closure form's body as a `ParallelWork`.
private struct ClosureWork: ParallelWork {
    /// The caller's closure (escapable only for the duration of the call).
    let body: (Int) -> Void

    func run(part: Int) { body(part) }
}

/// Carries a value across threads where the caller guarantees there are no data races.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

#if os(Linux)
/// `coreCount − 1` pthreads that pick parts of the current job off an atomic counter.
final class SpinningWorkerPool: @unchecked Sendable {
    static let shared = SpinningWorkerPool(workers: ThreadPool.coreCount - 1)

    let workers: Int
    /// Set while a job runs; a second caller finding it set runs serially.
    let busy = Atomic<Bool>(false)
    /// Incremented to publish a job.
    private let generation = Atomic<Int>(0)
    /// The next part to hand out.
    private let nextPart = Atomic<Int>(0)
    /// Workers that joined the current job (≥ 0 while it is open for joining; the caller
    /// closes it, once every part has been handed out, by swapping in `closed`). A worker that
    /// wakes too late finds it closed and does not join, so the caller never waits for a
    /// sleeping worker to wake up: it waits only for workers that are running parts.
    private let joinedWorkers = Atomic<Int>(Int.min)
    /// Workers that joined the current job and have finished with it.
    private let finishedWorkers = Atomic<Int>(0)
    private static let closed = Int.min
    /// Workers asleep on the condition variable.
    private let sleepers = Atomic<Int>(0)
    /// The current job: where its `ParallelWork` value lies (in the caller's frame, valid until
    /// the caller returns), its type, and how a worker calls one of its parts (`JobEntry`). Plain
    /// values: publishing a job allocates nothing.
    private var jobWork: UnsafeRawPointer?
    private var jobType: any ParallelWork.Type = ClosureWork.self
    /// Not an Optional: a closure stored in an Optional is reabstracted through a heap-allocated
    /// thunk.
    private var jobEntry: JobEntry = SpinningWorkerPool.runOpening
    private var parts = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    private init(workers: Int) {
        self.workers = workers
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for _ in 0..<workers {
            let unmanaged = Unmanaged.passRetained(self)
            var thread = pthread_t()
            pthread_create(
                &thread, nil,
                { argument in
                    let pool = Unmanaged<SpinningWorkerPool>.fromOpaque(argument!).takeRetainedValue()
                    pool.workerLoop()
                    return nil
                }, unmanaged.toOpaque())
            pthread_detach(thread)
        }
    }

    /// Calls `run(part:)` of the job at `work` (of type `type`) for one part.
    typealias JobEntry = (_ work: UnsafeRawPointer, _ type: any ParallelWork.Type, _ part: Int) -> Void

    /// Runs the parts of `work` on the workers and the calling thread (serially on the calling
    /// thread when another job is running).
    ///
    /// The workers reach `work.run(part:)` through a `JobEntry`. Where the compiler has
    /// specialised this function for a concrete `Work` (`_isConcrete` is true), the entry is a
    /// closure that captures nothing, compiled for that type: the workers run the same specialised
    /// code as the calling thread. In unspecialised generic code that closure would capture
    /// `Work`'s metadata in a heap-allocated context, so there the entry is `runOpening`, which
    /// opens the existential metatype and calls the conformance's `run(part:)` (for a generic
    /// `Work`, unspecialised code: what the calling thread runs there too).
    func run<Work: ParallelWork>(parts: Int, _ work: Work) {
        guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { work.run(part: part) }
            return
        }
        withUnsafePointer(to: work) { pointer in
            jobWork = UnsafeRawPointer(pointer)
            jobType = Work.self
            if _isConcrete(Work.self) {
                jobEntry = { job, _, part in job.assumingMemoryBound(to: Work.self).pointee.run(part: part) }
            } else {
                // Named by its type: `Self.runOpening` would capture the dynamic `Self` in an
                // allocated context.
                jobEntry = SpinningWorkerPool.runOpening
            }
            self.parts = parts
            nextPart.store(0, ordering: .relaxed)
            finishedWorkers.store(0, ordering: .relaxed)
            joinedWorkers.store(0, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(condition)
                pthread_mutex_unlock(mutex)
            }
            while true {
                let part = nextPart.add(1, ordering: .relaxed).oldValue
                if part >= parts { break }
                work.run(part: part)
            }
            let joined = joinedWorkers.exchange(Self.closed, ordering: .sequentiallyConsistent)
            while finishedWorkers.load(ordering: .acquiring) < joined { spinPause() }
            jobWork = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// The `JobEntry` of a job whose type is known only at run time.
    private static func runOpening(_ work: UnsafeRawPointer, _ type: any ParallelWork.Type, _ part: Int) {
        runPart(of: type, at: work, part: part)
    }

    /// Runs part `part` of the `Work` at `work`.
    private static func runPart<Work: ParallelWork>(of type: Work.Type, at work: UnsafeRawPointer, part: Int) {
        work.assumingMemoryBound(to: Work.self).pointee.run(part: part)
    }

    /// Whether the current job is still open; if so, counts this worker in.
    private func join() -> Bool {
        var current = joinedWorkers.load(ordering: .sequentiallyConsistent)
        while current >= 0 {
            let (exchanged, original) = joinedWorkers.compareExchange(
                expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            current = original
        }
        return false
    }

    private func workerLoop() {
        var seen = 0  // threads start in init, before the first job is published
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                spinPause()
                // Spin about 2 ms after the last job (waking a sleeping thread costs tens of
                // microseconds in a VM: more than most kernels take), then sleep.
                if spins & 1023 != 0 { continue }
                let now = monotonicNanoseconds()
                if spinStart == 0 { spinStart = now }
                if now - spinStart < 2_000_000 { continue }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(condition, mutex)
                }
                sleepers.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
            }
            // Join the job that is open now (possibly a later one than the generation seen),
            // reading the job only after joining: the caller does not return while we run it.
            // (Joining a job twice is harmless: the second time finds no parts left.)
            seen = generation.load(ordering: .acquiring)
            guard join() else { continue }
            let work = jobWork!
            let type = jobType
            let entry = jobEntry
            let count = parts
            while true {
                let part = nextPart.add(1, ordering: .relaxed).oldValue
                if part >= count { break }
                entry(work, type, part)
            }
            finishedWorkers.add(1, ordering: .releasing)
        }
    }
}

/// One iteration of a spin-wait (the atomic load in the loop keeps it from being optimised out).
@inline(__always)
private func spinPause() {}
#endif

/// Nanoseconds on a monotonic clock (the pool's spin limit, the FMA probe).
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
