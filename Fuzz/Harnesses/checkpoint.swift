import ConvNet
import FuzzSupport

/// Checkpoints as `Checkpoint.load` reads them: the safetensors file, its ConvNet metadata
/// (spec, input shape, class names, loss, preprocessing), the network that the spec builds for
/// that input shape, and the weights copied into it.
///
/// Input: a 2-byte little-endian data length d, the JSON header, then d bytes of tensor data
/// (`safetensorsFile(wrapping:)` adds the 8-byte header length, so insertions into the JSON
/// keep the file well-formed).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(data, size) { bytes in
        let name = "fuzz.safetensors"
        let file = try SafeTensorsFile(bytes: safetensorsFile(wrapping: bytes), name: name)
        guard let metadata = try CheckpointMetadata(metadata: file.metadata, name: name) else { return }
        _ = try metadata.encoded()
        let network: Sequential<Float> = try metadata.spec.makeNetwork(
            inputShape: metadata.inputShape, initializer: .zeros)
        try Checkpoint.loadWeights(file, into: network, name: name)
        _ = try Model(network: network, loss: metadata.loss.makeLoss(), inputShape: metadata.inputShape)
    }
}

/// The process entry point (see `runFuzzer`).
@_cdecl("fuzz_checkpoint_main")
public func fuzzCheckpointMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzCheckpoint)
}
