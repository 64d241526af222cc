import ConvNet
import FuzzSupport

/// `.npy` files; an array that parses is then converted as the dataset reader converts images
/// and labels, and written and read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let array = try NumPyArray(npy: bytes, name: "fuzz.npy")
        _ = array.floatValues()
        _ = try? array.integerValues(name: "fuzz.npy")
        for layout in [ImageLayout.nchw, .nhwc] { _ = try? ImageArray(array, layout: layout) }
        _ = try NumPyArray(npy: array.encoded(), name: "fuzz.npy (written back)")
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_npy_main")
public func fuzzNPYMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzNPY)
}
