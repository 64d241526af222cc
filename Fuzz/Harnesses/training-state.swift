import ConvNet
import FuzzSupport

/// Training-state files (`NAME.state.safetensors`) as `TrainingState(contentsOf:)` reads
/// them: the safetensors file, the `training_state` JSON, the optimizer buffers.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrainingState(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let name = "fuzz.state.safetensors"
        _ = try TrainingState(file: SafeTensorsFile(bytes: bytes, name: name), name: name)
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_training_state_main")
public func fuzzTrainingStateMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzTrainingState)
}
