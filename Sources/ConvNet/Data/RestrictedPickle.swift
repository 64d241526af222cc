/// A value decoded by `RestrictedPickle`.
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    /// Python 2 `str` (read as bytes, like `encoding='bytes'`) and Python 3 `bytes`.
    case bytes([UInt8])
    case string(String)
    case list([PickleValue])
    case tuple([PickleValue])
    /// Key–value pairs in insertion order.
    case dict([(PickleValue, PickleValue)])
    /// A NumPy array: dtype descriptor (`u1`, `<f4`, …), shape, raw C-order bytes.
    case ndarray(dtype: String, shape: [Int], bytes: [UInt8])

    public static func == (a: PickleValue, b: PickleValue) -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)): return x == y
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.ndarray(let d1, let s1, let b1), .ndarray(let d2, let s2, let b2)):
            return d1 == d2 && s1 == s2 && b1 == b2
        default: return false
        }
    }

    /// The entry of a dict whose key is `key` as a string or as bytes.
    public subscript(key: String) -> PickleValue? {
        guard case .dict(let pairs) = self else { return nil }
        for (k, v) in pairs {
            if case .string(let s) = k, s == key { return v }
            if case .bytes(let b) = k, b == Array(key.utf8) { return v }
        }
        return nil
    }
}

/// A pickle reader that never executes anything: it understands the opcodes that pickled
/// dicts, lists, strings, numbers and NumPy arrays use (protocols 0–5 as written by Python 2
/// cPickle and Python 3), and recognises by name, without importing or calling anything, only
/// these globals:
///
/// - `numpy.core.multiarray._reconstruct` / `numpy._core.multiarray._reconstruct` with
///   `numpy.ndarray`, then BUILD with (version, shape, dtype, fortran, data): a NumPy array;
/// - `numpy.dtype` with BUILD of its state: a dtype;
/// - `numpy.core.numeric._frombuffer` / `numpy._core.numeric._frombuffer`: a protocol-5 array;
/// - `_codecs.encode(text, 'latin1')`: bytes (how Python 3 writes bytes at protocol 2).
///
/// Any other GLOBAL / STACK_GLOBAL / REDUCE target, and INST, OBJ, NEWOBJ, EXT, PERSID, is
/// rejected with an error naming the opcode, its offset and the global: a pickle is a
/// program, and loading an untrusted one with Python's `pickle` runs arbitrary code.
public enum RestrictedPickle {
    /// Decodes `bytes`; `name` names the file in errors.
    public static func load(_ bytes: [UInt8], name: String = "pickle") throws -> PickleValue {
        var machine = Machine(data: bytes, name: name)
        defer { machine.tearDown() }
        return try machine.run()
    }

    // Containers are reference boxes, registered with the machine, so that `tearDown` can
    // empty them one by one: freeing a deeply nested structure never recurses.
    private final class ListBox {
        var items: [Item] = []
        init(_ items: [Item] = []) { self.items = items }
    }
    private final class DictBox { var pairs: [(Item, Item)] = [] }
    private final class TupleBox {
        var items: [Item]
        init(_ items: [Item]) { self.items = items }
    }
    private final class ArrayBox {
        var dtype = ""
        var shape: [Int] = []
        var bytes: [UInt8] = []
        var built = false
    }
    private final class DTypeBox {
        var descr: String
        var order = "|"
        init(_ d: String) { descr = d }
    }

    private enum Item {
        case value(PickleValue)
        case list(ListBox)
        case dict(DictBox)
        case tuple(TupleBox)
        case global(String)
        case array(ArrayBox)
        case dtype(DTypeBox)
        case mark
    }

    private struct Machine {
        let data: [UInt8]
        let name: String
        var position = 0
        var stack: [Item] = []
        var memo: [Int: Item] = [:]
        var opcodeOffset = 0
        var lists: [ListBox] = [], dicts: [DictBox] = [], tuples: [TupleBox] = []
        let limits = ReaderLimits.current

        init(data: [UInt8], name: String) {
            self.data = data
            self.name = name
        }

        /// Empties every container built, so that nothing is freed recursively.
        mutating func tearDown() {
            stack.removeAll()
            memo.removeAll()
            for box in lists { box.items.removeAll() }
            for box in dicts { box.pairs.removeAll() }
            for box in tuples { box.items.removeAll() }
        }

