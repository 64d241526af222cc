import ConvNet
import FuzzSupport

/// Model spec strings: parsed, printed and parsed again, and built (weights zero) for three
/// small input shapes; tensors are capped at 2^20 elements (see `fuzz`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let spec = try ModelSpec(parsing: String(decoding: bytes, as: UTF8.self))
        _ = try? ModelSpec(parsing: spec.description)
        for shape in [[1, 8, 8], [2, 12, 12], [10]] {
            guard let network: Sequential<Float> = try? spec.makeNetwork(inputShape: shape, initializer: .zeros) else {
                continue
            }
            _ = network.pytorchModule
            _ = try? network.layerShapes(forInputShape: shape)
        }
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_spec_main")
public func fuzzSpecMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzSpec)
}
