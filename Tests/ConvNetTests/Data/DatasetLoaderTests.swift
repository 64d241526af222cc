import Foundation
import Testing

@testable import ConvNet

/// IDX, CIFAR-10 (binary and python), the restricted pickle reader, array folders, digests,
/// offline download errors and preprocessing.
struct DatasetLoaderTests {
    @Test func restrictedPickleRejectsCodeExecution() throws {
        let hostile: [(String, [UInt8], String)] = [
            (
                "os.system via GLOBAL + REDUCE", Array("cos\nsystem\n(S'echo hacked'\ntR.".utf8),
                "global 'os.system' is not allowed"
            ),
            (
                "builtins.eval via STACK_GLOBAL",
                [0x80, 0x04, 0x8C, 0x08] + Array("builtins".utf8) + [0x8C, 0x04] + Array("eval".utf8) + [0x93, 0x2E],
                "global 'builtins.eval' is not allowed"
            ),
            ("INST", Array("(ios\nsystem\nS'ls'\n.".utf8), "INST"),
            ("OBJ", [0x80, 0x02, 0x28, 0x6F, 0x2E], "OBJ"),
            ("NEWOBJ", [0x80, 0x02, 0x29, 0x29, 0x81, 0x2E], "NEWOBJ"),
            ("persistent id", [0x80, 0x02, 0x4E, 0x51, 0x2E], "PERSID"),
            ("REDUCE of a non-global", [0x80, 0x02, 0x4E, 0x29, 0x52, 0x2E], "REDUCE"),
            (
                "_reconstruct of something else",
                Array("cnumpy.core.multiarray\n_reconstruct\n(cnumpy\ndtype\nK\u{0}tR.".utf8),
                "only build numpy.ndarray"
            ),
            ("truncated", [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "runs past the end"),
            ("stack underflow", [0x80, 0x02, 0x86, 0x2E], "underflow"),
            ("unknown opcode", [0x80, 0x02, 0xFF], "opcode 0xff"),
            ("no STOP", [0x80, 0x02, 0x4E], "truncated"),
        ]
        for (label, bytes, fragment) in hostile {
            let message = thrownMessage { _ = try RestrictedPickle.load(bytes, name: "evil.pkl") }
            #expect(message?.contains(fragment) == true, "\(label): \(message ?? "no error")")
            #expect(message?.contains("evil.pkl") == true)
        }
    }

    /// Small CIFAR-10 python batches written by python3's pickle + numpy at protocols 0 (text
    /// opcodes: UNICODE in raw-unicode-escape, INT, PUT/GET), 1, 2 (bytes as `_codecs.encode`),
    /// 4 (STACK_GLOBAL, FRAME, MEMOIZE) and 5 (`_frombuffer`); and a pickled class instance,
    /// which is rejected.
    @Test func cifarPythonBatchesFromNumpyPickles() throws {
        guard pythonWith(["numpy", "pickle"]) != nil else {
            print("skipped: python3 with numpy is not available")
            return
        }
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = """
            import pickle, sys, numpy as np, collections
            out = sys.argv[1]
            rng = np.random.RandomState(0)
            data = rng.randint(0, 256, size=(7, 3072)).astype(np.uint8)
            labels = [int(v) for v in rng.randint(0, 10, size=7)]
            batch = {b'batch_label': b'testing batch 1 of 1', b'labels': labels, b'data': data, b'filenames': [b'a.png'] * 7}
            for protocol in (0, 1, 2, 4, 5):
                with open(out + '/batch%d' % protocol, 'wb') as f:
                    pickle.dump(batch, f, protocol=protocol)
            open(out + '/labels.txt', 'w').write(' '.join(map(str, labels)))
            data.tofile(out + '/data.bin')
            with open(out + '/meta', 'wb') as f:
                pickle.dump({b'label_names': [b'airplane', b'automobile'], b'num_vis': 3072}, f, protocol=2)
            with open(out + '/evil', 'wb') as f:
                pickle.dump(collections.OrderedDict(a=1), f, protocol=2)
            """
        let result = try #require(runPython(script, arguments: [folder.path]))
        #expect(result.status == 0, "\(result.output)")
        let labels = String(decoding: try readFileBytes(folder.appendingPathComponent("labels.txt")), as: UTF8.self)
            .split(separator: " ").map { Int($0)! }
        let pixels = try readFileBytes(folder.appendingPathComponent("data.bin"))
        for version in [0, 1, 2, 4, 5] {
            let batch = try CIFAR10.pythonBatch(contentsOf: folder.appendingPathComponent("batch\(version)"))
            #expect(batch.labels == labels, "protocol \(version)")
            #expect(batch.images.shape == [7, 3, 32, 32])
            #expect(batch.images.storage == .uint8(pixels), "protocol \(version)")
        }
        #expect(
            try CIFAR10.pythonClassNames(readFileBytes(folder.appendingPathComponent("meta"))) == [
                "airplane", "automobile",
            ])
        let evil = thrownMessage { _ = try CIFAR10.pythonBatch(contentsOf: folder.appendingPathComponent("evil")) }
        #expect(evil?.contains("collections.OrderedDict' is not allowed") == true, "\(evil ?? "")")
    }