        mutating func newList(_ items: [Item] = []) -> Item {
            let box = ListBox(items)
            lists.append(box)
            return .list(box)
        }

        mutating func newDict() -> DictBox {
            let box = DictBox()
            dicts.append(box)
            return box
        }

        mutating func newTuple(_ items: [Item]) -> Item {
            let box = TupleBox(items)
            tuples.append(box)
            return .tuple(box)
        }

        func fail(_ what: String) -> ConvNetError {
            .invalidData("\(name): pickle \(what) at byte \(opcodeOffset)")
        }

        mutating func read(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= data.count - position else {
                throw fail("truncated (needs \(n) more bytes, \(data.count - position) left)")
            }
            defer { position += n }
            return data[position..<(position + n)]
        }

        mutating func byte() throws -> Int { Int(try read(1).first!) }

        mutating func littleEndian(_ n: Int) throws -> UInt64 {
            var value: UInt64 = 0
            for (i, b) in try read(n).enumerated() { value |= UInt64(b) << UInt64(8 * i) }
            return value
        }

        mutating func length(_ n: Int) throws -> Int {
            let value = try littleEndian(n)
            guard value <= UInt64(data.count - position) else {
                throw fail("length \(value) runs past the end of the data")
            }
            return Int(value)
        }

        mutating func line() throws -> String { String(decoding: try lineBytes(), as: UTF8.self) }

        /// The bytes up to the next newline (consumed, not returned): a protocol-0 argument.
        mutating func lineBytes() throws -> ArraySlice<UInt8> {
            guard let end = data[position...].firstIndex(of: 0x0A) else { throw fail("truncated text argument") }
            defer { position = end + 1 }
            return data[position..<end]
        }

        /// STRING's argument, a Python 2 `repr` of a str: quoted with ' or ", with the escapes
        /// of `codecs.escape_decode` (\\ \' \" \a \b \f \n \r \t \v, \xhh, 1–3 octal digits;
        /// any other backslash stays as it is).
        func quotedString(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
            // The argument as text, for a message only (it can be a whole pickled array).
            func text() -> String { excerpt(String(decoding: bytes.prefix(256), as: UTF8.self)) }
            guard bytes.count >= 2, let quote = bytes.first, quote == 0x27 || quote == 0x22, bytes.last == quote
            else { throw fail("STRING argument '\(text())' is not quoted") }
            let body = bytes.dropFirst().dropLast()
            var result: [UInt8] = []
            result.reserveCapacity(body.count)
            var index = body.startIndex
            while index < body.endIndex {
                let byte = body[index]
                index += 1
                guard byte == 0x5C, index < body.endIndex else {
                    result.append(byte)
                    continue
                }
                let escape = body[index]
                index += 1
                switch escape {
                case 0x5C, 0x27, 0x22: result.append(escape)
                case 0x61: result.append(0x07)  // \a
                case 0x62: result.append(0x08)  // \b
                case 0x66: result.append(0x0C)  // \f
                case 0x6E: result.append(0x0A)  // \n
                case 0x72: result.append(0x0D)  // \r
                case 0x74: result.append(0x09)  // \t
                case 0x76: result.append(0x0B)  // \v
                case 0x78:  // \xhh
                    guard index + 2 <= body.endIndex, let value = Self.hexValue(body[index..<(index + 2)]) else {
                        throw fail("STRING argument '\(text())' has a bad \\x escape")
                    }
                    result.append(UInt8(value))
                    index += 2
                case 0x30...0x37:  // \o, \oo, \ooo
                    var value = Int(escape - 0x30)
                    var digits = 1
                    while digits < 3, index < body.endIndex, (0x30...0x37).contains(body[index]) {
                        value = value * 8 + Int(body[index] - 0x30)
                        index += 1
                        digits += 1
                    }
                    result.append(UInt8(truncatingIfNeeded: value))
                default: result += [byte, escape]
                }
            }
            return result
        }

