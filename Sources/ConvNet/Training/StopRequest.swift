import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A request to stop training at the next step boundary, safe to make from any thread: a
/// signal (`SignalTrap`), a server's shutdown path, a UI's Stop button. The Solver checks it
/// after every step (`Solver.stopRequest`).
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requestedSignal: Int32?
    private var requested = false
    /// A signal number stored by a signal handler (nil: none yet).
    private let watched: (@Sendable () -> Int32?)?

    public init() {
        watched = nil
    }

    /// A request that a signal handler also makes, by storing a number that `watching` reads.
    init(watching: @escaping @Sendable () -> Int32?) {
        watched = watching
    }

    /// Asks training to stop; `signal` records why (SIGINT, SIGTERM), if a signal did.
    public func request(signal: Int32? = nil) {
        lock.lock()
        defer { lock.unlock() }
        requested = true
        if requestedSignal == nil { requestedSignal = signal }
    }

    /// Whether a stop was asked for.
    public var isRequested: Bool {
        if let signal = watched?() { request(signal: signal) }
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    /// The signal that asked for the stop, if one did.
    public var signal: Int32? {
        if let signal = watched?() { request(signal: signal) }
        lock.lock()
        defer { lock.unlock() }
        return requestedSignal
    }
}

/// Turns SIGINT (Ctrl-C) and SIGTERM into a `StopRequest` while training runs, the way a
/// careful training script does: the first signal asks training to stop at the next step
/// boundary (the caller then saves a resumable checkpoint and exits with 128 + the signal's
/// number: 130 for SIGINT, 143 for SIGTERM); a second one exits at once with that code (a
/// committed checkpoint is never torn, see `CheckpointStore`). Outside `armed` periods (data
/// loading, the final report) a signal exits at once too.
///
/// The handler is a plain C signal handler that only stores the signal's number and writes a
/// fixed notice (both async-signal-safe), so a signal is never lost to a thread that does
/// not watch for it; `stopRequest` reads the stored number after every step. One trap per
/// process (a second replaces the first).
public final class SignalTrap: @unchecked Sendable {
    /// The request that signals make.
    public let stopRequest: StopRequest

    /// Installs the handler for `signals` until the process ends. `notice` is written to
    /// standard error when the first signal asks for a stop.
    public init(
        signals: [Int32] = [SIGINT, SIGTERM],
        notice: String = "\nstopping after this step (send the signal again to quit at once)\n"
    ) {
        let state = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        state.initialize(repeating: 0, count: 2)  // [armed, received signal]
        let bytes = Array(notice.utf8)
        let message = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        message.initialize(from: bytes, count: bytes.count)
        let trap = TrapState(flags: state, notice: message, noticeLength: bytes.count)
        trapState = trap
        stopRequest = StopRequest(watching: { trap.flags[1] != 0 ? trap.flags[1] : nil })
        // A parent may have started this process with these signals blocked (the mask is
        // inherited): unblock them on this thread, or they would wait unseen.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for number in signals { sigaddset(&unblocked, number) }
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        for number in signals {
            signal(
                number,
                { number in
                    guard let trap = trapState, trap.flags[0] != 0, trap.flags[1] == 0 else {
                        _exit(128 + number)
                    }
                    trap.flags[1] = number
                    _ = write(2, trap.notice, trap.noticeLength)
                })
        }
    }

    /// While armed, a first signal requests a stop instead of ending the process.
    public var armed: Bool {
        get { trapState?.flags[0] == 1 }
        set { trapState?.flags[0] = newValue ? 1 : 0 }
    }

    /// The exit status for a stop caused by `signal`: 128 + its number (130 for SIGINT, 143
    /// for SIGTERM), as shells report a process ended by it.
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    /// "SIGINT", "SIGTERM", or "signal N".
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }
}

/// What the C signal handler reads: set once by `SignalTrap.init`, before any handler is
/// installed, and never freed (the handler may run until the process ends).
private struct TrapState: @unchecked Sendable {
    let flags: UnsafeMutablePointer<Int32>
    let notice: UnsafeMutablePointer<UInt8>
    let noticeLength: Int
}

nonisolated(unsafe) private var trapState: TrapState?
