import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if os(Linux)
import Synchronization
#endif

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
    /// The number of parallel parts a kernel splits its work into.
    public static let coreCount: Int = {
        if let text = getenv("CONVNET_THREADS"), let value = Int(String(cString: text)), value > 0 {
            return value
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Runs `body(part)` for `part` in 0..<parts, in parallel when parts > 1.
    /// The kernels pass raw pointers into `body`; each part writes a disjoint range.
    public static func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || coreCount <= 1 {
            for part in 0..<max(parts, 1) { body(part) }
            return
        }
        #if os(Linux)
        SpinningWorkerPool.shared.run(parts: parts, body)
        #else
        withoutActuallyEscaping(body) { escapable in
            let shared = UncheckedSendable(value: escapable)
            DispatchQueue.concurrentPerform(iterations: parts) { part in shared.value(part) }
        }
        #endif
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
    /// The current job (a no-op between jobs). Not an Optional: a closure stored in an
    /// Optional is reabstracted through a heap-allocated thunk, two allocations per job.
    private var job: (Int) -> Void = { _ in }
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

    func run(parts: Int, _ body: (Int) -> Void) {
        guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
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
                escapable(part)
            }
            let joined = joinedWorkers.exchange(Self.closed, ordering: .sequentiallyConsistent)
            while finishedWorkers.load(ordering: .acquiring) < joined { spinPause() }
            job = { _ in }
        }
        busy.store(false, ordering: .releasing)
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
            do {  // the closure reference must be gone before the caller is told we are done
                let body = job
                let count = parts
                while true {
                    let part = nextPart.add(1, ordering: .relaxed).oldValue
                    if part >= count { break }
                    body(part)
                }
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