        /// The number written by `digits` (ASCII hex digits only, at most 8), nil otherwise.
        static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt32? {
            var value: UInt32 = 0
            for byte in digits {
                switch byte {
                case 0x30...0x39: value = value << 4 | UInt32(byte - 0x30)
                case 0x61...0x66: value = value << 4 | UInt32(byte - 0x61 + 10)
                case 0x41...0x46: value = value << 4 | UInt32(byte - 0x41 + 10)
                default: return nil
                }
            }
            return value
        }

        /// UNICODE's argument in Python's raw-unicode-escape: each byte is the code point of
        /// that value (Latin-1), except \uXXXX and \UXXXXXXXX after an odd run of backslashes
        /// (the last backslash of the run starts the escape). A bad escape stays as it is.
        func rawUnicodeEscapeDecoded(_ bytes: ArraySlice<UInt8>) -> String {
            var scalars = String.UnicodeScalarView()
            var index = bytes.startIndex
            var backslashes = 0
            while index < bytes.endIndex {
                let byte = bytes[index]
                if byte == 0x5C {
                    backslashes += 1
                } else {
                    if (byte == 0x75 || byte == 0x55) && backslashes % 2 == 1 {
                        let digits = byte == 0x75 ? 4 : 8
                        let end = index + 1 + digits
                        if end <= bytes.endIndex,
                            let value = Self.hexValue(bytes[(index + 1)..<end]),
                            let scalar = Unicode.Scalar(value)
                        {
                            scalars.removeLast()  // the backslash that started the escape
                            scalars.append(scalar)
                            index = end
                            backslashes = 0
                            continue
                        }
                    }
                    backslashes = 0
                }
                scalars.append(Unicode.Scalar(byte))
                index += 1
            }
            return String(scalars)
        }

        mutating func pop() throws -> Item {
            guard let item = stack.popLast() else { throw fail("stack underflow") }
            if case .mark = item { throw fail("unexpected MARK") }
            return item
        }

