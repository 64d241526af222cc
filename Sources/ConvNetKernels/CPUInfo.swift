#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the kernels know about the CPU they run on, read once at start-up: the model name,
/// the vector features that matter to them and the cache sizes their blocking is derived
/// from (`FloatGemmBlocking`). Nothing here is tuned to one machine: on Linux the model and
/// features come from /proc/cpuinfo and the caches from sysconf (glibc reads them with
/// cpuid), falling back to /sys/devices/system/cpu/cpu0/cache; on Darwin from sysctl.
public struct CPUInfo: Sendable, Equatable {
    /// The model name as the CPU reports it ("AMD EPYC 9B45", "Intel(R) Xeon(R) Platinum 8481C").
    public var model: String
    /// "AuthenticAMD", "GenuineIntel", "Apple", … ("unknown" when not reported).
    public var vendor: String
    /// The instruction-set features the kernels care about, in a fixed order (`knownFeatures`).
    public var features: [String]
    /// Level-1 data cache, level-2 and level-3 cache sizes in bytes (0 when unknown). L1 and L2
    /// are per core on every x86 CPU of the last decade; L3 is shared.
    public var level1DataCacheBytes: Int
    public var level2CacheBytes: Int
    public var level3CacheBytes: Int
    /// x86 "family F model M" in decimal, as /proc/cpuinfo gives them (nil elsewhere): what
    /// tells one generation from the next where the model name does not ("AMD EPYC" under some
    /// hypervisors; family 25 is Zen 3/Zen 4, 26 Zen 5, Intel's 6 with model 143 Sapphire Rapids).
    public var familyAndModel: String?

    /// The features reported, in this order, when present (Linux flag names).
    public static let knownFeatures = [
        "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
        "amx_tile", "amx_bf16", "amx_int8", "neon", "asimd",
    ]

    public init(
        model: String, vendor: String, features: [String], level1DataCacheBytes: Int, level2CacheBytes: Int,
        level3CacheBytes: Int, familyAndModel: String? = nil
    ) {
        self.model = model
        self.vendor = vendor
        self.features = features
        self.level1DataCacheBytes = level1DataCacheBytes
        self.level2CacheBytes = level2CacheBytes
        self.level3CacheBytes = level3CacheBytes
        self.familyAndModel = familyAndModel
    }

    /// The CPU this process runs on, detected at first use.
    public static let current: CPUInfo = detect()

    /// Whether the CPU has AVX-512 Foundation (32 vector registers of 16 floats).
    public var hasAVX512: Bool { features.contains("avx512f") }

    /// One line for people: model, features and caches.
    public var summary: String {
        let caches = [
            ("L1d", level1DataCacheBytes), ("L2", level2CacheBytes), ("L3", level3CacheBytes),
        ].filter { $0.1 > 0 }.map { "\($0.0) \(Self.describeBytes($0.1))" }
        return
            "\(model) (\(vendor)\(familyAndModel.map { ", \($0)" } ?? "")); features: \(features.isEmpty ? "none known" : features.joined(separator: " "))"
            + "; caches: \(caches.isEmpty ? "unknown" : caches.joined(separator: ", "))"
    }

