import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if os(Linux)
private let resourceUsageOfThisProcess = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
private let resourceUsageOfThisProcess = RUSAGE_SELF
#endif

/// Monotonic time, peak resident memory and heap-allocation counts of this process, for the
/// benchmark.
public enum ProcessProbes {
    /// Nanoseconds on a monotonic clock.
    public static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Peak resident set size in bytes since the last `resetPeakResident()` (Linux: VmHWM in
    /// /proc/self/status; elsewhere getrusage's lifetime maximum).
    public static func peakResidentBytes() -> Int {
        #if os(Linux)
        if let kib = statusField("VmHWM:") { return kib * 1024 }
        #endif
        var usage = rusage()
        getrusage(resourceUsageOfThisProcess, &usage)
        #if os(Linux)
        return Int(usage.ru_maxrss) * 1024
        #else
        return Int(usage.ru_maxrss)
        #endif
    }

    /// Current resident set size in bytes (Linux), or nil.
    public static func residentBytes() -> Int? {
        #if os(Linux)
        return statusField("VmRSS:").map { $0 * 1024 }
        #else
        return nil
        #endif
    }

    /// Resets the kernel's peak-RSS mark to the current RSS (Linux ≥ 4.0: writes 5 to
    /// /proc/self/clear_refs). Returns whether it worked.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        #if os(Linux)
        guard let file = fopen("/proc/self/clear_refs", "w") else { return false }
        defer { fclose(file) }
        return fputs("5", file) >= 0
        #else
        return false
        #endif
    }

    #if os(Linux)
    private static func statusField(_ name: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix(name) {
                let digits = text.dropFirst(name.count).filter { $0.isNumber }
                return Int(digits)
            }
        }
        return nil
    }
    #endif

    // MARK: Heap allocations

    /// The number of heap allocations (malloc, calloc, realloc, memalign family) made so far by
    /// all threads, when the counting shim (`allocationShimSource`) is preloaded; nil otherwise.
    public static func allocationCount() -> UInt64? {
        guard let function = counterFunction else { return nil }
        return function()
    }

    /// Whether the counting shim is loaded into this process.
    public static var isCountingAllocations: Bool { counterFunction != nil }

    private typealias CounterFunction = @convention(c) () -> UInt64

    private static let counterFunction: CounterFunction? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "convnet_allocation_count") else {
            return nil
        }
        return unsafeBitCast(symbol, to: CounterFunction.self)
        #else
        return nil
        #endif
    }()

    /// C source of an LD_PRELOAD shim that counts heap allocations (glibc): it forwards to
    /// glibc's `__libc_*` entry points and exports `convnet_allocation_count()`. Build with
    /// `cc -O2 -shared -fPIC -o libconvnet_count_allocs.so shim.c` and run the program with
    /// `LD_PRELOAD=./libconvnet_count_allocs.so`; `convnet bench` does this by itself.
    public static let allocationShimSource = """
        // Counts heap allocations for `convnet bench` (LD_PRELOAD shim, glibc).
        #include <stddef.h>
        #include <errno.h>
        extern void *__libc_malloc(size_t);
        extern void *__libc_calloc(size_t, size_t);
        extern void *__libc_realloc(void *, size_t);
        extern void *__libc_memalign(size_t, size_t);
        extern void *__libc_valloc(size_t);
        extern void *__libc_pvalloc(size_t);
        static unsigned long long allocation_count;
        #define COUNT() __atomic_fetch_add(&allocation_count, 1, __ATOMIC_RELAXED)
        unsigned long long convnet_allocation_count(void) {
            return __atomic_load_n(&allocation_count, __ATOMIC_RELAXED);
        }
        void *malloc(size_t size) { COUNT(); return __libc_malloc(size); }
        void *calloc(size_t n, size_t size) { COUNT(); return __libc_calloc(n, size); }
        void *realloc(void *p, size_t size) { COUNT(); return __libc_realloc(p, size); }
        void *memalign(size_t alignment, size_t size) { COUNT(); return __libc_memalign(alignment, size); }
        void *aligned_alloc(size_t alignment, size_t size) { COUNT(); return __libc_memalign(alignment, size); }
        void *valloc(size_t size) { COUNT(); return __libc_valloc(size); }
        void *pvalloc(size_t size) { COUNT(); return __libc_pvalloc(size); }
        int posix_memalign(void **out, size_t alignment, size_t size) {
            COUNT();
            void *p = __libc_memalign(alignment, size);
            if (!p) return ENOMEM;
            *out = p;
            return 0;
        }
        """
}

extension ProcessProbes {
    /// Compiles `allocationShimSource` with the system C compiler into `directory` and returns
    /// the shared library's path (for LD_PRELOAD). Throws when no compiler works.
    public static func buildAllocationShim(in directory: String, compiler: String = "cc") throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/convnet_count_allocs.c"
        let library = directory + "/libconvnet_count_allocs.so"
        try allocationShimSource.write(toFile: source, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [compiler, "-O2", "-shared", "-fPIC", "-o", library, source]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ConvNetError.invalidArgument("could not compile the allocation-counting shim with \(compiler)")
        }
        return library
    }

    /// The CPU's model name (`CPUInfo.current.model`), or "unknown".
    public static func cpuModel() -> String { CPUInfo.current.model }
}
