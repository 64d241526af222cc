import ConvNet
import FuzzSupport

/// PNG files: a file that decodes is then converted as the image datasets convert it (8-bit,
/// 1 or 3 channels, resized and centre-cropped to 8×8, and to floats).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let image = try PNGDecoder.decode(bytes, name: "fuzz.png")
        _ = image.floatCHW()
        for channels in [1, 3] {
            let transform = try ImageTransform(size: try ImageSize(height: 8, width: 8), channels: channels)
            _ = try transform.apply(image)
        }
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_png_main")
public func fuzzPNGMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzPNG)
}
