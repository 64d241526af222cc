import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads the kernels split work over: the number of online cores, or
/// `CONVNET_THREADS` when it is set to a positive integer.
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
        if parts <= 1 {
            for part in 0..<max(parts, 1) { body(part) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let shared = UncheckedSendable(value: escapable)
            DispatchQueue.concurrentPerform(iterations: parts) { part in shared.value(part) }
        }
    }
}

/// Carries a value across threads where the caller guarantees there are no data races.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
