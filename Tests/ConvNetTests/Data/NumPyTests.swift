import Foundation
import Testing

@testable import ConvNet

/// `.npy` reading and writing, against files numpy writes and damaged headers.
struct NumPyTests {
    @Test func float32RoundTrip() throws {
        let array = try NumPyArray(shape: [2, 3], float32: [1, -2.5, 3, 0.125, 5, 6])
        let bytes = array.encoded()
        #expect((bytes.count - array.bytes.count) % 64 == 0, "header padded to 64 bytes")
        let read = try NumPyArray(npy: bytes)
        #expect(read == array)
        #expect(read.floatValues() == [1, -2.5, 3, 0.125, 5, 6])
        let scalar = try NumPyArray(npy: try NumPyArray(shape: [], float32: [7]).encoded())
        #expect(scalar.shape == [] && scalar.floatValues() == [7])
    }

    /// Every supported dtype, both byte orders, versions 1 to 3, written by numpy.
    @Test func readsWhatNumpyWrites() throws {
        guard pythonWith(["numpy"]) != nil else {
            print("skipped: python3 with numpy is not available")
            return
        }
        let folder = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = """
            import sys, numpy as np
            from numpy.lib import format as fmt
            out = sys.argv[1]
            base = np.arange(24).reshape(2, 3, 4)
            for dt in ['<f4', '>f4', '<f8', '>f8', '|u1', '<i4', '>i4', '<i8']:
                np.save(out + '/a_%s.npy' % dt.replace('<', 'le').replace('>', 'be').replace('|', ''), (base - (0 if dt == '|u1' else 5)).astype(dt))
            for version in [(1, 0), (2, 0), (3, 0)]:
                with open(out + '/v%d.npy' % version[0], 'wb') as f:
                    fmt.write_array(f, base.astype('<f4'), version=version)
            np.save(out + '/fortran.npy', np.asfortranarray(base.astype('<f4')))
            np.savez(out + '/stored.npz', x_train=base.astype('<f4'), y_train=np.arange(2))
            np.savez_compressed(out + '/deflated.npz', x_train=base.astype('|u1'), y_train=np.arange(2).astype('<i8'))
            """
        let result = try #require(runPython(script, arguments: [folder.path]))
        #expect(result.status == 0, "\(result.output)")
        let expected = (0..<24).map { Double($0) }
        for name in ["lef4", "bef4", "lef8", "bef8", "u1", "lei4", "bei4", "lei8"] {
            let array = try NumPyArray(contentsOf: folder.appendingPathComponent("a_\(name).npy"))
            #expect(array.shape == [2, 3, 4], "\(name)")
            #expect(array.doubleValues() == expected.map { $0 - (name == "u1" ? 0 : 5) }, "\(name)")
        }
        for version in 1...3 {
            #expect(
                try NumPyArray(contentsOf: folder.appendingPathComponent("v\(version).npy")).doubleValues() == expected)
        }
        let fortran = thrownMessage { _ = try NumPyArray(contentsOf: folder.appendingPathComponent("fortran.npy")) }
        #expect(fortran?.contains("Fortran") == true)
        for archive in ["stored", "deflated"] {
            let npz = try NPZArchive(contentsOf: folder.appendingPathComponent("\(archive).npz"))
            #expect(Set(npz.names) == ["x_train", "y_train"])
            #expect(try npz.array("x_train").doubleValues() == expected)
            #expect(try npz.array("y_train").integerValues() == [0, 1])
        }
        // A file numpy can read back.
        let written = folder.appendingPathComponent("written.npy")
        try NumPyArray(shape: [2, 2], float32: [1, 2, 3, 4.5]).write(to: written)
        let check = try #require(
            runPython(
                "import numpy as np, sys; a = np.load(sys.argv[1]); assert a.dtype == np.float32 and a.shape == (2, 2) and a[1, 1] == 4.5, a",
                arguments: [written.path]))
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func hostileHeadersThrow() throws {
        let good = try NumPyArray(shape: [2, 2], float32: [1, 2, 3, 4]).encoded()
        let cases: [(String, [UInt8], String)] = [
            ("wrong magic", [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58] + Array(good.dropFirst(6)), "magic"),
            ("truncated data", Array(good.dropLast(3)), "needs 16 bytes"),
            ("header past end", Array(good.prefix(8)) + [0xFF, 0xFF] + Array(good[10..<40]), "runs past"),
            ("version 9", Array(good.prefix(6)) + [9, 0] + Array(good.dropFirst(8)), "version 9"),
            (
                "overflowing shape",
                header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), "overflows"
            ),
            ("object dtype", header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"), "not supported"),
            (
                "garbage header", header("{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,), }"),
                "bad .npy header"
            ),
            ("no shape", header("{'descr': '<f4', 'fortran_order': False}"), "shape"),
        ]
        for (label, bytes, fragment) in cases {
            let message = thrownMessage { _ = try NumPyArray(npy: bytes, name: "x.npy") }
            #expect(message?.contains(fragment) == true, "\(label): \(message ?? "no error")")
            #expect(message?.contains("x.npy") == true, "\(label) names the file")
        }
    }

    private func header(_ text: String) -> [UInt8] {
        let padded = text + "\n"
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(padded.utf8.count), 0] + Array(padded.utf8)
    }

    @Test func nhwcConvertsToNCHW() throws {
        // One 2×2 image with 3 channels, channels last: pixel (y, x) channel c = 100c + 10y + x.
        var values: [Float] = []
        for y in 0..<2 { for x in 0..<2 { for c in 0..<3 { values.append(Float(100 * c + 10 * y + x)) } } }
        let nchw = try ImageArray(shape: [1, 2, 2, 3], storage: .float32(values)).nhwcToNCHW()
        #expect(nchw.shape == [1, 3, 2, 2])
        #expect(nchw.floatValues() == [0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211])
    }
}
