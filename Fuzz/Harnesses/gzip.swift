import ConvNet
import FuzzSupport

/// gzip members (RFC 1952), concatenated members included, with the default output cap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        _ = try Gzip.decompress(bytes, name: "fuzz.gz")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_gzip_main")
public func fuzzGzipMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzGzip)
}
