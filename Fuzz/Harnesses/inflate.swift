import ConvNet
import FuzzSupport

/// Raw DEFLATE streams (RFC 1951) with the default output cap (`.npz` members, inflated with
/// the size their directory promises, are the npz harness's).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        _ = try Inflate.decompress(bytes, name: "fuzz.deflate")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_inflate_main")
public func fuzzInflateMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzInflate)
}
