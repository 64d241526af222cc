import Foundation
// swift-tools-version:6.0
import PackageDescription

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

// libFuzzer harnesses (Fuzz/run.sh): only when CONVNET_FUZZ=1 is set while building does the
// package hold one executable per file Fuzz/Harnesses/NAME.swift (`fuzz-NAME`, built with
// -sanitize=fuzzer,address into .build-fuzz), and then only those and the library; the
// command-line tool and the tests are left out. The dependency stays declared, so that
// Package.resolved is left as it is.
let fuzzing = ProcessInfo.processInfo.environment["CONVNET_FUZZ"] == "1"
let fuzzHarnesses: [String] =
    fuzzing
    ? ((try? FileManager.default.contentsOfDirectory(
        atPath: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fuzz/Harnesses")
            .path)) ?? [])
        .filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(".swift".count)) }.sorted()
    : []

// The HTTP server `convnet-serve` (Sources/convnet-serve, on FlyingFox): only when CONVNET_SERVE=1 is
// set while building does the package depend on FlyingFox and hold the executable, so the default
// build needs nothing beyond the toolchain. Its tests (Tests/ConvNetTests/Serve) run the binary
// when it was built next to `convnet`, and skip with a line saying so otherwise.
let serving = ProcessInfo.processInfo.environment["CONVNET_SERVE"] == "1"

// Data-parallel training over MPI (`convnet train --distributed` under `mpirun`): only when
// CONVNET_MPI=1 is set while building does the package hold the system-library target CMPI (Open
// MPI through pkg-config `ompi`: Debian's libopenmpi-dev; a C shim for the macros Swift cannot
// import) and ConvNetMPI (an MPI `Communicator`), and is `convnet` compiled with the flag
// (-D CONVNET_MPI). The default build needs nothing but the toolchain and its `convnet` neither
// has the flag nor links MPI.
let mpi = ProcessInfo.processInfo.environment["CONVNET_MPI"] == "1"

let package = Package(
    name: "ConvNet",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ConvNet", targets: ["ConvNet"]),
        .executable(name: "convnet", targets: ["convnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
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
            exclude: [
                "Optimizers/reference_optimizers.py", "Optimizers/torch_options.py", "Layers/torch_parity.py",
                "Checkpoint/Fixtures",
                "Checkpoint/onnx_check.py", "Data/FuzzRegressions", "Data/make_image_cases.py", "Data/Fixtures",
            ],
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)

if mpi && !fuzzing {
    package.targets += [
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi",
            providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        .target(name: "ConvNetMPI", dependencies: ["ConvNet", "CMPI"], path: "Sources/ConvNetMPI"),
    ]
    if let command = package.targets.first(where: { $0.name == "convnet" }) {
        command.dependencies.append("ConvNetMPI")
        command.swiftSettings = [.define("CONVNET_MPI")]
    }
}

if fuzzing {
    package.products = fuzzHarnesses.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) }
    package.targets =
        package.targets.filter { ["ConvNetKernels", "ConvNet"].contains($0.name) }
        + [
            .target(name: "FuzzEngine", path: "Fuzz/Support/FuzzEngine"),
            .target(name: "FuzzSupport", dependencies: ["FuzzEngine"], path: "Fuzz/Support/FuzzSupport"),
        ]
        + fuzzHarnesses.map { name in
            .executableTarget(
                name: "fuzz-\(name)", dependencies: ["ConvNet", "FuzzSupport"], path: "Fuzz/Harnesses",
                exclude: fuzzHarnesses.filter { $0 != name }.map { "\($0).swift" }, sources: ["\(name).swift"])
        }
}

if serving && !fuzzing {
    package.dependencies.append(.package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"))
    package.products.append(.executable(name: "convnet-serve", targets: ["convnet-serve"]))
    package.targets.append(
        .executableTarget(
            name: "convnet-serve",
            dependencies: [
                "ConvNet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
            ],
            path: "Sources/convnet-serve"
        ))
}
