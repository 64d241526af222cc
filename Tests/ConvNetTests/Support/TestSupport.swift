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

/// Central differences of f at x: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every element i;
/// f receives x with one element moved.
func numericGradient(at x: Tensor<Double>, step: Double = 1e-5, _ f: (Tensor<Double>) throws -> Double) rethrows -> [Double] {
    var gradient = [Double](repeating: 0, count: x.count)
    var moved = x
    for i in 0..<x.count {
        let saved = moved.scalars[i]
        moved.scalars[i] = saved + step
        let plus = try f(moved)
        moved.scalars[i] = saved - step
        let minus = try f(moved)
        moved.scalars[i] = saved
        gradient[i] = (plus - minus) / (2 * step)
    }
    return gradient
}

/// Σ output · weights: a scalar whose gradient w.r.t. the output is `weights`.
func weightedSum(_ output: Tensor<Double>, _ weights: Tensor<Double>) -> Double {
    zip(output.scalars, weights.scalars).reduce(0) { $0 + $1.0 * $1.1 }
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
