import ArgumentParser
import ConvNet
import Foundation

/// `convnet`: train, evaluate and inspect convolutional networks from the command line.
@main
struct ConvNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convnet",
        abstract: "Train convolutional neural networks on the CPU, in Swift.",
        subcommands: [Train.self, Evaluate.self, Predict.self, Summary.self, GradCheck.self, Models.self, Plot.self, Bench.self],
        defaultSubcommand: Train.self)

    /// Runs the command; any error becomes one line on stderr and exit code 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ConvNetError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            var text = String(fullMessage(for: error).split(separator: "\n").first ?? "")
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data("error: \(text) (see 'convnet --help')\n".utf8))
            Foundation.exit(1)
        }
    }
}