    /// Protocol 0's text opcodes, on pickles as Python writes them: Python 3's
    /// `pickle.dumps({'a': 1.5, 'b': b'x\0\xff\n\'"\\', 'c': 'héllo中\n\\', 'n': 2**40,
    /// 'l': [1, -2, 3]}, protocol=0)` (FLOAT, LONG, UNICODE with \u escapes and raw Latin-1
    /// bytes, bytes through `_codecs.encode`), and Python 2's STRING, a quoted repr with its
    /// escapes. Malformed arguments are errors that name the opcode's argument.
    @Test func protocolZeroTextOpcodes() throws {
        var python3: [UInt8] = Array("(dp0\nVa\np1\nF1.5\nsVb\np2\nc_codecs\nencode\np3\n(Vx\\u0000".utf8)
        python3 += [0xFF] + Array("\\u000a'\"\\u005c\np4\nVlatin1\np5\ntp6\nRp7\nsVc\np8\nVh".utf8)
        python3 += [0xE9] + Array("llo\\u4e2d\\u000a\\u005c\np9\nsVn\np10\nL1099511627776L\nsVl\np11\n".utf8)
        python3 += Array("(lp12\nI1\naI-2\naI3\nas.".utf8)
        let value = try RestrictedPickle.load(python3, name: "p0.pkl")
        #expect(value["a"] == .float(1.5))
        #expect(value["b"] == .bytes([0x78, 0, 0xFF, 0x0A, 0x27, 0x22, 0x5C]))
        #expect(value["c"] == .string("héllo中\n\\"))
        #expect(value["n"] == .int(1 << 40))
        #expect(value["l"] == .list([.int(1), .int(-2), .int(3)]))
        let python2 = Array(
            "(dp0\nS'k'\np1\nS'a\\x00\\\\\\'\\n\\101\\7z\\q'\np2\nsS\"it's\"\np3\nF-inf\nsS'u'\nV\\\\u0041\\u0042\np4\ns."
                .utf8)
        let old = try RestrictedPickle.load(python2, name: "p2.pkl")
        #expect(old["k"] == .bytes(Array("a\u{0}\\'\nA\u{7}z\\q".utf8)))
        #expect(old["it's"] == .float(-.infinity))
        #expect(old["u"] == .string("\\\\u0041B"))  // an even run of backslashes escapes nothing
        let malformed: [(String, String)] = [
            ("S'unterminated\n.", "is not quoted"), ("S'bad \\xZ1'\n.", "bad \\x escape"),
            ("F1.5.5\n.", "bad FLOAT"), ("L123456789012345678901234567890L\n.", "at most 64 bits"),
            ("Vabc", "truncated"),
        ]
        for (text, fragment) in malformed {
            let message = thrownMessage { _ = try RestrictedPickle.load(Array(text.utf8), name: "bad.pkl") }
            #expect(message?.contains(fragment) == true, "\(text): \(message ?? "no error")")
        }
    }

