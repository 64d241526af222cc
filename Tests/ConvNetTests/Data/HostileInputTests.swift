import Foundation
import Testing

@testable import ConvNet

/// The limits policy (`ReaderLimits`): every hostile case that used to trap, overflow the
/// stack or allocate gigabytes is now one clear error naming the file, the field and the limit.
struct HostileInputTests {
    /// A ZIP archive of stored members whose directory may lie about sizes.
    static func zip(_ members: [(name: String, data: [UInt8], method: Int, size: Int?)]) -> [UInt8] {
        var file: [UInt8] = []
        var directory: [UInt8] = []
        func u16(_ v: Int, _ out: inout [UInt8]) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int, _ out: inout [UInt8]) {
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(v >> shift & 0xFF)) }
        }
        for member in members {
            let offset = file.count
            let crc = Int(CRC32.checksum(member.data))
            let name = Array(member.name.utf8)
            u32(0x0403_4B50, &file)
            u16(20, &file)
            u16(0, &file)
            u16(member.method, &file)
            u16(0, &file)
            u16(0, &file)
            u32(crc, &file)
            u32(member.data.count, &file)
            u32(min(member.size ?? member.data.count, 0xFFFF_FFFE), &file)
            u16(name.count, &file)
            u16(0, &file)
            file += name
            file += member.data
            let declared = member.size ?? member.data.count
            let zip64 = declared >= 0xFFFF_FFFF
            u32(0x0201_4B50, &directory)
            u16(20, &directory)
            u16(20, &directory)
            u16(0, &directory)
            u16(member.method, &directory)
            u16(0, &directory)
            u16(0, &directory)
            u32(crc, &directory)
            u32(member.data.count, &directory)
            u32(zip64 ? 0xFFFF_FFFF : declared, &directory)
            u16(name.count, &directory)
            u16(zip64 ? 12 : 0, &directory)
            u16(0, &directory)
            u16(0, &directory)
            u16(0, &directory)
            u32(0, &directory)
            u32(offset, &directory)
            directory += name
            if zip64 {
                u16(1, &directory)
                u16(8, &directory)
                u32(declared & 0xFFFF_FFFF, &directory)
                u32(declared >> 32, &directory)
            }
        }
        let directoryOffset = file.count
        file += directory
        u32(0x0605_4B50, &file)
        u16(0, &file)
        u16(0, &file)
        u16(members.count, &file)
        u16(members.count, &file)
        u32(directory.count, &file)
        u32(directoryOffset, &file)
        u16(0, &file)
        return file
    }

    @Test func hugeLabelIsAClassLimitNotAnAllocation() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        try NumPyArray(shape: [2, 1, 2, 2], float32: [Float](repeating: 0.5, count: 8)).write(
            to: folder.appendingPathComponent("x_train.npy"))
        var labels: [UInt8] = []
        for value in [Int64(0), 1_000_000_000] { withUnsafeBytes(of: value.littleEndian) { labels += $0 } }
        try NumPyArray(shape: [2], elementType: .int64, bytes: labels).write(
            to: folder.appendingPathComponent("y_train.npy"))
        let message = thrownMessage { _ = try ArrayDataset.load(from: folder) }
        #expect(
            message?.contains("label 1000000000 implies 1000000001 classes, above the limit of 100000") == true,
            "\(message ?? "no error")")
    }

    @Test func infinityInImagesIsNamedAsInfinity() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        try NumPyArray(shape: [2, 1, 2, 2], float32: [0, 1, 2, .infinity, 0, 0, 0, 0]).write(
            to: folder.appendingPathComponent("x_train.npy"))
        try NumPyArray(shape: [2], float32: [0, 1]).write(to: folder.appendingPathComponent("y_train.npy"))
        let message = thrownMessage { _ = try ArrayDataset.load(from: folder) }
        #expect(message?.contains("x_train contains inf at flat index 3") == true, "\(message ?? "no error")")
    }

    @Test func npzDirectorySizesAreCheckedBeforeAnythingIsReserved() throws {
        let npy = try NumPyArray(shape: [2], float32: [1, 2]).encoded()
        // A stored member whose directory claims a different size.
        let lying = try NPZArchive(bytes: Self.zip([("x.npy", npy, 0, npy.count + 5)]))
        #expect(
            thrownMessage { _ = try lying.array("x") }?.contains(
                "stored member of \(npy.count) bytes, directory says \(npy.count + 5)") == true)
        // A deflated member that claims 2^40 bytes from a few: refused before inflating.
        let bomb = try NPZArchive(bytes: Self.zip([("x.npy", [0x03, 0x00], 8, 1 << 40)]))
        let message = thrownMessage { _ = try bomb.array("x") }
        #expect(
            message?.contains("directory says 1099511627776 bytes uncompressed from 2, above the limit of") == true,
            "\(message ?? "no error")")
        // The real thing still reads.
        #expect(try NPZArchive(bytes: Self.zip([("x.npy", npy, 0, nil)])).array("x").floatValues() == [1, 2])
    }

    @Test func inflationCapFollowsTheInputAndTheAbsoluteLimit() {
        let limits = ReaderLimits.defaults
        #expect(limits.inflatedCap(forCompressed: 10) == 10 * 1100 + 65_536)
        #expect(limits.inflatedCap(forCompressed: 100_000_000) == 1 << 30)
        #expect(limits.inflatedCap(forCompressed: Int.max) == 1 << 30)
    }

    /// A pickle program that nests `depth` containers: one-element tuples built bottom-up
    /// (TUPLE1 around the top of the stack), or lists built top-down through the memo (each
    /// child appended to its parent before being filled).
    static func nestedPickle(depth: Int, topDown: Bool) -> [UInt8] {
        var program: [UInt8] = [0x80, 0x02]
        if topDown {
            program += [0x5D, 0x32]  // EMPTY_LIST, DUP: [outer, parent]
            for _ in 0..<depth {
                // EMPTY_LIST, BINPUT 0, APPEND, POP, BINGET 0: [outer, child]
                program += [0x5D, 0x71, 0x00, 0x61, 0x30, 0x68, 0x00]
            }
            program += [0x30]  // POP: [outer]
        } else {
            program += [0x4B, 0x01]  // the innermost value
            for _ in 0..<depth { program += [0x85] }
        }
        return program + [0x2E]
    }

    @Test func deepPicklesAreRefusedAndFreedWithoutRecursion() throws {
        for topDown in [false, true] {
            let message = thrownMessage {
                _ = try RestrictedPickle.load(Self.nestedPickle(depth: 100_000, topDown: topDown))
            }
            #expect(message?.contains("deeper than the limit of 256") == true, "\(topDown): \(message ?? "no error")")
        }
        // Within the limit, nesting is fine.
        #expect(throws: Never.self) { _ = try RestrictedPickle.load(Self.nestedPickle(depth: 100, topDown: false)) }
    }

    @Test func billionLaughsStopsAtTheValueLimit() throws {
        // A list of two references to the previous list, 40 times: 2^40 values when expanded.
        var program: [UInt8] = [0x80, 0x02, 0x4B, 0x07, 0x71, 0x00]  // 7, PUT 0
        for level in 0..<40 {
            program += [0x68, UInt8(level), 0x68, UInt8(level), 0x86]  // GET, GET, TUPLE2
            program += [0x71, UInt8(level + 1)]  // PUT level+1
            if level < 39 { program += [0x30] }  // POP (keep the last)
        }
        program += [0x2E]
        let message = thrownMessage { _ = try RestrictedPickle.load(program) }
        #expect(
            message?.contains("expands to more than the limit of 10000000 values") == true, "\(message ?? "no error")")
    }

    @Test func pickleErrorsDoNotEchoKilobytes() throws {
        let module = String(repeating: "A", count: 5000)
        let program: [UInt8] = [0x80, 0x02, 0x63] + Array((module + "\nB\n").utf8) + [0x2E]
        let message = try #require(thrownMessage { _ = try RestrictedPickle.load(program) })
        #expect(message.contains("is not allowed") && message.count < 400, "\(message.count) characters")
    }

    @Test func npyHeaderErrorsAreOneLine() throws {
        let header = "{'descr': '<f4' 'fortran_order': False}\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0]
        bytes += Array(header.utf8)
        let message = try #require(thrownMessage { _ = try NumPyArray(npy: bytes) })
        #expect(!message.contains("\n") && message.contains("False}\\n"), "\(message)")
    }

    @Test func shapeArithmeticAndParameterCountsAreBounded() throws {
        // An input shape too large to count, or too large to hold.
        let spec = try ModelSpec(parsing: "flatten dense(10)")
        #expect(
            thrownMessage {
                _ = try spec.makeNetwork(inputShape: [9_999_999_999, 9_999_999_999, 3], scalar: Float.self)
            }?
            .contains("needs sizes ≥ 1 whose product fits") == true)
        #expect(
            thrownMessage { _ = try spec.makeNetwork(inputShape: [3, 10_000, 10_000], scalar: Float.self) }?
                .contains("above the limit of 16777216") == true)
        // Two dense(1048576): the first weight alone is 2^30 elements.
        let wide = try ModelSpec(parsing: "dense(1048576) dense(1048576)")
        let message = thrownMessage { _ = try wide.makeNetwork(inputShape: [1024], scalar: Float.self) }
        #expect(
            message?.contains("weight of shape [1048576, 1024] has 1073741824 elements, above the limit of 268435456")
                == true,
            "\(message ?? "no error")")
        // Containers nested too deep.
        let deep = String(repeating: "res(", count: 40) + "relu" + String(repeating: ")", count: 40)
        #expect(
            thrownMessage { _ = try ModelSpec(parsing: deep) }?.contains("nest deeper than the limit of 32") == true)
        // Presets with no classes.
        #expect(
            thrownMessage { _ = try ModelPreset.lenet5.spec(classes: 0) }?.contains(
                "needs 1 to 100000 classes, found 0") == true)
    }

    @Test func checkpointMetadataCannotDemandTerabytes() throws {
        var metadata = ["spec": "flatten dense(10)", "input_shape": "[100000,100000,100000]"]
        #expect(
            thrownMessage { _ = try CheckpointMetadata(metadata: metadata, name: "evil.safetensors") }?
                .contains(
                    "evil.safetensors: metadata 'input_shape' [100000, 100000, 100000] has 1000000000000000 elements per sample"
                ) == true)
        metadata["input_shape"] = "[1,4,4]"
        metadata["preprocessing"] = #"{"scale":1,"sampleShape":[4000000000,4000000000,4000000000],"mean":[],"std":[]}"#
        #expect(
            thrownMessage { _ = try CheckpointMetadata(metadata: metadata, name: "evil.safetensors") }?
                .contains("preprocessing sample shape") == true)
    }

    @Test func validationCountLargerThanTheDataIsAnError() throws {
        let raw = try DatasetLoader.bundledDigits()
        let train = try RawDatasetSplits(train: raw.train, classNames: raw.classNames, scale: raw.scale)
        #expect(
            thrownMessage { _ = try train.prepared(PreparationOptions(validationCount: 5000), as: Float.self) }?
                .contains("5000 validation samples exceed the 1257") == true)
        #expect(
            thrownMessage {
                _ = try train.prepared(PreparationOptions(trainingCount: Int.max, validationCount: 10), as: Float.self)
            }?
            .contains("exceed the 1257") == true)
    }

    @Test func systemErrorsReadAsOneHumanLine() throws {
        let message = thrownMessage { _ = try NumPyArray(contentsOf: URL(fileURLWithPath: "/nonexistent/x.npy")) }
        #expect(message?.contains("cannot read /nonexistent/x.npy: no such file") == true, "\(message ?? "no error")")
        #expect(message?.contains("NSCocoaErrorDomain") == false)
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let directoryMessage = thrownMessage { _ = try NumPyArray(contentsOf: folder) }
        #expect(directoryMessage?.contains("NSCocoaErrorDomain") == false, "\(directoryMessage ?? "no error")")
    }

    @Test func topKAboveTheClassCountIsAnError() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ModelPreset.digitsCNN.makeModel(inputShape: [1, 8, 8], classes: 10, scalar: Float.self)
        let url = folder.appendingPathComponent("m.safetensors")
        try Checkpoint.save(model, to: url, preset: "digits-cnn")
        let predictor = try Predictor(checkpoint: url)
        let scores = Tensor<Float>(zeros: [1, 10])
        #expect(
            thrownMessage { _ = try predictor.topK(scores, k: 11) }?.contains(
                "--top-k 11 exceeds the model's 10 classes") == true)
        #expect(try predictor.topK(scores, k: 10).first?.count == 10)
    }

    /// Training that diverges to a useless model finishes with a warning, not silently.
    @Test func uselessModelIsFlagged() throws {
        var configuration = TrainingConfiguration()
        configuration.updateRule = "sgd"
        configuration.learningRate = 3000
        configuration.epochs = 2
        configuration.trainingCount = 300
        let job = try TrainingJob(
            configuration: configuration, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        do {
            try job.run()
            let warning = try #require(job.chanceWarning)
            #expect(warning.contains("no better than always answering the most frequent class"))
        } catch let error as ConvNetError {
            // Or the loss became non-finite: that too is reported, naming the iteration.
            #expect(error.description.contains("at iteration"), "\(error)")
        }
        // A run that learns carries no warning.
        configuration.updateRule = "adam"
        configuration.learningRate = 2e-3
        let good = try TrainingJob(
            configuration: configuration, directory: nil, progress: ProgressBar(mode: .quiet) { _ in })
        try good.run()
        #expect(good.chanceWarning == nil)
    }
}
