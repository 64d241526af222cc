import ConvNet
import FuzzSupport

/// Pickles through the restricted reader; one that loads is then also read as a CIFAR-10
/// python batch and as a `batches.meta`, as `CIFAR10.load(from:)` reads them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        _ = try RestrictedPickle.load(bytes, name: "fuzz_batch")
        _ = try? CIFAR10.pythonBatch(bytes, name: "fuzz_batch")
        _ = try? CIFAR10.pythonClassNames(bytes, name: "fuzz_batches.meta")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_pickle_main")
public func fuzzPickleMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzPickle)
}
