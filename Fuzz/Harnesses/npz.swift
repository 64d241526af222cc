import ConvNet
import Foundation
import FuzzSupport

/// `.npz` archives: the directory, then every member; an archive with `x_train` and `y_train`
/// is also loaded as a dataset (`ArrayDataset.load`, both layouts), labels included.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPZ(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let archive = try NPZArchive(bytes: bytes, name: "fuzz.npz")
        for name in archive.names {
            guard let array = try? archive.array(name) else { continue }
            _ = array.floatValues()
            _ = try? array.integerValues(name: name)
        }
        guard archive.contains("x_train"), archive.contains("y_train") else { return }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convnet-fuzz-\(getpid()).npz")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        for layout in [ImageLayout.nchw, .nhwc] { _ = try? ArrayDataset.load(from: url, layout: layout) }
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_npz_main")
public func fuzzNPZMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzNPZ)
}
