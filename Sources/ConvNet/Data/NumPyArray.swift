import Foundation

/// An array in NumPy's `.npy` format (versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, a
/// version, a header length (2 bytes in 1.0, 4 bytes after), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), }`, then the elements in C
/// order.
///
/// Element types: float32, float64, uint8, int32, int64, little- or big-endian (`<f4`, `>f8`,
/// `|u1`, …); big-endian data is byte-swapped on reading. Fortran-ordered arrays, object arrays
/// and other types are rejected with an error naming the file.
public struct NumPyArray: Sendable, Equatable {
    /// The element types ConvNet reads.
    public enum ElementType: String, Sendable, CaseIterable {
        case float32 = "f4"
        case float64 = "f8"
        case uint8 = "u1"
        case int32 = "i4"
        case int64 = "i8"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8: return 1
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            }
        }
    }

    /// Dimension sizes, outermost first (empty for a 0-d array).
    public var shape: [Int]
    /// The element type.
    public var elementType: ElementType
    /// The elements in C order, little-endian.
    public var bytes: [UInt8]

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// An array from raw little-endian element bytes; checks the length.
    public init(shape: [Int], elementType: ElementType, bytes: [UInt8]) throws {
        guard let count = checkedProduct(shape), let size = checkedProduct([count, elementType.size]),
            size == bytes.count
        else {
            throw ConvNetError.shapeMismatch(
                "npy shape \(describe(shape)) of \(elementType) does not match \(bytes.count) bytes")
        }
        self.shape = shape
        self.elementType = elementType
        self.bytes = bytes
    }

    /// A float32 array (for writing predictions).
    public init(shape: [Int], float32 values: [Float]) throws {
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        values.withUnsafeBytes { source in
            bytes.withUnsafeMutableBytes { $0.copyMemory(from: source) }
        }
        if isBigEndianHost { swapBytes(&bytes, size: 4) }
        try self.init(shape: shape, elementType: .float32, bytes: bytes)
    }

    /// Parses the bytes of a `.npy` file.
    public init(npy data: [UInt8], name: String = "npy data") throws {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard data.count >= 10, Array(data[0..<6]) == magic else {
            throw ConvNetError.invalidData("\(name): not a .npy file (missing the \\x93NUMPY magic)")
        }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = readUInt16LE(data, 8)
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw ConvNetError.invalidData("\(name): truncated .npy header") }
            headerLength = Int(readUInt32LE(data, 8))
            headerStart = 12
        default:
            throw ConvNetError.invalidData(
                "\(name): .npy format version \(major).\(data[7]) is not supported (1 to 3 are)")
        }
        guard headerLength <= data.count - headerStart else {
            throw ConvNetError.invalidData(
                "\(name): .npy header length \(headerLength) runs past the end of the file (\(data.count) bytes)")
        }
        guard
            let header = String(
                bytes: data[headerStart..<(headerStart + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1)
        else {
            throw ConvNetError.invalidData("\(name): .npy header is not text")
        }
        var parser = NumPyHeaderParser(text: header, name: name)
        let dictionary = try parser.parseDictionary()
        guard case .string(let descr)? = dictionary["descr"] else {
            throw ConvNetError.invalidData("\(name): .npy header has no 'descr' string (found \(excerpt(header)))")
        }
        guard case .bool(let fortran)? = dictionary["fortran_order"] else {
            throw ConvNetError.invalidData("\(name): .npy header has no 'fortran_order'")
        }
        guard !fortran else {
            throw ConvNetError.invalidData(
                "\(name): Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        guard case .tuple(let shape)? = dictionary["shape"], shape.allSatisfy({ $0 >= 0 }) else {
            throw ConvNetError.invalidData("\(name): .npy header has no valid 'shape' tuple")
        }
        guard descr.count == 3, let type = ElementType(rawValue: String(descr.dropFirst())),
            let order = descr.first, order == "<" || order == ">" || order == "|" || order == "="
        else {
            throw ConvNetError.invalidData(
                "\(name): .npy dtype '\(descr)' is not supported (use float32, float64, uint8, int32 or int64)")
        }
        let start = headerStart + headerLength
        guard let count = checkedProduct(shape), let size = checkedProduct([count, type.size]) else {
            throw ConvNetError.invalidData("\(name): .npy shape \(describe(shape)) overflows")
        }
        guard data.count - start == size else {
            throw ConvNetError.invalidData(
                "\(name): .npy shape \(describe(shape)) of \(descr) needs \(size) bytes of data, file has \(data.count - start)"
            )
        }
        var bytes = Array(data[start...])
        if order == ">" { swapBytes(&bytes, size: type.size) }
        try self.init(shape: shape, elementType: type, bytes: bytes)
    }

    /// Reads a `.npy` file.
    public init(contentsOf url: URL) throws {
        try self.init(npy: try readFileBytes(url), name: url.lastPathComponent)
    }

    /// The elements converted to Float (integers exactly up to 2²⁴).
    public func floatValues() -> [Float] {
        convertedValues {
            Float($0)
        } _: {
            Float($0)
        } _: {
            Float($0)
        }
    }

    /// The elements converted to Double.
    public func doubleValues() -> [Double] {
        convertedValues {
            Double($0)
        } _: {
            $0
        } _: {
            Double($0)
        }
    }

    /// The elements as integers (labels); throws on a fractional or non-finite float.
    public func integerValues(name: String = "array") throws -> [Int] {
        switch elementType {
        case .float32, .float64:
            let values = doubleValues()
            var result = [Int](repeating: 0, count: values.count)
            for (index, value) in values.enumerated() {
                guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else {
                    throw ConvNetError.invalidLabels("\(name): value \(value) at index \(index) is not a whole number")
                }
                result[index] = Int(value)
            }
            return result
        default:
            return convertedValues {
                Int($0)
            } _: {
                Int($0)
            } _: {
                Int($0)
            }
        }
    }

    private func convertedValues<T>(
        _ fromFloat: (Float) -> T, _ fromDouble: (Double) -> T, _ fromInteger: (Int64) -> T
    ) -> [T] {
        let n = count
        return bytes.withUnsafeBytes { raw -> [T] in
            var result: [T] = []
            result.reserveCapacity(n)
            switch elementType {
            case .uint8: for i in 0..<n { result.append(fromInteger(Int64(raw[i]))) }
            case .int32:
                for i in 0..<n {
                    result.append(
                        fromInteger(
                            Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))))
                }
            case .int64:
                for i in 0..<n {
                    result.append(
                        fromInteger(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))))
                }
            case .float32:
                for i in 0..<n {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    result.append(fromFloat(Float(bitPattern: bits)))
                }
            case .float64:
                for i in 0..<n {
                    let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    result.append(fromDouble(Double(bitPattern: bits)))
                }
            }
            return result
        }
    }

    /// The `.npy` file bytes (format 1.0, or 2.0 when the header needs it), header padded
    /// with spaces to a multiple of 64 bytes as NumPy writes it.
    public func encoded() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let descr = elementType == .uint8 ? "|u1" : "<" + elementType.rawValue
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let prefix = header.utf8.count + 1 + 10 > 65_535 ? 12 : 10
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, prefix == 10 ? 1 : 2, 0]
        let length = header.utf8.count
        out +=
            prefix == 10
            ? [UInt8(length & 0xFF), UInt8(length >> 8)]
            : [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
        out += Array(header.utf8)
        out += bytes
        return out
    }

    /// Writes the `.npy` file atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(encoded(), to: url)
    }
}

