import ConvNet
import Foundation
import FuzzSupport

/// IDX files (MNIST) as `IDXFile(contentsOf:)` reads them: gunzipped first when the bytes
/// start with the gzip magic, whatever the name, then parsed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let raw = Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, name: "fuzz.idx.gz") : bytes
        _ = try IDXFile(data: Data(raw), name: "fuzz.idx")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_idx_main")
public func fuzzIDXMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzIDX)
}
