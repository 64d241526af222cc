import Foundation
import Testing

@testable import ConvNetKernels

/// CPU detection and what the GEMM derives from it, on recorded /proc/cpuinfo and sysfs
/// contents of the two kinds of machine this project runs on (and on the running one).
@Suite("CPU detection and the GEMM's cache blocking")
struct CPUInfoTests {
    /// The first processor's block of an Intel Sapphire Rapids guest (abridged).
    static let intelCPUInfo = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 143
        model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
        flags\t\t: fpu vme sse sse2 fma avx avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8

        processor\t: 1
        vendor_id\t: GenuineIntel
        model name\t: A second block that must not be read
        flags\t\t: fpu
        """

    /// An AMD Zen 5 guest's block (abridged), with the double spaces some models carry.
    static let amdCPUInfo = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 26
        model\t\t: 2
        model name\t: AMD EPYC  9B45 128-Core Processor
        flags\t\t: fpu fma avx avx2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16
        """

    @Test func intelModelVendorAndFeaturesAreRead() {
        let info = CPUInfo.parse(procCPUInfo: Self.intelCPUInfo)
        #expect(info.model == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz")
        #expect(info.vendor == "GenuineIntel")
        #expect(info.familyAndModel == "family 6 model 143")
        #expect(
            info.summary.hasPrefix("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (GenuineIntel, family 6 model 143);"))
        #expect(
            info.features == [
                "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                "amx_tile", "amx_bf16", "amx_int8",
            ])
        #expect(info.hasAVX512)
    }

    @Test func amdModelIsNormalisedAndHasNoAMX() {
        let info = CPUInfo.parse(procCPUInfo: Self.amdCPUInfo)
        #expect(info.model == "AMD EPYC 9B45 128-Core Processor")
        #expect(info.vendor == "AuthenticAMD")
        #expect(info.familyAndModel == "family 26 model 2")
        #expect(!info.features.contains("amx_tile"))
        #expect(info.features.contains("avx512_bf16"))
    }

    @Test func emptyOrForeignTextGivesUnknown() {
        let info = CPUInfo.parse(procCPUInfo: "")
        #expect(info.model == "unknown")
        #expect(info.features.isEmpty)
        #expect(!info.hasAVX512)
        let arm = CPUInfo.parse(procCPUInfo: "processor\t: 0\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n")
        #expect(arm.features == ["asimd"])
        #expect(arm.vendor == "implementer 0x41")
        #expect(arm.familyAndModel == nil)
    }

    @Test(
        "cache sizes as sysfs writes them",
        arguments: [
            ("48K", 49_152), ("2048K", 2_097_152), ("32M", 33_554_432), ("512", 512), ("1G", 1 << 30),
        ])
    func cacheSizeText(text: String, bytes: Int) {
        #expect(CPUInfo.parseCacheSize(text) == bytes)
    }

    @Test func malformedCacheSizesAreRejected() {
        for text in ["", "K", "-4K", "12Q", "99999999999999999999K", "4.5M"] {
            #expect(CPUInfo.parseCacheSize(text) == nil, "\(text)")
        }
    }

    @Test func sysfsCacheDirectoryIsRead() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cpuinfo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let entries = [
            (1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"), (3, "Unified", "105M"),
        ]
        for (index, (level, type, size)) in entries.enumerated() {
            let folder = directory.appendingPathComponent("index\(index)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(level)\n".write(to: folder.appendingPathComponent("level"), atomically: true, encoding: .utf8)
            try "\(type)\n".write(to: folder.appendingPathComponent("type"), atomically: true, encoding: .utf8)
            try "\(size)\n".write(to: folder.appendingPathComponent("size"), atomically: true, encoding: .utf8)
        }
        #expect(CPUInfo.sysfsCacheSizes(directory: directory.path) == [49_152, 2_097_152, 110_100_480])
        #expect(CPUInfo.sysfsCacheSizes(directory: directory.path + "-absent") == [0, 0, 0])
    }

    @Test func runningCPUIsDescribed() {
        let info = CPUInfo.current
        #expect(!info.model.isEmpty)
        #expect(info.summary.contains(info.model))
        #if os(Linux)
        // Every Linux machine has a /proc/cpuinfo with a model or flags, and sysconf or sysfs knows L2.
        #expect(info.model != "unknown" || !info.features.isEmpty)
        #expect(info.level2CacheBytes > 0)
        #endif
    }

    /// MC follows the core's L2: 3/8 of it for the packed Â block at KC = 512 (2 KiB a row).
    @Test(
        "row tiles per Â block from the L2 size",
        arguments: [(0, 24), (1 << 20, 24), (2 << 20, 48), (256 << 10, 8), (512 << 10, 12), (16 << 20, 96)])
    func rowTilesFollowLevel2(level2: Int, tiles: Int) {
        #expect(FloatGemmBlocking.rowTilesPerBlock(level2CacheBytes: level2) == tiles)
    }

    @Test func planNamesWhatItChose() {
        let plan = FloatGemmPlan.summary
        #expect(plan.contains("KC 512"))
        #expect(plan.contains("MC \(FloatGemmBlocking.rowTilesPerBlock) row tiles"))
    }

    /// The probe's loop computes what its formula says (a ← y + a·x, twelve chains), so the
    /// FLOPs it claims were really done; its speed is not tested here.
    @Test func fmaProbeChainsComputeTheirFormula() {
        let iterations = 1000
        var expected: Float = 0
        for chain in 0..<12 {
            var a = Float(2) + Float(chain)
            for _ in 0..<iterations { a = (Float(2) * 1e-7).addingProduct(a, 0.999_999_9) }
            expected += a
        }
        let wide = FMAProbe.chains(iterations: iterations, seed: 2, vector: SIMD16<Float>.self)
        let narrow = FMAProbe.chains(iterations: iterations, seed: 2, vector: SIMD8<Float>.self)
        #expect(abs(wide - 16 * expected) <= 1e-4 * abs(16 * expected), "\(wide) vs \(16 * expected)")
        #expect(abs(narrow - 8 * expected) <= 1e-4 * abs(8 * expected), "\(narrow) vs \(8 * expected)")
        #expect(FMAProbe.flopsPerIteration(lanes: 8) == 12 * 8 * 2)
    }
}