    @Test func cifarBinaryRecordsAndTheFoolboxSamples() throws {
        var record: [UInt8] = [3] + (0..<3072).map { UInt8($0 % 256) }
        record += [9] + [UInt8](repeating: 7, count: 3072)
        let batch = try CIFAR10.binaryBatch(record)
        #expect(batch.labels == [3, 9])
        #expect(batch.images.shape == [2, 3, 32, 32])
        #expect(thrownMessage { _ = try CIFAR10.binaryBatch(Array(record.dropLast())) }?.contains("3073-byte") == true)
        var badLabel = record
        badLabel[0] = 10
        #expect(thrownMessage { _ = try CIFAR10.binaryBatch(badLabel) }?.contains("label 10") == true)
        guard let shared = sharedDataDirectory() else {
            print("skipped: ../shared/data is absent (the 20 real CIFAR-10 test images)")
            return
        }
        let samples = try CIFAR10.binaryBatch(
            contentsOf: shared.appendingPathComponent(
                "cifar10-samples-foolbox/cifar-10-batches-bin/test_batch_first20.bin"))
        // The labels of the first 20 CIFAR-10 test images (the last number of foolbox's file names).
        #expect(samples.labels == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6])
        // A full binary distribution assembled from them loads through the folder loader.
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bin = folder.appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let bytes = try readFileBytes(
            shared.appendingPathComponent("cifar10-samples-foolbox/cifar-10-batches-bin/test_batch_first20.bin"))
        for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"] {
            writeBytes(bytes, bin.appendingPathComponent(name + ".bin"))
        }
        let splits = try DatasetLoader.load(.cifar10, directory: folder)
        #expect(splits.train.count == 100 && splits.test?.count == 20)
        #expect(splits.classNames[3] == "cat")
    }

    @Test func mnistStyleIDXFoldersRawAndGzipped() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let images = IDXFile.encode(shape: [3, 2, 2], bytes: Array(0..<12))
        let labels = IDXFile.encode(shape: [3], bytes: [1, 2, 3])
        // Train files raw, test files gzipped (stored blocks wrapped in a gzip member).
        writeBytes(Array(images), folder.appendingPathComponent("train-images-idx3-ubyte"))
        writeBytes(Array(labels), folder.appendingPathComponent("train-labels.idx1-ubyte"))
        writeBytes(gzipStored(Array(images)), folder.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        writeBytes(gzipStored(Array(labels)), folder.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let splits = try DatasetLoader.load(.mnist, directory: folder)
        #expect(splits.train.images.shape == [3, 1, 2, 2] && splits.test?.labels == [1, 2, 3])
        #expect(splits.test?.images == splits.train.images)
        // Offline, without --download: one line saying what to fetch and where.
        let empty = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let message = try #require(thrownMessage { _ = try DatasetLoader.load(.fashionMNIST, directory: empty) })
        #expect(!message.contains("\n"))
        #expect(
            message.contains("train-images-idx3-ubyte") && message.contains(empty.path)
                && message.contains("--download"))
        #expect(message.contains("fashion-mnist.s3-website.eu-central-1.amazonaws.com"))
        let cifar = try #require(thrownMessage { _ = try DatasetLoader.load(.cifar10, directory: empty) })
        #expect(cifar.contains("cifar-10-binary.tar.gz") && !cifar.contains("\n"))
        // Hostile IDX: dimensions that overflow.
        let overflow: [UInt8] = [0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1]
        #expect(thrownMessage { _ = try IDXFile(data: Data(overflow), name: "evil-idx") }?.contains("evil-idx") == true)
        #expect(
            thrownMessage { _ = try IDXFile(data: Data([0, 1, 8, 1]), name: "x") }?.contains("not an IDX file") == true)
    }

    private func gzipStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        ZlibEncoder.appendStoredBlocks(data, to: &out)
        let crc = CRC32.checksum(data)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: data.count >> shift)) }
        return out
    }

    @Test func digestsMatchKnownVectors() {
        #expect(Digest.sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            Digest.sha256([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(Digest.md5([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Digest.md5(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(
            Digest.md5(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8))
                == "57edf4a22be3c955ac49da2e2107b67a")
    }

    @Test func sharedMNISTFilesMatchTheirPublishedSHA256() throws {
        guard let shared = sharedDataDirectory() else {
            print("skipped: ../shared/data is absent")
            return
        }
        let labels = try readFileBytes(shared.appendingPathComponent("mnist/t10k-labels-idx1-ubyte"))
        #expect(Digest.sha256(labels) == "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")
        let gz = try readFileBytes(shared.appendingPathComponent("fashion-mnist/t10k-labels-idx1-ubyte.gz"))
        #expect(Digest.sha256(gz) == "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05")
        // The gzipped Fashion-MNIST test images decode to the raw copy beside them.
        let started = Date()
        let images = try IDXFile(contentsOf: shared.appendingPathComponent("fashion-mnist/t10k-images-idx3-ubyte.gz"))
        print("gunzip of t10k-images (7.8 MB): \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        #expect(
            images == (try IDXFile(contentsOf: shared.appendingPathComponent("fashion-mnist/t10k-images-idx3-ubyte"))))
    }

    @Test func arrayFoldersWithLayoutsAndSplits() throws {
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 4 NHWC images 2×2×3, uint8; labels int64.
        let pixels = (0..<48).map { UInt8($0) }
        try NumPyArray(shape: [4, 2, 2, 3], elementType: .uint8, bytes: pixels).write(
            to: folder.appendingPathComponent("x_train.npy"))
        let labels: [Int64] = [0, 2, 1, 2]
        let labelBytes = labels.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        try NumPyArray(shape: [4], elementType: .int64, bytes: labelBytes).write(
            to: folder.appendingPathComponent("y_train.npy"))
        try NumPyArray(shape: [1, 2, 2, 3], float32: (0..<12).map { Float($0) }).write(
            to: folder.appendingPathComponent("x_test.npy"))
        try NumPyArray(shape: [1], float32: [1]).write(to: folder.appendingPathComponent("y_test.npy"))
        // Test floats with train bytes: a shape mismatch is not possible here, but the scale is the training split's.
        let splits = try DatasetLoader.load(.npy, directory: folder, layout: .nhwc)
        #expect(splits.train.images.shape == [4, 3, 2, 2])
        #expect(splits.classNames == ["0", "1", "2"])
        #expect(splits.scale == 255)
        #expect(splits.test?.labels == [1])
        // Channel 0 of image 0 is pixels 0, 3, 6, 9.
        #expect(Array(splits.train.images.floatValues().prefix(4)) == [0, 3, 6, 9])
        // NCHW of a [4, 2, 2, 3] array reads it as 2 channels of 2×3.
        #expect(try DatasetLoader.load(.npy, directory: folder).train.images.shape == [4, 2, 2, 3])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("y_train.npy"))
        #expect(
            thrownMessage { _ = try DatasetLoader.load(.npy, directory: folder) }?.contains(
                "x_train and y_train are needed together") == true)
    }

    @Test func preprocessingFitsOnTrainingOnlyAndRoundTripsThroughJSON() throws {
        // 4 training images of 2 channels × 1 × 2, bytes; validation carved after 3 of them.
        let pixels: [UInt8] = [0, 10, 100, 110, 20, 30, 120, 130, 40, 50, 140, 150, 255, 255, 255, 255]
        let train = try LabeledImages(
            images: ImageArray(shape: [4, 2, 1, 2], storage: .uint8(pixels)), labels: [0, 1, 0, 1])
        let raw = try RawDatasetSplits(train: train, classNames: ["a", "b"], scale: 255)
        let prepared = try raw.prepared(
            PreparationOptions(trainingCount: 3, validationCount: 1, mean: .image), as: Double.self)
        #expect(
            prepared.splits.train.count == 3 && prepared.splits.validation.count == 1 && prepared.splits.test.count == 0
        )
        // Mean image of the first three only: (0 + 20 + 40) / 3 / 255 for element 0.
        #expect(abs(Double(prepared.preprocessing.mean[0]) - 20.0 / 255) < 1e-6)
        #expect(abs(prepared.splits.train.inputs.scalars[0] - (0 - 20.0 / 255)) < 1e-6)
        #expect(abs(prepared.splits.validation.inputs.scalars[0] - (255.0 - 20) / 255) < 1e-6)
        let standardized = try raw.prepared(
            PreparationOptions(trainingCount: 4, validationCount: 0, mean: .channel, standardize: true), as: Double.self
        )
        // Each channel of the training data now has mean 0 and variance 1.
        let x = standardized.splits.train.inputs.scalars
        for channel in 0..<2 {
            var values: [Double] = []
            for image in 0..<4 {
                values.append(x[image * 4 + channel * 2])
                values.append(x[image * 4 + channel * 2 + 1])
            }
            let mean: Double = values.reduce(0, +) / 8
            var variance = 0.0
            for value in values { variance += (value - mean) * (value - mean) / 8 }
            #expect(
                abs(mean) < 1e-6 && abs(variance - 1) < 1e-5, "channel \(channel): mean \(mean), variance \(variance)")
        }
        let json = try standardized.preprocessing.jsonString()
        let restored = try Preprocessing(jsonString: json)
        #expect(restored == standardized.preprocessing)
        let again: Tensor<Double> = try restored.apply(to: train.images)
        #expect(again.scalars.count == x.count)
        #expect(zip(again.scalars, x).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(
            thrownMessage { _ = try Preprocessing(jsonString: "{\"scale\": -1}") }?.contains("preprocessing") == true)
        #expect(
            thrownMessage {
                _ = try raw.prepared(PreparationOptions(trainingCount: 4, validationCount: 1), as: Float.self)
            }?
            .contains("exceed") == true)
    }
}