/// The few Python literals a `.npy` header holds.
enum NumPyHeaderValue: Equatable {
    case string(String)
    case bool(Bool)
    case tuple([Int])
}

/// Parses `{'key': value, ...}` where values are 'strings', True/False or (int, ...) tuples.
struct NumPyHeaderParser {
    let characters: [Character]
    let name: String
    var index = 0

    init(text: String, name: String) {
        characters = Array(text)
        self.name = name
    }

    func error(_ what: String) -> ConvNetError {
        .invalidData("\(name): bad .npy header at character \(index): \(what) (header: \(excerpt(String(characters))))")
    }

    mutating func skipSpaces() {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
    }

    mutating func expect(_ c: Character) throws {
        skipSpaces()
        guard index < characters.count, characters[index] == c else { throw error("expected '\(c)'") }
        index += 1
    }

    mutating func peek() -> Character? {
        skipSpaces()
        return index < characters.count ? characters[index] : nil
    }

    mutating func parseString() throws -> String {
        skipSpaces()
        guard index < characters.count, characters[index] == "'" || characters[index] == "\"" else {
            throw error("expected a string")
        }
        let quote = characters[index]
        index += 1
        let start = index
        while index < characters.count, characters[index] != quote { index += 1 }
        guard index < characters.count else { throw error("unterminated string") }
        defer { index += 1 }
        return String(characters[start..<index])
    }

    mutating func parseInteger() throws -> Int {
        skipSpaces()
        let start = index
        while index < characters.count, characters[index].isNumber { index += 1 }
        if index < characters.count, characters[index] == "L" { index += 1 }
        guard let value = Int(String(characters[start..<index]).replacingOccurrences(of: "L", with: "")) else {
            throw error("expected a non-negative integer")
        }
        return value
    }

    mutating func parseValue() throws -> NumPyHeaderValue {
        switch peek() {
        case "'", "\"": return .string(try parseString())
        case "(":
            index += 1
            var values: [Int] = []
            while peek() != ")" {
                values.append(try parseInteger())
                if peek() == "," {
                    index += 1
                } else if peek() != ")" {
                    throw error("expected ',' or ')' in the shape")
                }
            }
            index += 1
            return .tuple(values)
        default:
            for (word, value) in [("True", true), ("False", false)] where characters[index...].starts(with: word) {
                index += word.count
                return .bool(value)
            }
            throw error("unexpected value")
        }
    }

    mutating func parseDictionary() throws -> [String: NumPyHeaderValue] {
        try expect("{")
        var result: [String: NumPyHeaderValue] = [:]
        while peek() != "}" {
            guard peek() != nil else { throw error("unterminated dictionary") }
            let key = try parseString()
            try expect(":")
            result[key] = try parseValue()
            if peek() == "," { index += 1 } else if peek() != "}" { throw error("expected ',' or '}'") }
        }
        return result
    }
}

/// The product of non-negative sizes, or nil on overflow.
func checkedProduct(_ sizes: [Int]) -> Int? {
    var product = 1
    for size in sizes {
        guard size >= 0 else { return nil }
        let (value, overflow) = product.multipliedReportingOverflow(by: size)
        if overflow { return nil }
        product = value
    }
    return product
}

let isBigEndianHost = 1.bigEndian == 1

/// Reverses the bytes of every `size`-byte element.
func swapBytes(_ bytes: inout [UInt8], size: Int) {
    guard size > 1 else { return }
    var start = 0
    while start + size <= bytes.count {
        bytes[start..<(start + size)].reverse()
        start += size
    }
}
