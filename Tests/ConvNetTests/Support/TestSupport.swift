import Foundation
import Testing

@testable import ConvNet

/// cs231n's rel_error: max over elements of |a − b| / max(1e−8, |a| + |b|).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0
    for (x, y) in zip(a, b) {
        worst = max(worst, abs(x - y) / max(1e-8, abs(x) + abs(y)))
    }
    return worst
}

/// A tensor of standard normal values from a fixed seed.
func randomTensor<Scalar: KernelScalar>(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor<Scalar> {
    var random = SeededRandom(seed: seed)
    let count = shape.reduce(1, *)
    return try! Tensor(shape: shape, scalars: (0..<count).map { _ in Scalar(scale * random.normal()) })
}

/// The message of a ConvNetError thrown by `body`, or nil if it did not throw one.
func thrownMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as ConvNetError {
        return error.description
    } catch {
        return "unexpected error type: \(error)"
    }
}

/// The folder of the built products (where `convnet` is), next to the test bundle.
func productsDirectory() -> URL {
    #if os(macOS)
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    #endif
    return Bundle.main.bundleURL
}

/// ../shared/data relative to the package root, when present.
func sharedDataDirectory() -> URL? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let data = root.deletingLastPathComponent().appendingPathComponent("shared/data")
    return FileManager.default.fileExists(atPath: data.path) ? data : nil
}

/// The package's root folder.
func packageRoot() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// The Python that has torch and safetensors: $CONVNET_TORCH_PYTHON, the project's virtualenv
/// (`.venv` in the package, which `.ci/run` makes), the anchors' one beside the package, or
/// python3 on the PATH; nil when none imports them.
func torchPython() -> String? {
    pythonWith(["torch", "safetensors.torch", "numpy"], candidates: pythonCandidates())
}

/// The Python that has Pillow and numpy, looked for where ``torchPython()`` looks; nil when none
/// imports them.
func pillowPython() -> String? {
    pythonWith(["PIL.Image", "numpy"], candidates: pythonCandidates())
}

/// Where the tests look for a Python: $CONVNET_TORCH_PYTHON, the project's `.venv`, the
/// anchors' one beside the package, python3 on the PATH.
func pythonCandidates() -> [String] {
    let root = packageRoot()
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["CONVNET_TORCH_PYTHON"] { candidates.append(explicit) }
    candidates += [
        root.appendingPathComponent(".venv/bin/python").path,
        root.deletingLastPathComponent().appendingPathComponent(".venv-anchors/bin/python").path,
        "python3",
    ]
    return candidates
}

/// The Python for tests that need optional packages (tensorboard, Pillow, onnx): $CONVNET_PYTHON,
/// else the project's virtualenv (`.venv`, which `.ci/run` makes with every package the tests
/// use), else python3 on the PATH.
func projectPython() -> String {
    if let explicit = ProcessInfo.processInfo.environment["CONVNET_PYTHON"], !explicit.isEmpty { return explicit }
    let venv = packageRoot().appendingPathComponent(".venv/bin/python").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
}
