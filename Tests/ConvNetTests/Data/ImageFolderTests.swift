import Foundation
import Testing

@testable import ConvNet

/// Image datasets: the resize and crop against numbers worked out by hand and against PyTorch's
/// `interpolate`; imagefolder's classes, order, splits and channel rule on folders made with
/// Pillow and from the committed fixtures; tinyimagenet on a synthetic tree.
struct ImageFolderTests {
    /// A gray or RGB PNG file of `pixels` ([H, W, C] interleaved), written by ConvNet's encoder.
    static func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGEncoder.write(RasterImage(width: width, height: height, channels: channels, pixels: pixels), to: url)
    }

    /// A `size`×`size` image of one value per channel.
    static func flat(_ values: [UInt8], size: Int) -> [UInt8] {
        (0..<(size * size)).flatMap { _ in values }
    }

    /// Worked by hand: a 2×2 image [[0, 100], [200, 255]] to 4×4. Source coordinates are
    /// (d + ½)/2 − ½ = −¼ (clamped to 0), ¼, ¾, 1¼ (the last sample repeated), so each row is
    /// a, ¾a + ¼b, ¼a + ¾b, b, and the rows mix the same way; then rounded half to even.
    @Test func bilinearResizeKnownAnswer() throws {
        let image = try DecodedImage(width: 2, height: 2, channels: 1, samples: .uint8([0, 100, 200, 255]))
        let result = try ImageTransform(size: ImageSize(height: 4, width: 4), channels: 1).apply(image)
        #expect(result.shape == [1, 4, 4])
        // Rows before rounding: [0, 25, 75, 100], [50, 72.1875, 116.5625, 138.75],
        // [150, 166.5625, 199.6875, 216.25], [200, 213.75, 241.25, 255].
        #expect(result.samples == [0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255])
        // Same size: the samples unchanged; gray to RGB copies; RGB to gray is Pillow's luma.
        #expect(
            try ImageTransform(size: nil, channels: 3).apply(image).samples == [
                0, 100, 200, 255, 0, 100, 200, 255, 0, 100, 200, 255,
            ])
        let colour = try DecodedImage(width: 1, height: 1, channels: 4, samples: .uint8([255, 128, 0, 7]))
        // (19595·255 + 38470·128 + 7471·0 + 32768) >> 16 = 151 (Pillow's convert("L") gives 151 too).
        #expect(try ImageTransform(size: nil, channels: 1).apply(colour).samples == [151])
        // Non-square target: Resize(max(H, W)) then CenterCrop: 2×2 → 6×6, crop 6×4 from column 1.
        let wide = try ImageTransform(size: ImageSize(height: 6, width: 4), channels: 1).apply(image)
        let full = try ImageTransform(size: ImageSize(height: 6, width: 6), channels: 1).apply(image)
        #expect(wide.shape == [1, 6, 4])
        var middle: [UInt8] = []
        for row in 0..<6 { middle += full.samples[(row * 6 + 1)..<(row * 6 + 5)] }
        #expect(wide.samples == middle)
        #expect(try ImageSize(parsing: "32") == ImageSize(height: 32, width: 32))
        #expect(try ImageSize(parsing: "24x40") == ImageSize(height: 24, width: 40))
        #expect(thrownMessage { _ = try ImageSize(parsing: "0") }?.contains("at least 1×1") == true)
        #expect(thrownMessage { _ = try ImageSize(parsing: "3x") }?.contains("--image-size takes S or HxW") == true)
        #expect(thrownMessage { _ = try ImageSize(parsing: "99999x99999") }?.contains("above the limit") == true)
    }

    /// Resize and crop against `torch.nn.functional.interpolate(x.float(), size, mode="bilinear",
    /// align_corners=False, antialias=False)`, `torch.round`, and torchvision's Resize / CenterCrop
    /// size rules (written out in the script), on random images, shrinking and enlarging.
    @Test func resizeAndCropMatchPyTorch() throws {
        guard let python = torchPython() else {
            print("skipped: no python with torch (set CONVNET_TORCH_PYTHON or make .venv)")
            return
        }
        let folder = makeTemporaryDirectory("convnet-resize")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = """
            import sys, json, numpy as np, torch, torch.nn.functional as F
            out = sys.argv[1]
            rng = np.random.RandomState(5)
            cases = [((3, 13, 17), (8, 8)), ((1, 40, 30), (32, 32)), ((3, 8, 8), (20, 20)), ((3, 5, 64), (4, 6)),
                     ((3, 31, 29), (16, 24)), ((1, 9, 9), (9, 9)), ((3, 64, 64), (32, 32)), ((3, 50, 37), (7, 7))]
            listed = []
            for index, ((c, h, w), (th, tw)) in enumerate(cases):
                x = rng.randint(0, 256, size=(c, h, w)).astype(np.uint8)
                np.save(f"{out}/in{index}.npy", x)
                s = max(th, tw)                          # Resize(max(H, W)): torchvision's size rule
                short, long = (w, h) if w <= h else (h, w)
                new_short, new_long = s, int(s * long / short)
                nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
                y = F.interpolate(torch.from_numpy(x).float()[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)[0]
                top, left = int(round((nh - th) / 2.0)), int(round((nw - tw) / 2.0))   # CenterCrop
                y = y[:, top:top + th, left:left + tw]
                np.save(f"{out}/float{index}.npy", y.numpy().astype(np.float32))
                np.save(f"{out}/out{index}.npy", torch.round(y).clamp(0, 255).to(torch.uint8).numpy())
                listed.append([th, tw])
            print(json.dumps(listed))
            """
        let result = try #require(runPython(script, arguments: [folder.path], python: python))
        try #require(result.status == 0, "\(result.output)")
        let targets = try #require(
            try JSONSerialization.jsonObject(with: Data((result.output.split(separator: "\n").last ?? "").utf8))
                as? [[Int]])
        var worstFloat: Float = 0
        for (index, target) in targets.enumerated() {
            let input = try NumPyArray(contentsOf: folder.appendingPathComponent("in\(index).npy"))
            let (c, h, w) = (input.shape[0], input.shape[1], input.shape[2])
            let bytes = input.floatValues().map { UInt8($0) }
            let interleaved = (0..<(h * w)).flatMap { pixel in (0..<c).map { bytes[$0 * h * w + pixel] } }
            let image = try DecodedImage(width: w, height: h, channels: c, samples: .uint8(interleaved))
            let transform = try ImageTransform(size: ImageSize(height: target[0], width: target[1]), channels: c)
            let output = try transform.apply(image)
            let expected = try NumPyArray(contentsOf: folder.appendingPathComponent("out\(index).npy")).floatValues()
            let unrounded = try NumPyArray(contentsOf: folder.appendingPathComponent("float\(index).npy")).floatValues()
            #expect(output.shape == [c, target[0], target[1]])
            // The unrounded values agree to float rounding; the
            // bytes agree exactly except at a rounding tie that float noise can tip.
            let (rh, rw) = ImageTransform.resizedSize(height: h, width: w, shorter: max(target[0], target[1]))
            let top = ImageTransform.roundHalfEven(Double(rh - target[0]) / 2)
            let left = ImageTransform.roundHalfEven(Double(rw - target[1]) / 2)
            let mine = ImageTransform.bilinear(
                bytes, channels: c, height: h, width: w, outputHeight: rh, outputWidth: rw,
                rows: top..<(top + target[0]), columns: left..<(left + target[1]))
            for (i, value) in mine.enumerated() {
                worstFloat = max(worstFloat, abs(value - unrounded[i]))
                let tie = abs(unrounded[i] - unrounded[i].rounded(.down) - 0.5) < 1e-3
                #expect(
                    Float(output.samples[i]) == expected[i] || tie,
                    "case \(index) sample \(i): \(output.samples[i]) vs \(expected[i]) (\(unrounded[i]))")
            }
        }
        // Float rounding on a 0–255 scale (a few units in the last place of 255).
        #expect(worstFloat < 1e-3, "largest difference before rounding \(worstFloat)")
    }

    /// The folder of the docstring, made with Pillow: class order, recursive and case-insensitive
    /// file discovery, hidden and non-image files skipped, a gray image among colour ones
    /// (copied to RGB), PNG pixels unchanged, splits, and the errors.
    @Test func imageFolderWithPillow() throws {
        guard let python = pillowPython() else {
            print("skipped: no python with Pillow and numpy (make .venv, or set CONVNET_TORCH_PYTHON)")
            return
        }
        let root = makeTemporaryDirectory("convnet-imagefolder")
        defer { try? FileManager.default.removeItem(at: root) }
        let script = """
            import os, sys, numpy as np
            from PIL import Image
            root = sys.argv[1]
            rng = np.random.RandomState(3)
            def save(path, mode="RGB", size=(6, 5)):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                shape = (size[1], size[0]) + (() if mode == "L" else (3,))
                Image.fromarray(rng.randint(0, 256, size=shape).astype(np.uint8)).save(path)
            for name in ["b.png", "a.JPG", "sub/c.jpeg", "sub/deeper/d.PNG", "z.png"]:
                save(f"{root}/flat/cat/{name}")
            save(f"{root}/flat/cat/gray.png", "L")
            save(f"{root}/flat/Zebra/1.png")
            save(f"{root}/flat/dog/x.jpg")
            save(f"{root}/flat/dog/.hidden.png")
            open(f"{root}/flat/dog/notes.txt", "w").write("not an image")
            os.makedirs(f"{root}/flat/.ipynb_checkpoints")
            for split, classes in [("train", ["a", "b"]), ("val", ["b"]), ("test", ["a", "b"])]:
                for c in classes:
                    for i in range(3):
                        save(f"{root}/split/{split}/{c}/{i}.png", "L", size=(7, 7))
            save(f"{root}/mixed/a/big.png", size=(9, 9))
            save(f"{root}/mixed/b/small.png", size=(6, 6))
            os.makedirs(f"{root}/empty/a")
            save(f"{root}/empty/b/1.png")
            for c in ["a", "b"]:
                save(f"{root}/unknown/train/{c}/1.png")
            save(f"{root}/unknown/val/c/1.png")
            """
        let made = try #require(runPython(script, arguments: [root.path], python: python))
        try #require(made.status == 0, "\(made.output)")

        let flat = root.appendingPathComponent("flat")
        let listing = try ImageFolder.list(flat)
        // Code-point order, as Python's sorted(): upper case first.
        #expect(listing.classNames == ["Zebra", "cat", "dog"])
        #expect(listing.validation == nil && listing.test == nil)
        #expect(
            listing.train.map { $0.url.path }
                == [
                    "Zebra/1.png", "cat/a.JPG", "cat/b.png", "cat/gray.png", "cat/z.png", "cat/sub/c.jpeg",
                    "cat/sub/deeper/d.PNG", "dog/x.jpg",
                ].map { flat.appendingPathComponent($0).path })
        #expect(listing.train.map(\.label) == [0, 1, 1, 1, 1, 1, 1, 2])
        let raw = try ImageFolder.load(from: flat)
        #expect(raw.classNames == ["Zebra", "cat", "dog"] && raw.scale == 255)
        #expect(raw.train.images.shape == [8, 3, 5, 6])
        // The training split is shuffled (seed 0); each sample still carries its label, and the
        // PNGs come through unchanged (the gray one copied into R, G and B).
        var random = SeededRandom(seed: 0)
        let order = random.permutation(8)
        #expect(raw.train.labels == order.map { listing.train[$0].label })
        guard case .uint8(let bytes) = raw.train.images.storage else {
            Issue.record("not bytes")
            return
        }
        for (position, index) in order.enumerated() where listing.train[index].url.pathExtension.lowercased() == "png" {
            let decoded = try ImageDecoder.decode(contentsOf: listing.train[index].url)
            let expected = try ImageTransform(size: nil, channels: 3).apply(decoded).samples
            #expect(
                Array(bytes[(position * 90)..<((position + 1) * 90)]) == expected,
                "\(listing.train[index].url.lastPathComponent)")
        }

        let split = try ImageFolder.load(from: root.appendingPathComponent("split"))
        #expect(split.classNames == ["a", "b"])
        #expect(split.train.count == 6 && split.validation?.count == 3 && split.test?.count == 6)
        #expect(split.train.images.shape == [6, 1, 7, 7], "all gray: one channel")
        #expect(split.train.labels == [0, 0, 0, 1, 1, 1], "not shuffled when there is a validation split")
        #expect(split.validation?.labels == [1, 1, 1])
        // Forced size and channels.
        let forced = try ImageFolder.load(
            from: root.appendingPathComponent("split"),
            options: ImageLoadOptions(size: try ImageSize(parsing: "4x3"), channels: 3))
        #expect(forced.train.images.shape == [6, 3, 4, 3] && forced.test?.images.shape == [6, 3, 4, 3])

        let mixed = thrownMessage { _ = try ImageFolder.load(from: root.appendingPathComponent("mixed")) }
        #expect(mixed?.contains("give an image size (--image-size S or HxW)") == true, "\(mixed ?? "")")
        #expect(
            try ImageFolder.load(
                from: root.appendingPathComponent("mixed"), options: ImageLoadOptions(size: try ImageSize(parsing: "6"))
            ).train.images.shape == [2, 3, 6, 6])
        let empty = thrownMessage { _ = try ImageFolder.load(from: root.appendingPathComponent("empty")) }
        #expect(empty?.contains("empty/a has no .png, .jpg or .jpeg files") == true, "\(empty ?? "")")
        let unknown = thrownMessage { _ = try ImageFolder.load(from: root.appendingPathComponent("unknown")) }
        #expect(unknown?.contains("val/c is not one of the 2 training classes") == true, "\(unknown ?? "")")
        let missing = thrownMessage { _ = try ImageFolder.load(from: root.appendingPathComponent("nothing")) }
        #expect(missing?.contains("is not a folder") == true, "\(missing ?? "")")
    }

    /// An imagefolder made of the committed fixture files (no Pillow needed): PNGs and JPEGs of
    /// every kind in two classes, brought to 8×8 RGB; a corrupt file is one error naming it.
    @Test func imageFolderFromTheFixtures() throws {
        let root = makeTemporaryDirectory("convnet-fixture-folder")
        defer { try? FileManager.default.removeItem(at: root) }
        let names = try FileManager.default.contentsOfDirectory(atPath: ImageDecoderTests.fixtures.path)
            .filter { ImageFolder.isImageFile($0) }.sorted()
        for name in names {
            let folder = root.appendingPathComponent(name.hasSuffix(".png") ? "png" : "jpeg")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                at: ImageDecoderTests.fixtures.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let raw = try DatasetLoader.load(
            .imageFolder, directory: root, images: ImageLoadOptions(size: try ImageSize(parsing: "8")))
        #expect(raw.classNames == ["jpeg", "png"])
        #expect(raw.train.count == names.count && raw.train.images.sampleShape == [3, 8, 8])
        #expect(raw.train.labels.filter { $0 == 0 }.count == names.filter { $0.hasSuffix(".jpg") }.count)
        try Data([0xFF, 0xD8, 0xFF, 0xDB, 0, 3]).write(to: root.appendingPathComponent("png/broken.png"))
        let message = thrownMessage {
            _ = try DatasetLoader.load(
                .imageFolder, directory: root, images: ImageLoadOptions(size: try ImageSize(parsing: "8")))
        }
        #expect(
            message?.contains("png/broken.png: truncated DQT segment") == true
                || message?.contains("png/broken.png: DQT") == true, "\(message ?? "")")
    }

    /// tiny-imagenet-200 in miniature: three classes listed out of order in wnids.txt, words.txt
    /// with other entries, training images under train/<wnid>/images with a boxes file beside
    /// them, validation labels from val_annotations.txt, test images ignored. Each image is one
    /// flat colour per class (PNG bytes in .JPEG files: the decoders go by the signature), so
    /// every label can be checked against its pixels.
    @Test func tinyImageNetLayout() throws {
        let root = makeTemporaryDirectory("convnet-tiny").appendingPathComponent(TinyImageNet.folderName)
        defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
        let wnids = ["n02", "n01", "n03"]
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try (wnids.joined(separator: "\n") + "\n").write(
            to: root.appendingPathComponent("wnids.txt"), atomically: true, encoding: .utf8)
        try "n00\tentity\nn01\tgoldfish, Carassius auratus\nn02\tEgyptian cat\nn03\t\nn99\tother\n"
            .write(to: root.appendingPathComponent("words.txt"), atomically: true, encoding: .utf8)
        for (label, wnid) in wnids.enumerated() {
            for i in 0..<4 {
                try Self.writePNG(
                    Self.flat([UInt8(40 * label + 10)], size: 8), width: 8, height: 8, channels: 1,
                    to: root.appendingPathComponent("train/\(wnid)/images/\(wnid)_\(i).JPEG"))
            }
            try "\(wnid)_0.JPEG\t0\t0\t7\t7\n".write(
                to: root.appendingPathComponent("train/\(wnid)/\(wnid)_boxes.txt"), atomically: true, encoding: .utf8)
        }
        var annotations = ""
        for i in 0..<5 {
            let label = (i * 2) % 3
            try Self.writePNG(
                Self.flat([UInt8(40 * label + 10), 0, 0], size: 8), width: 8, height: 8, channels: 3,
                to: root.appendingPathComponent("val/images/val_\(i).JPEG"))
            annotations += "val_\(i).JPEG\t\(wnids[label])\t1\t2\t3\t4\r\n"
        }
        try annotations.write(
            to: root.appendingPathComponent("val/val_annotations.txt"), atomically: true, encoding: .utf8)
        try Self.writePNG(
            Self.flat([1], size: 8), width: 8, height: 8, channels: 1,
            to: root.appendingPathComponent("test/images/test_0.JPEG"))

        let raw = try DatasetLoader.load(try DatasetName(named: "tiny-imagenet"), directory: root)
        #expect(raw.classNames == ["Egyptian cat", "goldfish", "n03"])
        #expect(raw.train.count == 12 && raw.validation?.count == 5 && raw.test == nil)
        // Gray training images, but colour in val: the training split decides (1 channel), and
        // the validation images become gray by luma.
        #expect(raw.train.images.shape == [12, 1, 8, 8])
        guard case .uint8(let train) = raw.train.images.storage,
            case .uint8(let validation)? = raw.validation?.images.storage
        else {
            Issue.record("not bytes")
            return
        }
        for (index, label) in raw.train.labels.enumerated() { #expect(Int(train[index * 64]) == 40 * label + 10) }
        #expect(raw.validation?.labels == [0, 2, 1, 0, 2])
        for (index, label) in (raw.validation?.labels ?? []).enumerated() {
            #expect(Int(validation[index * 64]) == (19595 * (40 * label + 10) + 32768) >> 16)
        }
        // Sized and coloured on request.
        let resized = try TinyImageNet.load(
            from: root, options: ImageLoadOptions(size: try ImageSize(parsing: "4"), channels: 3))
        #expect(resized.train.images.shape == [12, 3, 4, 4] && resized.validation?.images.shape == [5, 3, 4, 4])

        try "val_9.JPEG\tn77\t0\t0\t1\t1\n".write(
            to: root.appendingPathComponent("val/val_annotations.txt"), atomically: true, encoding: .utf8)
        let badLabel = thrownMessage { _ = try TinyImageNet.load(from: root) }
        #expect(badLabel?.contains("val_annotations.txt line 1") == true, "\(badLabel ?? "")")
        let missing = thrownMessage { _ = try TinyImageNet.load(from: root.deletingLastPathComponent()) }
        #expect(missing?.contains("expected wnids.txt, words.txt, train/ and val/") == true, "\(missing ?? "")")
    }

    /// The 20 CIFAR-10 PNGs of the shared data decode to the bytes of the CIFAR-10 binary batch
    /// made from the same images (skipped without ../shared/data).
    @Test func cifarPNGsMatchTheBinaryBatch() throws {
        guard let data = sharedDataDirectory() else {
            print("skipped: ../shared/data is not there")
            return
        }
        let folder = data.appendingPathComponent("cifar10-samples-foolbox")
        let batch = try CIFAR10.binaryBatch(
            contentsOf: folder.appendingPathComponent("cifar-10-batches-bin/test_batch_first20.bin"))
        guard case .uint8(let expected) = batch.images.storage else {
            Issue.record("not bytes")
            return
        }
        for index in 0..<20 {
            let file = folder.appendingPathComponent(String(format: "cifar10_%02d_%d.png", index, batch.labels[index]))
            let sample = try ImageTransform(size: nil, channels: 3).apply(ImageDecoder.decode(contentsOf: file))
            #expect(sample.shape == [3, 32, 32])
            #expect(
                sample.samples == Array(expected[(index * 3072)..<((index + 1) * 3072)]), "\(file.lastPathComponent)")
        }
    }
}
