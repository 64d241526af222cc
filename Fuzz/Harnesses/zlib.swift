import ConvNet
import FuzzSupport

/// zlib streams (RFC 1950): header, DEFLATE data, Adler-32.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZlib(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        _ = try Zlib.decompress(bytes, name: "fuzz.zlib")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_zlib_main")
public func fuzzZlibMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzZlib)
}
