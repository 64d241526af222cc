// swift-tools-version:6.0
import PackageDescription
import Foundation

// Kernels are compiled with -Ounchecked and, unless CONVNET_PORTABLE=1 is set when building,
// with -march=native (AVX2 / AVX-512 on x86-64); a portable build defines CONVNET_PORTABLE in
// the kernels instead (FloatGemm.swift then multiplies and adds rather than calling fmaf per
// lane, as a target without FMA instructions would). Build where you run. SwiftPM refuses unsafe
// flags in versioned dependencies: depend on ConvNet by path or branch (see README).
// On arm64 (Apple silicon) FMA and NEON are baseline, so no CPU flag is needed there.
let portable = ProcessInfo.processInfo.environment["CONVNET_PORTABLE"] == "1"
#if arch(x86_64)
let nativeFlags: [String] = portable ? [] : ["-Xcc", "-march=native"]
#else
let nativeFlags: [String] = []
#endif
let kernelFlags: [String] = ["-Ounchecked"] + (portable ? ["-D", "CONVNET_PORTABLE"] : nativeFlags)

let package = Package(
    name: "ConvNet",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ConvNet", targets: ["ConvNet"]),
        .executable(name: "convnet", targets: ["convnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "ConvNetKernels",
            path: "Sources/ConvNetKernels",
            swiftSettings: [.unsafeFlags(kernelFlags)]
        ),
        .target(
            name: "ConvNet",
            dependencies: ["ConvNetKernels"],
            path: "Sources/ConvNet",
            resources: [.copy("Resources/digits")],
            swiftSettings: [.unsafeFlags(["-O"] + nativeFlags)]
        ),
        .executableTarget(
            name: "convnet",
            dependencies: [
                "ConvNet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/convnet"
        ),
        .testTarget(
            name: "ConvNetTests",
            dependencies: ["ConvNet", "ConvNetKernels"],
            path: "Tests/ConvNetTests",
            exclude: ["Optimizers/reference_optimizers.py", "Optimizers/torch_options.py", "Layers/torch_parity.py", "Checkpoint/Fixtures",
                      "Data/make_image_cases.py", "Data/Fixtures"],
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
