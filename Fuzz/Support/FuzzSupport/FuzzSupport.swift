import Foundation
import FuzzEngine

/// The limits the harnesses run under: the defaults of `ReaderLimits`, except that one tensor
/// may hold 2^20 elements (not 2^28), so that a legal but large network built from a fuzzed
/// spec or checkpoint stays far below libFuzzer's `-rss_limit_mb=2048`. A value already in the
/// environment wins. Set before anything reads `ReaderLimits.current` (which reads the
/// environment once).
private let fuzzLimits: Void = {
    setenv("CONVNET_MAX_TENSOR_ELEMENTS", "1048576", 0)
}()

/// With CONVNET_FUZZ_VERBOSE=1 every refusal is printed (to see why a seed or a crash file
/// is rejected, e.g. `CONVNET_FUZZ_VERBOSE=1 .build-fuzz/debug/fuzz-npy Fuzz/Corpus/npy/*`).
private let verbose = ProcessInfo.processInfo.environment["CONVNET_FUZZ_VERBOSE"] == "1"

/// Runs `body` on one libFuzzer input. A thrown error is the right answer to a hostile file
/// and is ignored; anything else — a trap (overflow, index out of range, `try!`), an
/// AddressSanitizer report, a stack overflow, a timeout or an allocation past the RSS limit —
/// ends the process, and that is what libFuzzer reports.
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: ([UInt8]) throws -> Void) -> CInt {
    _ = fuzzLimits
    let bytes = data.map { [UInt8](UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try body(bytes)
    } catch {
        // Refusing the input is fine.
        if verbose { FileHandle.standardError.write(Data("refused: \(error)\n".utf8)) }
    }
    return 0
}

/// Starts libFuzzer on `testOneInput`, as libFuzzer's own `main` does. Each harness calls it
/// from a function exported as `<module>_main`: SwiftPM (tools version ≥ 5.5) links every
/// executable with its `main` renamed to that symbol, which would otherwise be missing in a
/// `-parse-as-library` build. Without the renaming the symbol is unused and libFuzzer's `main`
/// runs instead; either way the same driver starts.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, testOneInput)
}

/// A safetensors file around `input` = 2-byte little-endian data length d, the JSON header,
/// then d bytes of tensor data (d is clamped to what follows the length): the harness writes
/// the 8-byte header length itself, so that bytes inserted into the JSON do not break it.
public func safetensorsFile(wrapping input: [UInt8]) -> [UInt8] {
    guard input.count >= 2 else { return input }
    let dataLength = min(Int(input[0]) | Int(input[1]) << 8, input.count - 2)
    let header = input[2..<(input.count - dataLength)]
    var file: [UInt8] = []
    file.reserveCapacity(8 + input.count)
    for shift in stride(from: 0, to: 64, by: 8) { file.append(UInt8(truncatingIfNeeded: header.count >> shift)) }
    file += header
    file += input[(input.count - dataLength)...]
    return file
}
