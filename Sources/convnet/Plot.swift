import ArgumentParser
import ConvNet
import Foundation

/// `convnet plot RUNDIR`: renders the pictures and report.html again from a run directory.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render the pictures and report.html of a run directory again.")

    @Argument(help: "A run directory written by 'convnet train --out'.")
    var runDirectory: String

    func run() throws {
        do {
            let files = try renderArtifacts(runDirectory: URL(fileURLWithPath: runDirectory))
            for file in files { print(file.path) }
        } catch let error as ReportError {
            throw ConvNetError.fileSystem(error.description)
        }
    }
}
