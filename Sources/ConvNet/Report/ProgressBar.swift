import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training progress on a terminal: one bar per epoch showing batch i/N, running loss, running
/// accuracy, images/s and ETA, redrawn in place with `\r`. When the output is not a terminal
/// (CI logs, pipes) it prints one plain line per epoch instead; in quiet mode it prints nothing.
///
/// ```
/// Epoch 3/10 [##########----------]  156/469  loss 0.4127  acc 87.31%  5210 img/s  ETA 1.9s
/// ```
///
/// Output goes to an injected `sink`, so tests can capture it; `standardOutput(quiet:)` picks the
/// mode from `isatty(1)`. Not thread-safe: drive it from the training loop.
public final class ProgressBar {
    /// How progress is shown.
    public enum Mode: Sendable, Equatable {
        /// A bar redrawn in place (`\r`, erase line), finished with a newline per epoch.
        case terminal
        /// One line per epoch, printed when the epoch ends.
        case plain
        /// Nothing.
        case quiet
    }

    /// The chosen mode.
    public let mode: Mode
    /// Width of the bar in characters.
    public let barWidth: Int
    private let sink: (String) -> Void
    private let clock: () -> Double
    private let minimumRedrawInterval: Double

    private var epoch = 0, totalEpochs = 0, batches = 0
    private var batch = 0, images = 0
    private var lossSum = 0.0, lossCount = 0
    private var accuracySum = 0.0, accuracyImages = 0
    private var start = 0.0, lastDraw = -Double.infinity

    /// Creates a progress display.
    /// - Parameters:
    ///   - mode: terminal bar, plain lines or quiet.
    ///   - barWidth: characters in the bar.
    ///   - minimumRedrawInterval: seconds between redraws of the terminal bar (the last batch always draws).
    ///   - clock: seconds from any fixed origin; defaults to a monotonic clock.
    ///   - sink: receives the text to print, already containing `\r` and `\n` as needed.
    public init(
        mode: Mode, barWidth: Int = 24, minimumRedrawInterval: Double = 0.1,
        clock: @escaping () -> Double = ProgressBar.monotonicSeconds,
        sink: @escaping (String) -> Void
    ) {
        self.mode = mode
        self.barWidth = max(1, barWidth)
        self.minimumRedrawInterval = minimumRedrawInterval
        self.clock = clock
        self.sink = sink
    }

    /// A progress display on standard output: `.quiet` when `quiet`, `.terminal` when standard
    /// output is a TTY, `.plain` otherwise.
    public static func standardOutput(quiet: Bool = false) -> ProgressBar {
        let mode: Mode = quiet ? .quiet : (isatty(STDOUT_FILENO) != 0 ? .terminal : .plain)
        return ProgressBar(mode: mode) { text in
            // Through C stdio, like `print`, so that both keep their order.
            print(text, terminator: "")
            fflush(nil)
        }
    }

    /// Seconds on a monotonic clock.
    public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Starts epoch `epoch` (from 1) of `totalEpochs`, which has `batches` mini-batches.
    public func startEpoch(_ epoch: Int, of totalEpochs: Int, batches: Int) {
        self.epoch = epoch
        self.totalEpochs = totalEpochs
        self.batches = max(0, batches)
        batch = 0
        images = 0
        lossSum = 0
        lossCount = 0
        accuracySum = 0
        accuracyImages = 0
        start = clock()
        lastDraw = -Double.infinity
    }

    /// Records mini-batch `batch` (from 1) of `batchSize` images with its loss and, if known, its
    /// accuracy (0...1); redraws the bar in terminal mode.
    public func update(batch: Int, batchSize: Int, loss: Double, accuracy: Double? = nil) {
        self.batch = batch
        images += batchSize
        if loss.isFinite {
            lossSum += loss
            lossCount += 1
        }
        if let accuracy, accuracy.isFinite {
            accuracySum += accuracy * Double(batchSize)
            accuracyImages += batchSize
        }
        guard mode == .terminal else { return }
        let now = clock()
        if now - lastDraw >= minimumRedrawInterval || batch >= batches {
            lastDraw = now
            sink("\r\u{1B}[2K" + line(now: now, finished: false))
        }
    }

    /// Ends the epoch: terminal mode redraws the full bar and ends the line; plain mode prints its
    /// one line. `extra` (e.g. `"val acc 91.20%"`) is appended after the numbers.
    public func finishEpoch(extra: String = "") {
        let now = clock()
        var text = line(now: now, finished: true)
        if !extra.isEmpty { text += "  " + extra }
        switch mode {
        case .terminal: sink("\r\u{1B}[2K" + text + "\n")
        case .plain: sink(text + "\n")
        case .quiet: break
        }
    }

    /// Prints a message on its own line (not in quiet mode).
    public func message(_ text: String) {
        guard mode != .quiet else { return }
        sink(text + "\n")
    }

    /// The text of the bar at time `now`.
    func line(now: Double, finished: Bool) -> String {
        let elapsed = max(0, now - start)
        let epochWidth = String(totalEpochs).count
        var s = "Epoch " + pad(String(epoch), epochWidth) + "/\(totalEpochs) "
        if mode == .terminal {
            let fraction = batches > 0 ? min(1, Double(batch) / Double(batches)) : 1
            let filled = Int((fraction * Double(barWidth)).rounded(.down))
            s += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "] "
        }
        s += pad(String(batch), String(batches).count) + "/\(batches)"
        s += "  loss " + (lossCount > 0 ? String(format: "%.4f", lossSum / Double(lossCount)) : "-")
        if accuracyImages > 0 { s += "  acc " + String(format: "%.2f%%", 100 * accuracySum / Double(accuracyImages)) }
        if elapsed > 0 { s += "  " + String(format: "%.0f", Double(images) / elapsed) + " img/s" }
        if finished {
            s += "  " + formatSeconds(elapsed)
        } else if batch > 0 {
            let remaining = elapsed / Double(batch) * Double(max(0, batches - batch))
            s += "  ETA " + formatSeconds(remaining)
        }
        return s
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// "4.2s", "3m05s", "1h02m".
func formatSeconds(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    let total = Int(seconds.rounded())
    if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
    return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
}