        mutating func popMark() throws -> [Item] {
            guard let index = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } })
            else {
                throw fail("MARK missing")
            }
            let items = Array(stack[(index + 1)...])
            stack.removeSubrange(index...)
            return items
        }

        mutating func push(_ value: PickleValue) { stack.append(.value(value)) }

        mutating func run() throws -> PickleValue {
            while true {
                opcodeOffset = position
                let op = try byte()
                switch op {
                case 0x80: _ = try byte()  // PROTO
                case 0x95: _ = try read(8)  // FRAME: framing only
                case 0x2E:  // STOP
                    var budget = limits.maximumPickleValues
                    return try freeze(try pop(), depth: 0, budget: &budget)
                case 0x28: stack.append(.mark)  // MARK
                case 0x30: _ = try pop()  // POP
                case 0x31: _ = try popMark()  // POP_MARK
                case 0x32:  // DUP
                    guard let top = stack.last else { throw fail("stack underflow") }
                    stack.append(top)
                case 0x4E: push(.none)  // NONE
                case 0x88: push(.bool(true))
                case 0x89: push(.bool(false))
                case 0x4B: push(.int(try byte()))  // BININT1
                case 0x4D: push(.int(Int(try littleEndian(2))))  // BININT2
                case 0x4A: push(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
                case 0x8A:  // LONG1
                    let n = try byte()
                    guard n <= 8 else { throw fail("LONG1 of \(n) bytes is too large") }
                    let bytes = try read(n)
                    var value: UInt64 = 0
                    for (i, b) in bytes.enumerated() { value |= UInt64(b) << UInt64(8 * i) }
                    if n > 0 && n < 8 && bytes.last! & 0x80 != 0 { value |= ~0 << UInt64(8 * n) }
                    push(.int(Int(Int64(bitPattern: value))))
                case 0x49:  // INT (text)
                    let text = try line()
                    if text == "01" {
                        push(.bool(true))
                    } else if text == "00" {
                        push(.bool(false))
                    } else {
                        guard let value = Int(text) else { throw fail("bad INT '\(excerpt(text))'") }
                        push(.int(value))
                    }
                case 0x47: push(.float(Double(bitPattern: try littleEndian(8).byteSwapped)))  // BINFLOAT (big-endian)
                case 0x46:  // FLOAT (text, protocol 0: Python's repr)
                    let text = try line()
                    guard let value = Double(text) else { throw fail("bad FLOAT '\(excerpt(text))'") }
                    push(.float(value))
                case 0x4C:  // LONG (text, protocol 0: digits and an L)
                    let text = try line()
                    let digits = text.hasSuffix("L") ? text.dropLast() : Substring(text)
                    guard let value = Int(digits) else {
                        throw fail("LONG '\(excerpt(text))' is not an integer of at most 64 bits")
                    }
                    push(.int(value))
                case 0x53: push(.bytes(try quotedString(try lineBytes())))  // STRING (protocol 0: Python 2 str)
                case 0x56: push(.string(rawUnicodeEscapeDecoded(try lineBytes())))  // UNICODE (protocol 0)
                case 0x55: push(.bytes(Array(try read(try length(1)))))  // SHORT_BINSTRING
                case 0x54: push(.bytes(Array(try read(try length(4)))))  // BINSTRING
                case 0x43: push(.bytes(Array(try read(try length(1)))))  // SHORT_BINBYTES
                case 0x42: push(.bytes(Array(try read(try length(4)))))  // BINBYTES
                case 0x8E: push(.bytes(Array(try read(try length(8)))))  // BINBYTES8
                case 0x96: push(.bytes(Array(try read(try length(8)))))  // BYTEARRAY8
                case 0x8C: push(.string(String(decoding: try read(try length(1)), as: UTF8.self)))  // SHORT_BINUNICODE
                case 0x58: push(.string(String(decoding: try read(try length(4)), as: UTF8.self)))  // BINUNICODE
                case 0x8D: push(.string(String(decoding: try read(try length(8)), as: UTF8.self)))  // BINUNICODE8
                case 0x5D: stack.append(newList())  // EMPTY_LIST
                case 0x7D: stack.append(.dict(newDict()))  // EMPTY_DICT
                case 0x29: stack.append(newTuple([]))  // EMPTY_TUPLE
                case 0x6C: stack.append(newList(try popMark()))  // LIST
                case 0x74: stack.append(newTuple(try popMark()))  // TUPLE
                case 0x85: stack.append(newTuple([try pop()]))  // TUPLE1
                case 0x86:  // TUPLE2
                    let b = try pop()
                    let a = try pop()
                    stack.append(newTuple([a, b]))
                case 0x87:  // TUPLE3
                    let c = try pop()
                    let b = try pop()
                    let a = try pop()
                    stack.append(newTuple([a, b, c]))
                case 0x64:  // DICT
                    let items = try popMark()
                    let box = newDict()
                    try addPairs(items, to: box)
                    stack.append(.dict(box))
                case 0x61:  // APPEND
                    let item = try pop()
                    try list(on: stack.last).items.append(item)
                case 0x65:  // APPENDS
                    let items = try popMark()
                    try list(on: stack.last).items.append(contentsOf: items)
                case 0x73:  // SETITEM
                    let value = try pop()
                    let key = try pop()
                    try addPairs([key, value], to: dictionary(on: stack.last))
                case 0x75:  // SETITEMS
                    let items = try popMark()
                    try addPairs(items, to: dictionary(on: stack.last))
                case 0x71: try memoize(Int(try littleEndian(1)))  // BINPUT
                case 0x72: try memoize(Int(try littleEndian(4)))  // LONG_BINPUT
                case 0x94: try memoize(memo.count)  // MEMOIZE
                case 0x70:  // PUT
                    guard let index = Int(try line()) else { throw fail("bad PUT index") }
                    try memoize(index)
                case 0x68: try recall(Int(try littleEndian(1)))  // BINGET
                case 0x6A: try recall(Int(try littleEndian(4)))  // LONG_BINGET
                case 0x67:  // GET
                    guard let index = Int(try line()) else { throw fail("bad GET index") }
                    try recall(index)
                case 0x63:  // GLOBAL
                    let module = try line()
                    let attribute = try line()
                    stack.append(.global(try allowedGlobal(module, attribute)))
                case 0x93:  // STACK_GLOBAL
                    let attribute = try pop()
                    let module = try pop()
                    guard case .value(.string(let a)) = attribute, case .value(.string(let m)) = module else {
                        throw fail("STACK_GLOBAL needs two strings")
                    }
                    stack.append(.global(try allowedGlobal(m, a)))
                case 0x52: try reduce()  // REDUCE
                case 0x62: try build()  // BUILD
                case 0x69: throw fail("opcode INST (creates an object by calling a class) is not allowed")
                case 0x6F: throw fail("opcode OBJ (creates an object by calling a class) is not allowed")
                case 0x81, 0x92: throw fail("opcode NEWOBJ (creates an object by calling a class) is not allowed")
                case 0x82, 0x83, 0x84: throw fail("opcode EXT (extension registry lookup) is not allowed")
                case 0x50, 0x51: throw fail("opcode PERSID (persistent id) is not allowed")
                default: throw fail("opcode 0x\(String(op, radix: 16)) is not supported by the restricted reader")
                }
                guard stack.count <= 100_000, memo.count <= 1_000_000,
                    lists.count + dicts.count + tuples.count <= limits.maximumPickleValues
                else {
                    throw fail(
                        "exceeds the reader's limits (stack 100,000 items, memo 1,000,000 entries, \(limits.maximumPickleValues) containers)"
                    )
                }
            }
        }

        func list(on item: Item?) throws -> ListBox {
            guard case .list(let box)? = item else { throw fail("APPEND(S) on something that is not a list") }
            return box
        }

        func dictionary(on item: Item?) throws -> DictBox {
            guard case .dict(let box)? = item else { throw fail("SETITEM(S) on something that is not a dict") }
            return box
        }

        func addPairs(_ items: [Item], to box: DictBox) throws {
            guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
            for i in stride(from: 0, to: items.count, by: 2) { box.pairs.append((items[i], items[i + 1])) }
        }

        mutating func memoize(_ index: Int) throws {
            guard let top = stack.last else { throw fail("memo PUT on an empty stack") }
            if case .mark = top { throw fail("memo PUT of a MARK") }
            memo[index] = top
        }

        mutating func recall(_ index: Int) throws {
            guard let item = memo[index] else { throw fail("memo GET of unknown index \(index)") }
            stack.append(item)
        }

        func allowedGlobal(_ module: String, _ attribute: String) throws -> String {
            let name = "\(module).\(attribute)"
            let allowed: Set<String> = [
                "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray",
                "numpy.dtype",
                "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer", "_codecs.encode",
            ]
            guard allowed.contains(name) else {
                throw fail(
                    "global '\(excerpt(name))' is not allowed (the restricted reader only rebuilds NumPy arrays; it never imports or calls anything)"
                )
            }
            return name
        }

        mutating func reduce() throws {
            let arguments = try pop()
            let callable = try pop()
            guard case .global(let name) = callable, case .tuple(let argumentBox) = arguments else {
                throw fail("REDUCE of something other than an allowed global")
            }
            let args = argumentBox.items
            switch name {
            case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
                guard let first = args.first, case .global("numpy.ndarray") = first else {
                    throw fail("_reconstruct may only build numpy.ndarray")
                }
                stack.append(.array(ArrayBox()))
            case "numpy.dtype":
                guard let first = args.first, case .value(.string(let descr)) = try normalized(first) else {
                    throw fail("numpy.dtype needs a type string")
                }
                stack.append(.dtype(DTypeBox(descr)))
            case "_codecs.encode":
                guard args.count == 2, case .value(.string(let text)) = args[0],
                    case .value(.string(let encoding)) = args[1],
                    encoding == "latin1" || encoding == "latin-1"
                else { throw fail("_codecs.encode is only allowed as encode(text, 'latin1')") }
                var bytes: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value < 256 else { throw fail("_codecs.encode text is not latin-1") }
                    bytes.append(UInt8(scalar.value))
                }
                push(.bytes(bytes))
            case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
                guard args.count == 4, case .value(.bytes(let bytes)) = args[0], case .dtype(let dtype) = args[1],
                    case .value(.string(let order)) = args[3]
                else { throw fail("_frombuffer needs (buffer, dtype, shape, order)") }
                let shape = try integers(args[2], what: "shape")
                guard order == "C" else { throw fail("Fortran-ordered arrays are not supported") }
                let box = ArrayBox()
                box.dtype = dtype.order + dtype.descr
                box.shape = shape
                box.bytes = bytes
                box.built = true
                try checkSize(box)
                stack.append(.array(box))
            default:
                throw fail("REDUCE of '\(excerpt(name))' is not allowed")
            }
        }

        /// Bytes used as strings (Python 2 pickles) become strings.
        func normalized(_ item: Item) throws -> Item {
            if case .value(.bytes(let b)) = item { return .value(.string(String(decoding: b, as: UTF8.self))) }
            return item
        }

        func integers(_ item: Item, what: String) throws -> [Int] {
            guard case .tuple(let box) = item else { throw fail("\(what) is not a tuple") }
            return try box.items.map {
                guard case .value(.int(let v)) = $0, v >= 0 else {
                    throw fail("\(what) holds a non-integer or negative value")
                }
                return v
            }
        }

        func checkSize(_ box: ArrayBox) throws {
            let itemSize = Int(box.dtype.filter(\.isNumber)) ?? 0
            guard itemSize > 0, let count = checkedProduct(box.shape), let size = checkedProduct([count, itemSize]),
                size == box.bytes.count
            else {
                throw fail(
                    "array of dtype \(excerpt(box.dtype)) and shape \(describe(box.shape)) does not match its \(box.bytes.count) data bytes"
                )
            }
        }

        mutating func build() throws {
            let state = try pop()
            guard let target = stack.last else { throw fail("BUILD on an empty stack") }
            switch target {
            case .array(let box):
                // (version, shape, dtype, is_fortran, data)
                guard case .tuple(let stateBox) = state, case let parts = stateBox.items, parts.count == 5 else {
                    throw fail("ndarray state is not (version, shape, dtype, fortran, data)")
                }
                box.shape = try integers(parts[1], what: "ndarray shape")
                guard case .dtype(let dtype) = parts[2] else { throw fail("ndarray state has no dtype") }
                guard case .value(.bool(let fortran)) = parts[3] else { throw fail("ndarray state has no order flag") }
                guard !fortran || box.shape.count <= 1 else { throw fail("Fortran-ordered arrays are not supported") }
                switch parts[4] {
                case .value(.bytes(let bytes)): box.bytes = bytes
                case .value(.string(let text)):  // Python 2 str decoded as text by some writers
                    box.bytes = text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
                default: throw fail("ndarray data is not a byte string (object arrays are not supported)")
                }
                box.dtype = dtype.order + dtype.descr
                box.built = true
                try checkSize(box)
            case .dtype(let box):
                // (version, byte order, subarray, names, fields, elsize, alignment, flags)
                guard case .tuple(let stateBox) = state, case let parts = stateBox.items, parts.count >= 2,
                    case .value(.string(let order)) = try normalized(parts[1])
                else {
                    throw fail("dtype state is not a tuple with a byte order")
                }
                box.order = order
            default:
                throw fail("BUILD is only allowed on NumPy arrays and dtypes")
            }
        }

        /// Turns the mutable working items into plain values.
        /// Every value built counts against `budget` (a memoised object referenced twice counts
        /// twice), so a "billion laughs" pickle stops at ReaderLimits' value limit.
        func freeze(_ item: Item, depth: Int, budget: inout Int) throws -> PickleValue {
            guard depth < limits.maximumPickleDepth else {
                throw fail("nests lists, tuples and dicts deeper than the limit of \(limits.maximumPickleDepth)")
            }
            budget -= 1
            guard budget >= 0 else {
                throw fail(
                    "expands to more than the limit of \(limits.maximumPickleValues) values (shared references count each time)"
                )
            }
            switch item {
            case .value(let v): return v
            case .list(let box): return .list(try box.items.map { try freeze($0, depth: depth + 1, budget: &budget) })
            case .tuple(let box): return .tuple(try box.items.map { try freeze($0, depth: depth + 1, budget: &budget) })
            case .dict(let box):
                return .dict(
                    try box.pairs.map {
                        (
                            try freeze($0.0, depth: depth + 1, budget: &budget),
                            try freeze($0.1, depth: depth + 1, budget: &budget)
                        )
                    })
            case .array(let box):
                guard box.built else { throw fail("ndarray was never given its state") }
                return .ndarray(dtype: box.dtype, shape: box.shape, bytes: box.bytes)
            case .dtype(let box): return .string(box.order + box.descr)
            case .global(let name): throw fail("a bare global '\(excerpt(name))' is not a value")
            case .mark: throw fail("unexpected MARK")
            }
        }
    }
}
