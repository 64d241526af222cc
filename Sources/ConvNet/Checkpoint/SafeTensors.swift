import Foundation

/// One tensor of a safetensors file: element type, shape and little-endian C-order bytes.
public struct SafeTensor: Sendable, Equatable {
    /// The safetensors element types ConvNet knows; floats convert to Float / Double.
    public enum DType: String, Sendable, CaseIterable {
        // The names are the format's own dtype strings (the header's "dtype" values).
        // swift-format-ignore: AlwaysUseLowerCamelCase
        case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .F64, .I64: return 8
            case .F32, .I32: return 4
            case .F16, .BF16, .I16: return 2
            case .I8, .U8, .BOOL: return 1
            }
        }
    }

    /// The element type.
    public var dtype: DType
    /// Dimension sizes (empty for a scalar).
    public var shape: [Int]
    /// The elements, little-endian, C order.
    public var bytes: [UInt8]

    /// A tensor from raw bytes; checks that the length fits the shape.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        guard let count = checkedProduct(shape), let size = checkedProduct([count, dtype.size]), size == bytes.count
        else {
            throw ConvNetError.shapeMismatch(
                "safetensors \(dtype.rawValue) shape \(describe(shape)) does not match \(bytes.count) bytes")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 tensor.
    public init(shape: [Int], float32 values: [Float]) throws {
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        values.withUnsafeBytes { source in bytes.withUnsafeMutableBytes { $0.copyMemory(from: source) } }
        if isBigEndianHost { swapBytes(&bytes, size: 4) }
        try self.init(dtype: .F32, shape: shape, bytes: bytes)
    }

    /// An F64 tensor.
    public init(shape: [Int], float64 values: [Double]) throws {
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        values.withUnsafeBytes { source in bytes.withUnsafeMutableBytes { $0.copyMemory(from: source) } }
        if isBigEndianHost { swapBytes(&bytes, size: 8) }
        try self.init(dtype: .F64, shape: shape, bytes: bytes)
    }

    /// An I64 tensor.
    public init(shape: [Int], int64 values: [Int64]) throws {
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        values.withUnsafeBytes { source in bytes.withUnsafeMutableBytes { $0.copyMemory(from: source) } }
        if isBigEndianHost { swapBytes(&bytes, size: 8) }
        try self.init(dtype: .I64, shape: shape, bytes: bytes)
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The elements as Int64: integer types (I64, I32, I16, I8, U8, BOOL) convert; floating
    /// types throw.
    public func integerValues(name: String = "tensor") throws -> [Int64] {
        let n = count
        return try bytes.withUnsafeBytes { raw -> [Int64] in
            func load<T: FixedWidthInteger>(_ type: T.Type, _ i: Int) -> Int64 {
                Int64(T(littleEndian: raw.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * i, as: T.self)))
            }
            switch dtype {
            case .I64: return (0..<n).map { load(Int64.self, $0) }
            case .I32: return (0..<n).map { load(Int32.self, $0) }
            case .I16: return (0..<n).map { load(Int16.self, $0) }
            case .I8: return (0..<n).map { load(Int8.self, $0) }
            case .U8, .BOOL: return (0..<n).map { load(UInt8.self, $0) }
            default:
                throw ConvNetError.invalidData(
                    "\(name) has dtype \(dtype.rawValue); an integer tensor (I64, I32, …) was expected")
            }
        }
    }

    /// The elements as Double: F64, F32, F16 and BF16 convert; integer types throw.
    public func doubleValues(name: String = "tensor") throws -> [Double] {
        let n = count
        return try bytes.withUnsafeBytes { raw -> [Double] in
            var result = [Double](repeating: 0, count: n)
            switch dtype {
            case .F64:
                for i in 0..<n {
                    result[i] = Double(
                        bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                }
            case .F32:
                for i in 0..<n {
                    result[i] = Double(
                        Float(
                            bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    )
                }
            case .F16:
                for i in 0..<n {
                    result[i] = Double(
                        halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                }
            case .BF16:
                for i in 0..<n {
                    let bits =
                        UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16
                    result[i] = Double(Float(bitPattern: bits))
                }
            default:
                throw ConvNetError.invalidData(
                    "\(name) has dtype \(dtype.rawValue); a floating-point tensor (F32, F64, F16, BF16) was expected")
            }
            return result
        }
    }

    /// The elements as Float (F64 rounds).
    public func floatValues(name: String = "tensor") throws -> [Float] {
        if dtype == .F32 {
            let n = count
            return bytes.withUnsafeBytes { raw in
                (0..<n).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
        }
        return try doubleValues(name: name).map { Float($0) }
    }
}

/// IEEE half → single precision.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        let value = Float(mantissa) * 0x1p-24  // subnormal
        return sign != 0 ? -value : value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
}

/// A safetensors file (the format of Hugging Face's `safetensors` library): an 8-byte
/// little-endian header length n, n bytes of JSON
/// `{"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}`, then the tensor data; offsets are relative to the first
/// byte after the header.
///
/// Reading validates everything before touching data: the header length against the file
/// size, the JSON, each dtype, shape and offset pair (in range, matching the shape, no two
/// tensors overlapping), and reports the file and tensor in the error.
public struct SafeTensorsFile: Sendable, Equatable {
    /// Tensors in file order (the order `encoded()` writes them).
    public private(set) var tensors: [(name: String, tensor: SafeTensor)] = []
    /// The `__metadata__` string map.
    public var metadata: [String: String] = [:]

    /// An empty file.
    public init() {}

    public static func == (a: SafeTensorsFile, b: SafeTensorsFile) -> Bool {
        a.metadata == b.metadata && a.tensors.count == b.tensors.count
            && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
    }

    /// The tensor called `name`.
    public subscript(name: String) -> SafeTensor? {
        tensors.first { $0.name == name }?.tensor
    }

    /// The tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    /// Adds or replaces a tensor.
    public mutating func set(_ name: String, _ tensor: SafeTensor) throws {
        guard name != "__metadata__", !name.isEmpty else {
            throw ConvNetError.invalidArgument("'\(name)' cannot name a safetensors tensor")
        }
        if let index = tensors.firstIndex(where: { $0.name == name }) {
            tensors[index].tensor = tensor
        } else {
            tensors.append((name, tensor))
        }
    }

    /// Parses a whole file's bytes.
    public init(bytes: [UInt8], name: String = "safetensors data") throws {
        func bad(_ what: String) -> ConvNetError { .invalidData("\(name): \(what)") }
        guard bytes.count >= 8 else {
            throw bad("\(bytes.count) bytes is too short for a safetensors file (8-byte header length)")
        }
        var headerLength64: UInt64 = 0
        for i in 0..<8 { headerLength64 |= UInt64(bytes[i]) << UInt64(8 * i) }
        guard headerLength64 <= UInt64(bytes.count - 8), headerLength64 <= 100_000_000 else {
            throw bad("header length \(headerLength64) exceeds the file's \(bytes.count - 8) remaining bytes")
        }
        let headerLength = Int(headerLength64)
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else { throw bad("the header is not a JSON object") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)]))
        } catch {
            throw bad("the header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw bad("the header is not a JSON object") }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var entries: [(name: String, dtype: SafeTensor.DType, shape: [Int], begin: Int, end: Int)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is not a JSON object") }
                for (metaKey, metaValue) in map {
                    guard let text = metaValue as? String else {
                        throw bad("__metadata__ value for '\(metaKey)' is not a string")
                    }
                    metadata[metaKey] = text
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw bad("entry '\(key)' is not a JSON object") }
            guard let dtypeName = info["dtype"] as? String else { throw bad("tensor '\(key)' has no dtype") }
            guard let dtype = SafeTensor.DType(rawValue: dtypeName) else {
                throw bad("tensor '\(key)' has unsupported dtype \(dtypeName)")
            }
            guard let shape = jsonIntegers(info["shape"]) else { throw bad("tensor '\(key)' has no valid shape") }
            guard let offsets = jsonIntegers(info["data_offsets"]), offsets.count == 2 else {
                throw bad("tensor '\(key)' has no valid data_offsets [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataLength else {
                throw bad("tensor '\(key)' data_offsets [\(begin), \(end)] fall outside the \(dataLength) data bytes")
            }
            guard let count = checkedProduct(shape), let size = checkedProduct([count, dtype.size]), size == end - begin
            else {
                throw bad(
                    "tensor '\(key)' of shape \(describe(shape)) \(dtypeName) does not match its \(end - begin) data bytes"
                )
            }
            entries.append((key, dtype, shape, begin, end))
        }
        let byOffset = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where next.begin < previous.end {
            throw bad("tensors '\(previous.name)' and '\(next.name)' overlap")
        }
        for entry in byOffset {
            let data = Array(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
            tensors.append((entry.name, try SafeTensor(dtype: entry.dtype, shape: entry.shape, bytes: data)))
        }
    }

    /// Reads a file.
    public init(contentsOf url: URL) throws {
        try self.init(bytes: try readFileBytes(url), name: url.lastPathComponent)
    }

    /// The file bytes: header (keys in `tensors` order, padded with spaces to a multiple of 8
    /// bytes, as the Python library writes it), then the data of each tensor in order.
    public func encoded() -> [UInt8] {
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, tensor) in tensors {
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ",") + "]"
            parts.append(
                "\(jsonString(name)):{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":\(shape),"
                    + "\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}")
            offset += tensor.bytes.count
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while (header.count + 8) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> UInt64(8 * i))) }
        out += header
        for (_, tensor) in tensors { out += tensor.bytes }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(to url: URL) throws {
        try AtomicFile.write(encoded(), to: url)
    }
}

/// A JSON array of non-negative whole numbers.
func jsonIntegers(_ value: Any?) -> [Int]? {
    guard let array = value as? [Any] else { return nil }
    var result: [Int] = []
    for element in array {
        guard let number = element as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double >= 0, double < 9.0e15, double == double.rounded() else { return nil }
        result.append(Int(double))
    }
    return result
}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let code = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - code.count) + code
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
