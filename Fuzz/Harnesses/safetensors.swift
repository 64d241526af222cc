import ConvNet
import FuzzSupport

/// safetensors files: the 8-byte header length, the JSON header, every tensor's dtype, shape
/// and offsets; each tensor that parses is converted, and the file written and read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let file = try SafeTensorsFile(bytes: bytes, name: "fuzz.safetensors")
        for (name, tensor) in file.tensors {
            _ = try? tensor.floatValues(name: name)
            _ = try? tensor.doubleValues(name: name)
            _ = try? tensor.integerValues(name: name)
        }
        _ = try SafeTensorsFile(bytes: file.encoded(), name: "fuzz.safetensors (written back)")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_safetensors_main")
public func fuzzSafeTensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzSafeTensors)
}
