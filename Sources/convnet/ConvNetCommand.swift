import ArgumentParser
import ConvNet
import Foundation

/// `convnet`: train, evaluate and inspect convolutional networks from the command line.
@main
struct ConvNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convnet",
        abstract: "Train convolutional neural networks on the CPU, in Swift.",
        subcommands: [
            Train.self, Evaluate.self, Predict.self, Export.self, Summary.self, GradCheck.self, Models.self, Plot.self,
            Bench.self,
        ],
        defaultSubcommand: Train.self)

    /// `--option -1` as `--option=-1`: the argument parser would take `-1` for a short flag and
    /// report a missing value instead of checking the number.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), !argument.contains("="), index + 1 < arguments.count,
                let next = arguments[index + 1].first, next == "-",
                arguments[index + 1].dropFirst().first.map({ $0.isNumber || $0 == "." }) == true,
                Double(arguments[index + 1]) != nil || arguments[index + 1].contains(",")
            {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    /// Runs the command; any error becomes one line on stderr and exit code 1.
    static func main() {
        do {
            var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let error as ConvNetError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(1)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)  // the command has said why (e.g. interrupted by SIGINT)
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
