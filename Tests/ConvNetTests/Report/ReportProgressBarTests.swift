import Foundation
import Testing

@testable import ConvNet

/// The progress display with an injected sink and clock.
@Suite struct ReportProgressBarTests {
    /// Collects what the bar prints. Used from one thread only.
    final class Capture {
        var text = ""
        var writes = 0
    }

    /// A clock the test moves by hand.
    final class FakeClock {
        var now = 100.0
    }

    static func runEpoch(_ bar: ProgressBar, clock: FakeClock) {
        bar.startEpoch(2, of: 10, batches: 4)
        for batch in 1...4 {
            clock.now += 0.5
            bar.update(batch: batch, batchSize: 50, loss: Double(batch), accuracy: batch <= 2 ? 0.5 : 1.0)
        }
        bar.finishEpoch(extra: "val acc 91.20%")
    }

    @Test func terminalModeRedrawsInPlaceAndEndsTheLine() {
        let capture = Capture()
        let clock = FakeClock()
        let bar = ProgressBar(
            mode: .terminal, barWidth: 8, minimumRedrawInterval: 0, clock: { clock.now },
            sink: {
                capture.text += $0
                capture.writes += 1
            })
        Self.runEpoch(bar, clock: clock)
        #expect(capture.writes == 5)  // four redraws and the final line
        let frames = capture.text.components(separatedBy: "\r\u{1B}[2K").filter { !$0.isEmpty }
        #expect(frames.count == 5)
        #expect(frames[0] == "Epoch  2/10 [##------] 1/4  loss 1.0000  acc 50.00%  100 img/s  ETA 1.5s")
        #expect(frames[1].hasPrefix("Epoch  2/10 [####----] 2/4  loss 1.5000  acc 50.00%  100 img/s  ETA 1.0s"))
        #expect(frames[4] == "Epoch  2/10 [########] 4/4  loss 2.5000  acc 75.00%  100 img/s  2.0s  val acc 91.20%\n")
        #expect(!frames[0].contains("\n"))
    }

    @Test func terminalModeThrottlesRedraws() {
        let capture = Capture()
        let clock = FakeClock()
        let bar = ProgressBar(
            mode: .terminal, minimumRedrawInterval: 10, clock: { clock.now }, sink: { _ in capture.writes += 1 })
        Self.runEpoch(bar, clock: clock)
        #expect(capture.writes == 3)  // the first batch, the last batch, the final line
    }

    @Test func plainModePrintsOneLinePerEpoch() {
        let capture = Capture()
        let clock = FakeClock()
        let bar = ProgressBar(mode: .plain, clock: { clock.now }, sink: { capture.text += $0 })
        Self.runEpoch(bar, clock: clock)
        Self.runEpoch(bar, clock: clock)
        #expect(
            capture.text
                == String(
                    repeating: "Epoch  2/10 4/4  loss 2.5000  acc 75.00%  100 img/s  2.0s  val acc 91.20%\n", count: 2))
        #expect(!capture.text.contains("\r"))
        #expect(!capture.text.contains("\u{1B}"))
    }

    @Test func quietModePrintsNothing() {
        let capture = Capture()
        let clock = FakeClock()
        let bar = ProgressBar(mode: .quiet, clock: { clock.now }, sink: { capture.text += $0 })
        Self.runEpoch(bar, clock: clock)
        bar.message("hello")
        #expect(capture.text.isEmpty)
    }

    @Test func standardOutputIsNotATerminalUnderTheTestRunner() {
        // Test output is captured by a pipe or file, so the bar falls back to plain lines.
        if isatty(STDOUT_FILENO) == 0 {
            #expect(ProgressBar.standardOutput().mode == .plain)
        }
        #expect(ProgressBar.standardOutput(quiet: true).mode == .quiet)
    }

    @Test func durationsAreShort() {
        #expect(formatSeconds(4.25) == "4.2s" || formatSeconds(4.25) == "4.3s")
        #expect(formatSeconds(185) == "3m05s")
        #expect(formatSeconds(3720) == "1h02m")
    }
}
