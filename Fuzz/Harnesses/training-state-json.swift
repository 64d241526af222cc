import ConvNet
import FuzzSupport

/// The `training_state` JSON alone: the input becomes that metadata value of a state file
/// without buffers, read as `TrainingState(contentsOf:)` reads one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainingStateJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        var file = SafeTensorsFile()
        file.metadata = [
            "format": "convnet-training-state", "format_version": "1",
            "training_state": String(decoding: bytes, as: UTF8.self),
        ]
        let name = "fuzz.state.safetensors"
        _ = try TrainingState(file: SafeTensorsFile(bytes: file.encoded(), name: name), name: name)
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_training_state_json_main")
public func fuzzTrainingStateJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
    runFuzzer(argc, argv, fuzzTrainingStateJSON)
}