    static func describeBytes(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) B"
    }

    /// Reads the running CPU.
    public static func detect() -> CPUInfo {
        #if os(Linux)
        let text = readTextFile("/proc/cpuinfo") ?? ""
        var info = parse(procCPUInfo: text)
        let fromSysconf = [
            Int(sysconf(Int32(_SC_LEVEL1_DCACHE_SIZE))), Int(sysconf(Int32(_SC_LEVEL2_CACHE_SIZE))),
            Int(sysconf(Int32(_SC_LEVEL3_CACHE_SIZE))),
        ]
        let fromSysfs = sysfsCacheSizes(directory: "/sys/devices/system/cpu/cpu0/cache")
        // The kernel's view (sysfs) first: glibc's sysconf derives L3 on some AMD guests from
        // the threads sharing it (320 MiB for a 32 MiB L3 measured under KVM).
        func pick(_ index: Int) -> Int { fromSysfs[index] > 0 ? fromSysfs[index] : fromSysconf[index] }
        info.level1DataCacheBytes = pick(0)
        info.level2CacheBytes = pick(1)
        info.level3CacheBytes = pick(2)
        return info
        #elseif canImport(Darwin)
        func string(_ name: String) -> String? {
            var size = 0
            guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
            var bytes = [CChar](repeating: 0, count: size)
            guard sysctlbyname(name, &bytes, &size, nil, 0) == 0 else { return nil }
            return String(cString: bytes)
        }
        func integer(_ name: String) -> Int {
            var value: Int64 = 0
            var size = MemoryLayout<Int64>.size
            return sysctlbyname(name, &value, &size, nil, 0) == 0 ? Int(value) : 0
        }
        let model = string("machdep.cpu.brand_string") ?? "unknown"
        let reported = (string("machdep.cpu.features") ?? "") + " " + (string("machdep.cpu.leaf7_features") ?? "")
        var flags = Set(reported.lowercased().split(separator: " ").map(String.init))
        #if arch(arm64)
        flags.insert("neon")
        #endif
        return CPUInfo(
            model: model, vendor: string("machdep.cpu.vendor") ?? (model.hasPrefix("Apple") ? "Apple" : "unknown"),
            features: knownFeatures.filter { flags.contains($0) },
            level1DataCacheBytes: integer("hw.l1dcachesize"), level2CacheBytes: integer("hw.l2cachesize"),
            level3CacheBytes: integer("hw.l3cachesize"))
        #else
        return CPUInfo(
            model: "unknown", vendor: "unknown", features: [], level1DataCacheBytes: 0, level2CacheBytes: 0,
            level3CacheBytes: 0)
        #endif
    }

    /// Model, vendor and features from the text of Linux's /proc/cpuinfo (the first processor's
    /// block; x86 names them "model name", "vendor_id", "flags", arm64 "CPU implementer",
    /// "Features"). Cache sizes are left 0 (they come from sysconf or sysfs).
    public static func parse(procCPUInfo text: String) -> CPUInfo {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if trimmed(line).isEmpty, !fields.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = trimmed(line[..<colon])
            let value = trimmed(line[line.index(after: colon)...])
            if fields[key] == nil { fields[key] = value }
        }
        let flags = Set((fields["flags"] ?? fields["Features"] ?? "").split(separator: " ").map(String.init))
        let model = fields["model name"] ?? fields["Model"] ?? fields["Processor"] ?? "unknown"
        let vendor = fields["vendor_id"] ?? fields["CPU implementer"].map { "implementer \($0)" } ?? "unknown"
        var familyAndModel: String?
        if let family = fields["cpu family"].flatMap({ Int($0) }), let number = fields["model"].flatMap({ Int($0) }) {
            familyAndModel = "family \(family) model \(number)"
        }
        return CPUInfo(
            model: model.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "),
            vendor: vendor, features: knownFeatures.filter { flags.contains($0) }, level1DataCacheBytes: 0,
            level2CacheBytes: 0, level3CacheBytes: 0, familyAndModel: familyAndModel)
    }

    /// [L1d, L2, L3] sizes in bytes from a sysfs cache directory (index0, index1, … each with
    /// `level`, `type` and `size` such as "48K"); 0 where absent.
    public static func sysfsCacheSizes(directory: String) -> [Int] {
        var sizes = [0, 0, 0]
        for index in 0..<8 {
            let base = "\(directory)/index\(index)/"
            func read(_ name: String) -> String? {
                readTextFile(base + name).map { trimmed(Substring($0)) }
            }
            guard let levelText = read("level"), let level = Int(levelText), (1...3).contains(level),
                let type = read("type"), type != "Instruction", let sizeText = read("size"),
                let bytes = parseCacheSize(sizeText)
            else { continue }
            sizes[level - 1] = bytes
        }
        return sizes
    }

    /// "48K" → 49152, "2048K" → 2 MiB, "32M" → 32 MiB, "512" → 512; nil when malformed.
    public static func parseCacheSize(_ text: String) -> Int? {
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var multiplier = 1
        if let last = text.last, let scale = multipliers[Character(last.uppercased())] {
            multiplier = scale
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0, value <= (1 << 40) / multiplier else { return nil }
        return value * multiplier
    }
}

/// `text` without leading and trailing spaces, tabs and line ends.
private func trimmed(_ text: Substring) -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(text[first...last])
}

/// The contents of a small text file (at most 1 MiB: /proc and /sys entries), nil when unreadable.
private func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
