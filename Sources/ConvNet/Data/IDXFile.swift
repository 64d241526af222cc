import Foundation

/// The IDX format of MNIST, Fashion-MNIST and the bundled digits: a big-endian header
/// (two zero bytes, a type code, the number of dimensions), one UInt32 per dimension, then the
/// data row-major. ConvNet reads unsigned bytes (type 0x08), the type every such dataset uses.
public struct IDXFile: Sendable, Equatable {
    /// Dimension sizes, e.g. [60000, 28, 28].
    public var shape: [Int]
    /// The bytes, row-major.
    public var bytes: [UInt8]

    /// Parses `data`, checking the magic, the type, every dimension and the length.
    public init(data: Data, name: String = "IDX data") throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else {
            throw ConvNetError.invalidData("\(name): \(bytes.count) bytes is too short for an IDX header")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw ConvNetError.invalidData(
                "\(name): not an IDX file (magic starts \(bytes[0]), \(bytes[1]); expected 0, 0)")
        }
        guard bytes[2] == 0x08 else {
            throw ConvNetError.invalidData(
                "\(name): IDX element type 0x\(String(bytes[2], radix: 16)) is not supported (expected 0x08, unsigned bytes)"
            )
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw ConvNetError.invalidData("\(name): IDX file with 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw ConvNetError.invalidData("\(name): truncated IDX header (\(bytes.count) bytes, need \(headerSize))")
        }
        var shape: [Int] = []
        var count = 1
        for axis in 0..<rank {
            let offset = 4 + 4 * axis
            let size =
                Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, product <= bytes.count else {
                throw ConvNetError.invalidData(
                    "\(name): dimensions \(shape + [size]) need more data than the file's \(bytes.count) bytes")
            }
            shape.append(size)
            count = product
        }
        guard bytes.count == headerSize + count else {
            throw ConvNetError.invalidData(
                "\(name): header says \(count) bytes of data for shape \(describe(shape)), file has \(bytes.count - headerSize)"
            )
        }
        self.shape = shape
        self.bytes = Array(bytes[headerSize...])
    }

    /// Reads and parses a file, raw or gzip-compressed (recognised by its magic, whatever the
    /// file is called).
    public init(contentsOf url: URL) throws {
        let bytes = try readPossiblyGzipped(url)
        try self.init(data: Data(bytes), name: url.lastPathComponent)
    }

    /// Serialises an unsigned-byte IDX file (for tests and exports).
    public static func encode(shape: [Int], bytes: [UInt8]) -> Data {
        var data = Data([0, 0, 0x08, UInt8(shape.count)])
        for size in shape {
            data.append(contentsOf: [
                UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF),
            ])
        }
        data.append(contentsOf: bytes)
        return data
    }
}
