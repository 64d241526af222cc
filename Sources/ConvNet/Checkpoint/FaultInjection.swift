import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash points for durability tests, in the spirit of SQLite's crash tests: every step of a
/// checkpoint commit (creating, writing, syncing and renaming files, swapping the commit link)
/// and every training step passes a named point. Two environment variables, read once:
///
/// - `CONVNET_FAULT_TRACE=FILE`: append each point's label to FILE, one per line (so a test
///   knows how many points a run passes, and which);
/// - `CONVNET_FAULT_KILL_AT=N`: at the N-th point (1-based), the process sends itself SIGKILL,
///   exactly what `kill -9` or a power cut does to the files (no handler, no flush, no cleanup);
/// - `CONVNET_FAULT_SIGNAL_AT=N[,M…]` with `CONVNET_FAULT_SIGNAL=INT|TERM` (default INT): at
///   those points the process sends itself that signal, as a user's Ctrl-C or a scheduler's
///   `kill` would (handled by `SignalTrap` when training runs);
/// - `CONVNET_FAULT_FAIL_AT=N`: if the N-th point is in the middle of a file's write, that
///   write fails with ENOSPC, as on a full disk.
///
/// Without them a point costs one load of a constant.
enum FaultInjection {
    private static let settings = Settings()

    /// Passes the point `label` (e.g. `write:last.safetensors:synced`, `commit:swapped`, `step`);
    /// true when the write in progress must fail here (`CONVNET_FAULT_FAIL_AT`).
    @discardableResult
    static func point(_ label: @autoclosure () -> String) -> Bool {
        guard settings.enabled else { return false }
        return settings.pass(label())
    }

    private final class Settings: @unchecked Sendable {
        let enabled: Bool
        private let killAt: Int?
        private let failAt: Int?
        private let signalAt: Set<Int>
        private let signal: Int32
        private let trace: Int32
        private let lock = NSLock()
        private var count = 0

        init() {
            let environment = ProcessInfo.processInfo.environment
            killAt = environment["CONVNET_FAULT_KILL_AT"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            failAt = environment["CONVNET_FAULT_FAIL_AT"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            if let path = environment["CONVNET_FAULT_TRACE"], !path.isEmpty {
                trace = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            } else {
                trace = -1
            }
            signalAt = Set((environment["CONVNET_FAULT_SIGNAL_AT"] ?? "").split(separator: ",").compactMap { Int($0) })
            signal = environment["CONVNET_FAULT_SIGNAL"] == "TERM" ? SIGTERM : SIGINT
            enabled = killAt != nil || failAt != nil || trace >= 0 || !signalAt.isEmpty
        }

        func pass(_ label: String) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            count += 1
            if trace >= 0 {
                let line = Array("\(count) \(label)\n".utf8)
                _ = line.withUnsafeBytes { write(trace, $0.baseAddress!, $0.count) }
            }
            if count == killAt {
                kill(getpid(), SIGKILL)
                while true { pause() }
            }
            if signalAt.contains(count) { kill(getpid(), signal) }
            return count == failAt
        }
    }
}
