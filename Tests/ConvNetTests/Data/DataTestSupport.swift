import Foundation

@testable import ConvNet

/// A fresh temporary folder, removed by the caller with `removeItem` (tests ignore failures).
func makeTemporaryDirectory(_ label: String = "convnet-data") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `script` with `python` (a path or a name looked up on PATH) and `arguments`; nil when
/// that Python cannot be started. Returns the exit status and the combined output.
func runPython(_ script: String, arguments: [String] = [], python: String = projectPython()) -> (
    status: Int32, output: String
)? {
    let process = Process()
    if python.contains("/") {
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script] + arguments
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A python3 that imports every module in `modules`, or nil (with the reason) when none does.
func pythonWith(_ modules: [String], candidates: [String] = [projectPython(), "python3"]) -> String? {
    let check = "import " + modules.joined(separator: ", ")
    for candidate in candidates {
        if let result = runPython(check, python: candidate), result.status == 0 { return candidate }
    }
    return nil
}

/// Writes bytes to a file.
func writeBytes(_ bytes: [UInt8], _ url: URL) {
    try! Data(bytes).write(to: url)
}
