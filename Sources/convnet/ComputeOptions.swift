import ArgumentParser
import ConvNet
import Foundation

/// `--threads N`, on every command that computes: how many threads the kernels split their
/// work over (default: every online core). The same as the `CONVNET_THREADS` variable, which it
/// sets before any kernel runs.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for the kernels (default: all cores; the same as CONVNET_THREADS=N).")
    var threads: Int?

    /// Applies `--threads`; call first in `run()`.
    func apply() throws {
        guard let threads else { return }
        guard threads >= 1 && threads <= 1024 else {
            throw ConvNetError.invalidArgument("--threads must be between 1 and 1024, found \(threads)")
        }
        setenv("CONVNET_THREADS", String(threads), 1)
        guard ThreadPool.coreCount == threads else {
            throw ConvNetError.invalidArgument(
                "--threads \(threads) came after the kernels started with \(ThreadPool.coreCount)")
        }
    }
}
