/// The protobuf wire format (protobuf.dev/programming-guides/encoding), hand-encoded for the
/// messages ConvNet writes: TensorBoard's `Event` (`TensorBoardEventWriter`) and ONNX's
/// `ModelProto` (`ONNXModel`). No code generation: each writer says which field numbers it uses.
///
/// A message is its fields one after another, each a key (field number << 3 | wire type, a
/// varint) and a value: wire type 0 a varint, 1 eight little-endian bytes, 2 a varint length
/// and that many bytes (strings, bytes, nested messages), 5 four little-endian bytes. Repeated
/// scalar fields are written one key per element (proto2's default, which every parser reads).
struct ProtobufWriter {
    /// The encoded message so far.
    var bytes: [UInt8] = []

    /// An unsigned varint: 7 bits per byte, least significant first, high bit set on all but the last.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A field's key.
    mutating func key(field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// Wire type 1, 8 bytes little-endian.
    mutating func double(field: Int, _ value: Double) {
        key(field: field, wireType: 1)
        var bits = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(bits & 0xFF))
            bits >>= 8
        }
    }

    /// Wire type 5, 4 bytes little-endian.
    mutating func float(field: Int, _ value: Float) {
        key(field: field, wireType: 5)
        var bits = value.bitPattern
        for _ in 0..<4 {
            bytes.append(UInt8(bits & 0xFF))
            bits >>= 8
        }
    }

    /// Wire type 0; negative values take ten bytes (two's complement), as protobuf's int64 does.
    /// Also int32 and enum fields (the same encoding for the values they hold).
    mutating func int64(field: Int, _ value: Int64) {
        key(field: field, wireType: 0)
        varint(UInt64(bitPattern: value))
    }

    /// A repeated int64 field, one key per element.
    mutating func int64s(field: Int, _ values: [Int64]) {
        for value in values { int64(field: field, value) }
    }

    /// Wire type 2, UTF-8.
    mutating func string(field: Int, _ value: String) { message(field: field, Array(value.utf8)) }

    /// Wire type 2, length-delimited bytes (a `bytes` field or an encoded nested message).
    mutating func message(field: Int, _ value: [UInt8]) {
        key(field: field, wireType: 2)
        varint(UInt64(value.count))
        bytes += value
    }

    /// Wire type 2, a nested message written by `body` straight into this one (its length is
    /// known only afterwards, so the bytes are written once and moved once).
    mutating func message(field: Int, _ body: (inout ProtobufWriter) throws -> Void) rethrows {
        var nested = ProtobufWriter()
        try body(&nested)
        message(field: field, nested.bytes)
    }

    /// Wire type 2, Float values as little-endian IEEE 754 bytes (ONNX's `raw_data`).
    mutating func littleEndianFloats(field: Int, _ values: [Float]) {
        key(field: field, wireType: 2)
        varint(UInt64(values.count * 4))
        // `.littleEndian` swaps on a big-endian machine, so memory holds the bytes in file order.
        let words = values.map { $0.bitPattern.littleEndian }
        words.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
}
