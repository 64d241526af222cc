import ConvNet
import FuzzSupport

/// CIFAR-10 binary batches (3,073-byte records: label, then 3,072 pixel bytes).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        _ = try CIFAR10.binaryBatch(bytes, name: "fuzz_batch.bin")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_cifar_main")
public func fuzzCIFARMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzCIFAR)
}
