#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A packed, register-tiled, multithreaded single-precision GEMM in the style of GotoBLAS / BLIS
// (Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication", 2008; BLIS's
// five-loop structure around one micro-kernel).
//
// Loops, outermost first (C is m×n, op(A) is m×k, op(B) is k×n):
//   columns of C in blocks of `columnBlock`          (jc)
//     depth in blocks of at most `depthBlock`        (pc)  pack op(B)[pc.., jc..] → B̂
//       rows of C in blocks of `rowBlock`            (ic)  pack op(A)[ic.., pc..] → Â
//         column micro-panels of `columnTile`        (jr)  one B̂ micro-panel, reused from L1/L2
//           row micro-panels of `rowTile`            (ir)  micro-kernel: C tile += Â panel · B̂ panel
// B̂ holds [depth × columnTile] micro-panels, Â holds [depth × rowTile] micro-panels; both are
// zero-padded to whole tiles, so the micro-kernel never sees an edge. Edge tiles of C go through a
// small scratch tile. Packing is where the four transpose combinations are handled; the
// k-contiguous cases (op(A) = A, op(B) = Bᵀ) go through SIMD transposes (16×16 with AVX-512,
// 8×8 blocks with 16 vector registers: FloatGemmKernels256.swift).
// The micro-kernels at the end of the file are written out long-hand, one variable per
// accumulator, so that the accumulators live in registers for the whole depth loop; the inner
// step is `c = c + a · b` as a fused multiply-add on SIMD16<Float> (vfmadd231ps with AVX-512);
// the 256-bit family's kernels (SIMD8<Float>) are in FloatGemmKernels256.swift.

/// Tile and block sizes of the Float GEMM. The register tiles are fixed by the instruction set
/// (`KernelFamily`: AVX-512 has 32 vector registers, AVX2 16; the accumulators plus the B̂
/// vectors and one broadcast must fit); the cache blocks that depend on the machine are
/// derived from the sizes `CPUInfo` reads at start-up, never taken from one machine:
///
/// - KC (`depthBlock`) is 512 on every CPU: it sets the order in which each element of C sums
///   its products, so the same value everywhere keeps results bit-identical across machines
///   (and a resumed run identical to an uninterrupted one on another machine). Measured on a
///   Zen 5 (48 KiB L1d, 1 MiB L2), single thread, 1024³: 256 → 195 GFLOP/s, 512 → 215,
///   1024 → 210; the B̂ micro-panel (KC × 32 floats, 64 KiB) streams from L2 with the
///   hardware prefetchers, as it does on Intel's 48 KiB L1d.
/// - MC (`rowTilesPerBlock` row tiles) sizes the packed Â block to 3/8 of the core's L2
///   (`rowTilesPerBlock(level2CacheBytes:)`): 24 tiles of 8 rows (192 rows) with 1 MiB of L2,
///   48 with the 2 MiB of a Sapphire Rapids core; the rest of L2 holds B̂ micro-panels and C.
/// - NC (`columnBlock`) 2048 columns: 1024 and 4096 measured the same within noise.
///
/// With AVX-512 (`KernelFamily.avx512`) the 8×32 kernel is the default (248 GFLOP/s vs 241
/// for 14×32 on the Zen 5); the 14-row one is used where it pads m less. Without it
/// (`.avx2`) the tile is 6 rows, two 6×16 kernels per 32-column micro-panel
/// (FloatGemmKernels256.swift).
enum FloatGemmBlocking {
    /// Rows of C per micro-kernel call (MR) of the taller 512-bit kernel.
    static var rowTile: Int { 14 }
    /// Rows of C per micro-kernel call of the default 512-bit kernel (as fast per FLOP as 14 rows).
    static var narrowRowTile: Int { 8 }
    /// Rows of C per micro-kernel call of the 256-bit kernels (6×16, two per column tile).
    static var rowTile256: Int { 6 }
    /// Columns of C per micro-kernel call (NR): whole SIMD16<Float> vectors.
    static var columnTile: Int { 32 }
    /// Largest depth (k) block (KC): one B̂ micro-panel is depthBlock × columnTile floats.
    static var depthBlock: Int { 512 }
    /// Row micro-panels of op(A) packed at a time (MC = rowTile · this): Â stays in L2.
    static let rowTilesPerBlock = rowTilesPerBlock(level2CacheBytes: CPUInfo.current.level2CacheBytes)
    /// Row tiles per Â block for a core with `level2CacheBytes` of L2: the block (MC × KC
    /// floats, MC in rows of `narrowRowTile`) takes 3/8 of it; 24 (1 MiB's value) when the size
    /// is unknown, between 8 and 96.
    static func rowTilesPerBlock(level2CacheBytes: Int) -> Int {
        guard level2CacheBytes > 0 else { return 24 }
        let rows = level2CacheBytes * 3 / 8 / (depthBlock * MemoryLayout<Float>.size)
        return min(96, max(8, rows / narrowRowTile))
    }
    /// Columns of op(B) packed at a time (NC, a multiple of columnTile): B̂ stays in L2/L3
    /// (1024 and 4096 measured the same within noise).
    static var columnBlock: Int { 32 * 64 }
    /// The row tile for a product with m rows on `family`'s kernels: with AVX-512 narrowRowTile
    /// unless rowTile pads m less (m = 14, 28, 42, 56, 70, ...); rowTile256 otherwise.
    static func rowTile(rows m: Int, family: KernelFamily = .current) -> Int {
        if family == .avx2 { return rowTile256 }
        let wide = (m + rowTile - 1) / rowTile * rowTile
        let narrow = (m + narrowRowTile - 1) / narrowRowTile * narrowRowTile
        return narrow <= wide ? narrowRowTile : rowTile
    }
    /// Below this many multiply-adds (m·n·k) the product runs on one thread.
    static var parallelThreshold: Int { 1 << 21 }
}

/// Which register tiles fit the vector unit of the CPU the program runs on: chosen at start-up
/// from the features `CPUInfo` reads, never from the machine the code was tuned on. It picks the
/// GEMM's micro-kernels, Winograd's panel products, the direct convolution's and direct weight
/// gradient's tiles and the dense layer's dot blocks. Every family computes the same bits (the
/// same chains of fused multiply-adds, lane by lane); only the tiles differ.
public enum KernelFamily: Sendable, CaseIterable {
    /// 32 registers of 16 floats (AVX-512): 8×32 tiles, 14×32 where they pad m less.
    case avx512
    /// 16 registers of 8 floats (AVX2 without AVX-512: AMD Zen 1–3, Intel before Ice Lake;
    /// also arm64's NEON, 32 registers of 4): 6×16 tiles, two per 32-column micro-panel.
    case avx2

    /// The family of the CPU the program runs on.
    public static let current: KernelFamily = CPUInfo.current.hasAVX512 ? .avx512 : .avx2

    /// How `convnet bench` names it.
    public var summary: String {
        switch self {
        case .avx512: "AVX-512 (32 registers of 16 floats)"
        case .avx2: "AVX2 (16 registers of 8 floats)"
        }
    }
}

extension Float {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
    ///
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored (A is stored k×m when
    /// `transposeA`, B is stored n×k when `transposeB`). beta == 0 overwrites C without reading
    /// it (NaN in the old contents is ignored); alpha == 0 or k == 0 only scales C by beta.
    /// Packed and register-tiled (`FloatGemm.swift`); large products are split between cores.
    /// The reference it is tested against is `naiveGemm`.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        floatGemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

/// accumulator + x · y, lane by lane, as one fused multiply-add instruction (vfmadd231ps) when
/// the kernels are built with -march=native, for any vector width (SIMD16 in the AVX-512 tiles,
/// SIMD8 in the 256-bit ones, the FMA probe's chains). A portable x86-64 build has no FMA
/// instructions, where `addingProduct` would call `fmaf` once per lane, so Package.swift defines
/// CONVNET_PORTABLE there and this multiplies, then adds (arm64 always has FMA).
@inline(__always)
func floatMultiplyAdd<Vector: SIMD>(
    _ accumulator: Vector, _ x: Vector, _ y: Vector
) -> Vector where Vector.Scalar == Float {
    #if CONVNET_PORTABLE && arch(x86_64)
    return accumulator + x * y
    #else
    return accumulator.addingProduct(x, y)
    #endif
}

/// How a product is split between threads.
private enum FloatGemmSplit {
    /// One thread does everything.
    case none
    /// Each part computes a contiguous range of whole column tiles of C.
    case columns
    /// Each part computes a contiguous range of whole row tiles of C.
    case rows
    /// Each part computes the full C over a contiguous range of k; parts other than the first
    /// write into private buffers that are added into C afterwards (for small C, large k).
    case depth
}

/// The packed GEMM behind `Float.gemm`; same contract.
/// `family` picks the micro-kernels (tests run every family on any CPU).
func floatGemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, family: KernelFamily = .current
) {
    guard m > 0, n > 0 else { return }
    if k == 0 || alpha == 0 {
        scaleFloatMatrix(c, rows: m, columns: n, ldc: ldc, by: beta)
        return
    }
    if FloatSkinnyGemm.run(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
        a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    {
        return
    }
    let rowTile = FloatGemmBlocking.rowTile(rows: m, family: family)
    let columnTile = FloatGemmBlocking.columnTile
    let depthBlock = FloatGemmBlocking.depthBlock

    // Choose how to split between threads.
    let threads = ThreadPool.coreCount
    let rowTiles = (m + rowTile - 1) / rowTile
    let columnTiles = (n + columnTile - 1) / columnTile
    var split = FloatGemmSplit.none
    if threads > 1, m * n * k >= FloatGemmBlocking.parallelThreshold {
        // Elements each thread packs (and, for a depth split, adds afterwards): a split by rows
        // packs all of op(B), one by columns all of op(A); one by depth packs a share of each
        // and adds a small C. A product of m = 64, n = 100, k = 8192 with B transposed packs and
        // transposes 0.67 M elements per thread by depth against 1.08 M by rows. (The dense
        // layer's forward of that shape now takes `denseProduct`'s dot blocks instead.)
        let depthCost = (m + n) * k / threads + m * n * (threads - 1)
        let splitCost = min(
            rowTiles >= threads ? (m / threads + n) * k : Int.max,
            columnTiles >= threads ? (m + n / threads) * k : Int.max)
        let depthPays = k >= 2 * depthBlock * threads && 4 * depthCost < 3 * splitCost
        if depthPays {
            split = .depth
        } else if columnTiles >= 4 * threads {
            split = .columns
        } else if rowTiles >= 4 * threads {
            split = .rows
        } else if k >= 2 * depthBlock * threads {
            split = .depth
        } else if columnTiles >= threads {
            split = .columns
        } else if rowTiles >= threads {
            split = .rows
        }
    }

    var work = FloatGemmParts(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
        ldb: ldb, beta: beta, c: c, ldc: ldc, rowTile: rowTile, family: family, split: split, rowTiles: rowTiles,
        columnTiles: columnTiles)
    switch split {
    case .none:
        let scratch = FloatGemmScratchPool.shared.checkOut()
        floatGemmSerial(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, rowTile: rowTile,
            family: family, scratch: scratch)
        FloatGemmScratchPool.shared.giveBack(scratch)

    case .columns:
        work.parts = min(threads, columnTiles)
        ThreadPool.run(parts: work.parts, work)

    case .rows:
        work.parts = min(threads, rowTiles)
        ThreadPool.run(parts: work.parts, work)

    case .depth:
        let parts = threads
        // Parts 1..<parts write alpha · op(A)[:, range] · op(B)[range, :] into partial[part − 1]
        // (each m×n, row stride n); part 0 applies beta and writes C directly.
        let reduction = FloatGemmScratchPool.shared.checkOut()
        let partials = reduction.partialBuffer(count: (parts - 1) * m * n)
        work.parts = parts
        work.partials = partials
        ThreadPool.run(parts: parts, work)
        for part in 1..<parts {
            let partial = UnsafePointer(partials + (part - 1) * m * n)
            for i in 0..<m {
                let cRow = c + i * ldc
                let partialRow = partial + i * n
                for j in 0..<n { cRow[j] += partialRow[j] }
            }
        }
        FloatGemmScratchPool.shared.giveBack(reduction)
    }
}

/// `floatGemm`'s parts under a split between threads: part p computes a contiguous range of
/// whole column tiles of C (`.columns`), of whole row tiles (`.rows`), or the product over a
/// range of k (`.depth`: part 0 applies beta and writes C, the others write `partials`).
private struct FloatGemmParts: ParallelWork {
    /// The product (as `floatGemm`'s arguments).
    let transposeA: Bool
    let transposeB: Bool
    let m: Int
    let n: Int
    let k: Int
    let alpha: Float
    let a: UnsafePointer<Float>
    let lda: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let beta: Float
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    /// The micro-kernel's rows and the family whose kernels and packing run.
    let rowTile: Int
    let family: KernelFamily
    /// How the parts divide the product, and the row and column tiles of C.
    let split: FloatGemmSplit
    let rowTiles: Int
    let columnTiles: Int
    /// The number of parts.
    var parts = 1
    /// `.depth`: the products of parts 1..<parts (each m×n, row stride n), added into C afterwards.
    var partials: UnsafeMutablePointer<Float>?

    func run(part: Int) {
        let scratch = FloatGemmScratchPool.shared.checkOut()
        switch split {
        case .none:
            preconditionFailure("a product on one thread has no parts")

        case .columns:
            let columnTile = FloatGemmBlocking.columnTile
            let start = part * columnTiles / parts * columnTile
            let end = min(n, (part + 1) * columnTiles / parts * columnTile)
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: end - start, k: k,
                alpha: alpha, a: a, lda: lda,
                b: transposeB ? b + start * ldb : b + start, ldb: ldb,
                beta: beta, c: c + start, ldc: ldc, rowTile: rowTile, family: family, scratch: scratch)

        case .rows:
            let start = part * rowTiles / parts * rowTile
            let end = min(m, (part + 1) * rowTiles / parts * rowTile)
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: end - start, n: n, k: k,
                alpha: alpha, a: transposeA ? a + start : a + start * lda, lda: lda,
                b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc, rowTile: rowTile,
                family: family, scratch: scratch)

        case .depth:
            let start = part * k / parts
            let end = (part + 1) * k / parts
            let target = part == 0 ? c : partials! + (part - 1) * m * n
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: end - start,
                alpha: alpha, a: transposeA ? a + start * lda : a + start, lda: lda,
                b: transposeB ? b + start : b + start * ldb, ldb: ldb,
                beta: part == 0 ? beta : 0, c: target, ldc: part == 0 ? ldc : n,
                rowTile: rowTile, family: family, scratch: scratch)
        }
        FloatGemmScratchPool.shared.giveBack(scratch)
    }
}

/// C[rows×columns] = factor · C (factor == 0 writes zeros, ignoring NaN in C).
private func scaleFloatMatrix(
    _ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by factor: Float
) {
    if factor == 1 { return }
    for i in 0..<rows {
        let row = c + i * ldc
        if factor == 0 {
            row.update(repeating: 0, count: columns)
        } else {
            for j in 0..<columns { row[j] *= factor }
        }
    }
}

/// One thread's packed GEMM over the whole (sub)problem; same contract as `floatGemm`
/// (requires m, n, k > 0), with micro-kernels of `rowTile` rows (`rowTile` or
/// `narrowRowTile`). Uses `scratch`'s buffers, growing them on first use.
private func floatGemmSerial(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rowTile: Int, family: KernelFamily,
    scratch: FloatGemmScratch
) {
    let columnTile = FloatGemmBlocking.columnTile
    // Equal depth blocks no larger than depthBlock (no thin remainder block).
    let depthBlocks = (k + FloatGemmBlocking.depthBlock - 1) / FloatGemmBlocking.depthBlock
    let depthBlock = (k + depthBlocks - 1) / depthBlocks
    let rowBlock = min(
        FloatGemmBlocking.rowTilesPerBlock * rowTile, (m + rowTile - 1) / rowTile * rowTile)
    let columnBlock = min(
        FloatGemmBlocking.columnBlock, (n + columnTile - 1) / columnTile * columnTile)
    scratch.reserve(packedA: rowBlock * depthBlock, packedB: depthBlock * columnBlock)
    let packedA = scratch.packedA
    let packedB = scratch.packedB
    let tile = scratch.tile

    var columnStart = 0
    while columnStart < n {
        let columns = min(columnBlock, n - columnStart)
        var depthStart = 0
        while depthStart < k {
            let depth = min(depthBlock, k - depthStart)
            // The first depth block applies the caller's beta; later ones accumulate.
            let blockBeta: Float = depthStart == 0 ? beta : 1
            packFloatB(
                transpose: transposeB,
                b: transposeB
                    ? b + columnStart * ldb + depthStart : b + depthStart * ldb + columnStart,
                ldb: ldb, depth: depth, columns: columns, into: packedB, family: family)
            var rowStart = 0
            while rowStart < m {
                let rows = min(rowBlock, m - rowStart)
                packFloatA(
                    transpose: transposeA,
                    a: transposeA
                        ? a + depthStart * lda + rowStart : a + rowStart * lda + depthStart,
                    lda: lda, rows: rows, depth: depth, rowTile: rowTile, into: packedA)
                var tileColumn = 0
                while tileColumn < columns {
                    let tileColumns = min(columnTile, columns - tileColumn)
                    let bPanel = UnsafePointer(packedB + tileColumn * depth)
                    var tileRow = 0
                    while tileRow < rows {
                        let tileRows = min(rowTile, rows - tileRow)
                        let aPanel = UnsafePointer(packedA + tileRow * depth)
                        let cTile = c + (rowStart + tileRow) * ldc + columnStart + tileColumn
                        if tileRows == rowTile && tileColumns == columnTile {
                            floatMicroKernel(
                                rows: rowTile, depth: depth, packedA: aPanel, packedB: bPanel,
                                alpha: alpha, beta: blockBeta, c: cTile, ldc: ldc)
                        } else {
                            // An edge tile: compute into `tile`, then merge the valid part.
                            if tileColumns <= 16 {
                                // Narrow right edge: only the left half of the B̂ micro-panel.
                                floatHalfWidthMicroKernel(
                                    rows: rowTile, depth: depth, packedA: aPanel, packedB: bPanel,
                                    alpha: alpha, beta: 0, c: tile, ldc: columnTile)
                            } else {
                                floatMicroKernel(
                                    rows: rowTile, depth: depth, packedA: aPanel, packedB: bPanel,
                                    alpha: alpha, beta: 0, c: tile, ldc: columnTile)
                            }
                            for i in 0..<tileRows {
                                let cRow = cTile + i * ldc
                                let tileRow = tile + i * columnTile
                                if blockBeta == 0 {
                                    for j in 0..<tileColumns { cRow[j] = tileRow[j] }
                                } else {
                                    for j in 0..<tileColumns {
                                        cRow[j] = tileRow[j] + blockBeta * cRow[j]
                                    }
                                }
                            }
                        }
                        tileRow += rowTile
                    }
                    tileColumn += columnTile
                }
                rowStart += rows
            }
            depthStart += depth
        }
        columnStart += columns
    }
}

/// Packs the block op(B)[depth × columns] (top-left at `b`) into B̂: ⌈columns / columnTile⌉
/// micro-panels, each [depth × columnTile] with the columnTile values of one depth step
/// adjacent, zero-padded on the right. op(B)[p, j] is b[p·ldb + j], or b[j·ldb + p] when
/// `transpose`.
private func packFloatB(
    transpose: Bool, b: UnsafePointer<Float>, ldb: Int, depth: Int, columns: Int,
    into packed: UnsafeMutablePointer<Float>, family: KernelFamily
) {
    let columnTile = FloatGemmBlocking.columnTile
    if !transpose {
        // op(B)[p, j] = b[p·ldb + j]: read each row of the block front to back (sequential
        // for the prefetcher), scattering its columnTile-wide pieces over the micro-panels.
        let wholePanels = columns / columnTile
        let panelStride = depth * columnTile
        for p in 0..<depth {
            let source = UnsafeRawPointer(b + p * ldb)
            let target = UnsafeMutableRawPointer(packed + p * columnTile)
            for panelIndex in 0..<wholePanels {
                for vector in 0..<(columnTile / 16) {
                    target.storeBytes(
                        of: source.loadUnaligned(
                            fromByteOffset: (panelIndex * columnTile + vector * 16) * 4,
                            as: SIMD16<Float>.self),
                        toByteOffset: (panelIndex * panelStride + vector * 16) * 4,
                        as: SIMD16<Float>.self)
                }
            }
        }
        let edgeStart = wholePanels * columnTile
        if edgeStart < columns {
            let width = columns - edgeStart
            let panel = packed + wholePanels * panelStride
            for p in 0..<depth {
                let source = b + p * ldb + edgeStart
                let row = panel + p * columnTile
                for j in 0..<width { row[j] = source[j] }
                for j in width..<columnTile { row[j] = 0 }
            }
        }
        return
    }
    var panel = packed
    var panelStart = 0
    // op(B)[p, j] = b[j·ldb + p]: square blocks go through a SIMD transpose (missing rows of a
    // narrow edge panel read as zeros), 16×16 with AVX-512, 8×8 with 16 registers (the 16×16
    // one spills there); the last depth % block steps one by one.
    let block = family == .avx2 ? 8 : 16
    let wholeDepth = depth / block * block
    while panelStart < columns {
        let width = min(columnTile, columns - panelStart)
        for group in stride(from: 0, to: columnTile, by: block) {
            let rows = min(block, width - group)
            var p = 0
            while p < wholeDepth {
                let source = b + (panelStart + group) * ldb + p
                let target = panel + p * columnTile + group
                if rows <= 0 {
                    for step in 0..<block {
                        (target + step * columnTile).update(repeating: 0, count: block)
                    }
                } else if block == 8 {
                    transposeFloat8x8(
                        source: source, sourceStride: ldb, rows: rows, target: target,
                        targetStride: columnTile)
                } else {
                    transposeFloat16x16(
                        source: source, sourceStride: ldb, rows: rows, target: target,
                        targetStride: columnTile, lanes: 16)
                }
                p += block
            }
        }
        for p in wholeDepth..<depth {
            let row = panel + p * columnTile
            for j in 0..<width { row[j] = b[(panelStart + j) * ldb + p] }
            for j in width..<columnTile { row[j] = 0 }
        }
        panel += depth * columnTile
        panelStart += columnTile
    }
}

/// Packs the block op(A)[rows × depth] (top-left at `a`) into Â: ⌈rows / rowTile⌉
/// micro-panels, each [depth × rowTile] with the rowTile values of one depth step adjacent,
/// zero-padded at the bottom. op(A)[i, p] is a[i·lda + p], or a[p·lda + i] when `transpose`.
private func packFloatA(
    transpose: Bool, a: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int, rowTile: Int,
    into packed: UnsafeMutablePointer<Float>
) {
    var panel = packed
    var panelStart = 0
    while panelStart < rows {
        let height = min(rowTile, rows - panelStart)
        if transpose {
            var source = a + panelStart
            for p in 0..<depth {
                let target = panel + p * rowTile
                for i in 0..<height { target[i] = source[i] }
                for i in height..<rowTile { target[i] = 0 }
                source += lda
            }
        } else {
            // op(A)[i, p] = a[i·lda + p]: SIMD transposes of 16 (6-row panels: 8) depth steps at a time (rows
            // past `height` read as zeros), 8×16 for 8-row panels, 6×8 for 6-row ones, 16×16
            // storing rowTile lanes otherwise; the last depth % 16 steps one by one.
            let wholeDepth = depth / 16 * 16
            let source = a + panelStart * lda
            var p = 0
            if rowTile == 8 {
                while p < wholeDepth {
                    transposeFloat8x16(
                        source: source + p, sourceStride: lda, rows: height, target: panel + p * 8)
                    p += 16
                }
            } else if rowTile == 6 {
                while p < wholeDepth {
                    transposeFloat6x8(
                        source: source + p, sourceStride: lda, rows: height, target: panel + p * 6)
                    p += 8
                }
            }
            while p < wholeDepth {
                transposeFloat16x16(
                    source: source + p, sourceStride: lda, rows: height,
                    target: panel + p * rowTile, targetStride: rowTile, lanes: rowTile)
                p += 16
            }
            for p in wholeDepth..<depth {
                let target = panel + p * rowTile
                for i in 0..<height { target[i] = source[i * lda + p] }
                for i in height..<rowTile { target[i] = 0 }
            }
        }
        panel += depth * rowTile
        panelStart += rowTile
    }
}

/// One thread's packing buffers (64-byte aligned), grown on demand and kept for reuse.
final class FloatGemmScratch {
    /// Â: rowBlock × depthBlock floats.
    private(set) var packedA: UnsafeMutablePointer<Float>
    /// B̂: depthBlock × columnBlock floats.
    private(set) var packedB: UnsafeMutablePointer<Float>
    /// One rowTile × columnTile tile for edge tiles of C.
    let tile: UnsafeMutablePointer<Float>
    /// Partial products of the depth split.
    private var partial: UnsafeMutablePointer<Float>
    private(set) var capacityA = 0
    private(set) var capacityB = 0
    private var capacityPartial = 0

    init() {
        packedA = Self.allocate(count: 0)
        packedB = Self.allocate(count: 0)
        partial = Self.allocate(count: 0)
        tile = Self.allocate(count: FloatGemmBlocking.rowTile * FloatGemmBlocking.columnTile)
    }

    deinit {
        UnsafeMutableRawPointer(packedA).deallocate()
        UnsafeMutableRawPointer(packedB).deallocate()
        UnsafeMutableRawPointer(partial).deallocate()
        UnsafeMutableRawPointer(tile).deallocate()
    }

    /// Makes packedA hold at least `packedA` floats and packedB at least `packedB`, growing
    /// both to the largest sizes any set of the pool has been asked for (`FloatGemmScratchPool.
    /// largest`): which set serves which product depends on thread timing, and a set that had
    /// only served small products grew (allocated) whenever timing first handed it a large one,
    /// long after warm-up (0.1–0.7 allocations per training step under contention).
    func reserve(packedA countA: Int, packedB countB: Int) {
        let largest = FloatGemmScratchPool.shared.largest(packedA: countA, packedB: countB, partial: 0)
        if largest.packedA > capacityA {
            UnsafeMutableRawPointer(packedA).deallocate()
            packedA = Self.allocate(count: largest.packedA)
            capacityA = largest.packedA
        }
        if largest.packedB > capacityB {
            UnsafeMutableRawPointer(packedB).deallocate()
            packedB = Self.allocate(count: largest.packedB)
            capacityB = largest.packedB
        }
    }

    /// A buffer of at least `count` floats for partial products (grown, as `reserve`, to the
    /// largest the pool has been asked for).
    func partialBuffer(count: Int) -> UnsafeMutablePointer<Float> {
        let largest = FloatGemmScratchPool.shared.largest(packedA: 0, packedB: 0, partial: count).partial
        if largest > capacityPartial {
            UnsafeMutableRawPointer(partial).deallocate()
            partial = Self.allocate(count: largest)
            capacityPartial = largest
        }
        return partial
    }

    private static func allocate(count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 16))
    }
}

/// The scratch buffers not in use, shared by all threads behind a mutex: each part of a GEMM
/// checks one out and gives it back, so a steady-state call allocates nothing.
final class FloatGemmScratchPool: @unchecked Sendable {
    /// The process-wide pool.
    static let shared = FloatGemmScratchPool()

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var available: [FloatGemmScratch] = []
    /// The largest buffer sizes any set has been asked for (see `FloatGemmScratch.reserve`).
    private var largestPackedA = 0
    private var largestPackedB = 0
    private var largestPartial = 0

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        available.reserveCapacity(64)
    }

    /// Takes a scratch set out of the pool (a new one if none is free).
    func checkOut() -> FloatGemmScratch {
        pthread_mutex_lock(mutex)
        let scratch = available.popLast()
        pthread_mutex_unlock(mutex)
        return scratch ?? FloatGemmScratch()
    }

    /// Records a set's request and returns the largest sizes asked for so far, the request
    /// included.
    func largest(packedA: Int, packedB: Int, partial: Int) -> (packedA: Int, packedB: Int, partial: Int) {
        pthread_mutex_lock(mutex)
        largestPackedA = max(largestPackedA, packedA)
        largestPackedB = max(largestPackedB, packedB)
        largestPartial = max(largestPartial, partial)
        let sizes = (largestPackedA, largestPackedB, largestPartial)
        pthread_mutex_unlock(mutex)
        return sizes
    }

    /// Returns a scratch set to the pool.
    func giveBack(_ scratch: FloatGemmScratch) {
        pthread_mutex_lock(mutex)
        available.append(scratch)
        pthread_mutex_unlock(mutex)
    }
}

/// Calls the micro-kernel with `rows` (rowTile, narrowRowTile or rowTile256) rows.
@inline(__always)
private func floatMicroKernel(
    rows: Int, depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if rows == FloatGemmBlocking.rowTile256 {
        floatMicroKernel6x16(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
        floatMicroKernel6x16(
            depth: depth, packedA: packedA, packedB: packedB + 16, alpha: alpha, beta: beta,
            c: c + 16, ldc: ldc)
    } else if rows == 14 {
        floatMicroKernel14x32(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
    } else {
        floatMicroKernel8x32(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
    }
}

/// Calls the half-width (16-column) micro-kernel with `rows` (rowTile, narrowRowTile or
/// rowTile256) rows; it reads the left 16 columns of a [depth × columnTile] B̂ micro-panel.
@inline(__always)
private func floatHalfWidthMicroKernel(
    rows: Int, depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if rows == FloatGemmBlocking.rowTile256 {
        floatMicroKernel6x16(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
    } else if rows == 14 {
        floatMicroKernel14x16(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
    } else {
        floatMicroKernel8x16(
            depth: depth, packedA: packedA, packedB: packedB, alpha: alpha, beta: beta, c: c,
            ldc: ldc)
    }
}

/// One micro-kernel call on operands the caller keeps packed (Winograd's products):
/// c[8 × columns] = Â · B̂ + beta · c for an Â panel [depth × 8] and a B̂ panel [depth ×
/// columnTile] (64-byte aligned), `columns` 32 (the full kernel) or 16 (the half-width one,
/// reading the panel's left half); c's rows are `ldc` apart (beta 0 overwrites them). Without
/// AVX-512 (`family` .avx2) the product is two or four 4×16 kernel calls.
@inline(__always)
func floatPanelProduct(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>, columns: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, family: KernelFamily = .current
) {
    if family == .avx2 {
        for half in stride(from: 0, to: columns > 16 ? 32 : 16, by: 16) {
            floatMicroKernel4x16(
                depth: depth, packedA: packedA, packedB: packedB + half, beta: beta, c: c + half,
                ldc: ldc)
            floatMicroKernel4x16(
                depth: depth, packedA: packedA + 4, packedB: packedB + half, beta: beta,
                c: c + 4 * ldc + half, ldc: ldc)
        }
    } else if columns > 16 {
        floatMicroKernel8x32(depth: depth, packedA: packedA, packedB: packedB, alpha: 1, beta: beta, c: c, ldc: ldc)
    } else {
        floatMicroKernel8x16(depth: depth, packedA: packedA, packedB: packedB, alpha: 1, beta: beta, c: c, ldc: ldc)
    }
}

/// Transposes a 16×16 block: target[p·targetStride + i] = source[i·sourceStride + p] for
/// p in 0..<16 and i in 0..<lanes, where source rows i ≥ `rows` read as zeros (rows ≤ 16,
/// lanes ∈ {16, 14, 8} or any count ≤ 16). Four rounds of even/odd unzipping, each a
/// two-source permute: each round rotates the 8-bit (row, column) index right by one bit, so
/// after four rounds row and column have swapped.
@inline(__always)
func transposeFloat16x16(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int,
    target: UnsafeMutablePointer<Float>, targetStride: Int, lanes: Int
) {
    let from = UnsafeRawPointer(source)
    let to = UnsafeMutableRawPointer(target)
    let fromRow = sourceStride * MemoryLayout<Float>.stride
    let toRow = targetStride * MemoryLayout<Float>.stride
    let zero = SIMD16<Float>()
    let row0 =
        0 < rows ? from.loadUnaligned(fromByteOffset: 0 * fromRow, as: SIMD16<Float>.self) : zero
    let row1 =
        1 < rows ? from.loadUnaligned(fromByteOffset: 1 * fromRow, as: SIMD16<Float>.self) : zero
    let row2 =
        2 < rows ? from.loadUnaligned(fromByteOffset: 2 * fromRow, as: SIMD16<Float>.self) : zero
    let row3 =
        3 < rows ? from.loadUnaligned(fromByteOffset: 3 * fromRow, as: SIMD16<Float>.self) : zero
    let row4 =
        4 < rows ? from.loadUnaligned(fromByteOffset: 4 * fromRow, as: SIMD16<Float>.self) : zero
    let row5 =
        5 < rows ? from.loadUnaligned(fromByteOffset: 5 * fromRow, as: SIMD16<Float>.self) : zero
    let row6 =
        6 < rows ? from.loadUnaligned(fromByteOffset: 6 * fromRow, as: SIMD16<Float>.self) : zero
    let row7 =
        7 < rows ? from.loadUnaligned(fromByteOffset: 7 * fromRow, as: SIMD16<Float>.self) : zero
    let row8 =
        8 < rows ? from.loadUnaligned(fromByteOffset: 8 * fromRow, as: SIMD16<Float>.self) : zero
    let row9 =
        9 < rows ? from.loadUnaligned(fromByteOffset: 9 * fromRow, as: SIMD16<Float>.self) : zero
    let row10 =
        10 < rows ? from.loadUnaligned(fromByteOffset: 10 * fromRow, as: SIMD16<Float>.self) : zero
    let row11 =
        11 < rows ? from.loadUnaligned(fromByteOffset: 11 * fromRow, as: SIMD16<Float>.self) : zero
    let row12 =
        12 < rows ? from.loadUnaligned(fromByteOffset: 12 * fromRow, as: SIMD16<Float>.self) : zero
    let row13 =
        13 < rows ? from.loadUnaligned(fromByteOffset: 13 * fromRow, as: SIMD16<Float>.self) : zero
    let row14 =
        14 < rows ? from.loadUnaligned(fromByteOffset: 14 * fromRow, as: SIMD16<Float>.self) : zero
    let row15 =
        15 < rows ? from.loadUnaligned(fromByteOffset: 15 * fromRow, as: SIMD16<Float>.self) : zero
    let round0x0 = evenLanes(row0, row1)
    let round0x8 = oddLanes(row0, row1)
    let round0x1 = evenLanes(row2, row3)
    let round0x9 = oddLanes(row2, row3)
    let round0x2 = evenLanes(row4, row5)
    let round0x10 = oddLanes(row4, row5)
    let round0x3 = evenLanes(row6, row7)
    let round0x11 = oddLanes(row6, row7)
    let round0x4 = evenLanes(row8, row9)
    let round0x12 = oddLanes(row8, row9)
    let round0x5 = evenLanes(row10, row11)
    let round0x13 = oddLanes(row10, row11)
    let round0x6 = evenLanes(row12, row13)
    let round0x14 = oddLanes(row12, row13)
    let round0x7 = evenLanes(row14, row15)
    let round0x15 = oddLanes(row14, row15)
    let round1x0 = evenLanes(round0x0, round0x1)
    let round1x8 = oddLanes(round0x0, round0x1)
    let round1x1 = evenLanes(round0x2, round0x3)
    let round1x9 = oddLanes(round0x2, round0x3)
    let round1x2 = evenLanes(round0x4, round0x5)
    let round1x10 = oddLanes(round0x4, round0x5)
    let round1x3 = evenLanes(round0x6, round0x7)
    let round1x11 = oddLanes(round0x6, round0x7)
    let round1x4 = evenLanes(round0x8, round0x9)
    let round1x12 = oddLanes(round0x8, round0x9)
    let round1x5 = evenLanes(round0x10, round0x11)
    let round1x13 = oddLanes(round0x10, round0x11)
    let round1x6 = evenLanes(round0x12, round0x13)
    let round1x14 = oddLanes(round0x12, round0x13)
    let round1x7 = evenLanes(round0x14, round0x15)
    let round1x15 = oddLanes(round0x14, round0x15)
    let round2x0 = evenLanes(round1x0, round1x1)
    let round2x8 = oddLanes(round1x0, round1x1)
    let round2x1 = evenLanes(round1x2, round1x3)
    let round2x9 = oddLanes(round1x2, round1x3)
    let round2x2 = evenLanes(round1x4, round1x5)
    let round2x10 = oddLanes(round1x4, round1x5)
    let round2x3 = evenLanes(round1x6, round1x7)
    let round2x11 = oddLanes(round1x6, round1x7)
    let round2x4 = evenLanes(round1x8, round1x9)
    let round2x12 = oddLanes(round1x8, round1x9)
    let round2x5 = evenLanes(round1x10, round1x11)
    let round2x13 = oddLanes(round1x10, round1x11)
    let round2x6 = evenLanes(round1x12, round1x13)
    let round2x14 = oddLanes(round1x12, round1x13)
    let round2x7 = evenLanes(round1x14, round1x15)
    let round2x15 = oddLanes(round1x14, round1x15)
    let round3x0 = evenLanes(round2x0, round2x1)
    let round3x8 = oddLanes(round2x0, round2x1)
    let round3x1 = evenLanes(round2x2, round2x3)
    let round3x9 = oddLanes(round2x2, round2x3)
    let round3x2 = evenLanes(round2x4, round2x5)
    let round3x10 = oddLanes(round2x4, round2x5)
    let round3x3 = evenLanes(round2x6, round2x7)
    let round3x11 = oddLanes(round2x6, round2x7)
    let round3x4 = evenLanes(round2x8, round2x9)
    let round3x12 = oddLanes(round2x8, round2x9)
    let round3x5 = evenLanes(round2x10, round2x11)
    let round3x13 = oddLanes(round2x10, round2x11)
    let round3x6 = evenLanes(round2x12, round2x13)
    let round3x14 = oddLanes(round2x12, round2x13)
    let round3x7 = evenLanes(round2x14, round2x15)
    let round3x15 = oddLanes(round2x14, round2x15)
    storeFloatLanes(round3x0, count: lanes, to: to + 0 * toRow)
    storeFloatLanes(round3x1, count: lanes, to: to + 1 * toRow)
    storeFloatLanes(round3x2, count: lanes, to: to + 2 * toRow)
    storeFloatLanes(round3x3, count: lanes, to: to + 3 * toRow)
    storeFloatLanes(round3x4, count: lanes, to: to + 4 * toRow)
    storeFloatLanes(round3x5, count: lanes, to: to + 5 * toRow)
    storeFloatLanes(round3x6, count: lanes, to: to + 6 * toRow)
    storeFloatLanes(round3x7, count: lanes, to: to + 7 * toRow)
    storeFloatLanes(round3x8, count: lanes, to: to + 8 * toRow)
    storeFloatLanes(round3x9, count: lanes, to: to + 9 * toRow)
    storeFloatLanes(round3x10, count: lanes, to: to + 10 * toRow)
    storeFloatLanes(round3x11, count: lanes, to: to + 11 * toRow)
    storeFloatLanes(round3x12, count: lanes, to: to + 12 * toRow)
    storeFloatLanes(round3x13, count: lanes, to: to + 13 * toRow)
    storeFloatLanes(round3x14, count: lanes, to: to + 14 * toRow)
    storeFloatLanes(round3x15, count: lanes, to: to + 15 * toRow)
}

/// Transposes an 8×16 block into 128 contiguous floats: target[p·8 + i] = source[i·sourceStride
/// + p] for p in 0..<16 and i in 0..<8, where source rows i ≥ `rows` read as zeros (rows ≤ 8):
/// 16 depth steps of an 8-row Â micro-panel. The flat index (row: 3 bits, column: 4 bits) is
/// rotated right by one bit per round of even/odd unzipping; after four rounds it is
/// (column, row), which is the packed order. Half the permutes and stores of a 16×16 transpose
/// that keeps 8 lanes.
@inline(__always)
func transposeFloat8x16(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int, target: UnsafeMutablePointer<Float>
) {
    let vectors = transposedFloat8x16(source: source, sourceStride: sourceStride, rows: rows)
    let to = UnsafeMutableRawPointer(target)
    let vectorBytes = 16 * MemoryLayout<Float>.stride
    to.storeBytes(of: vectors.0, toByteOffset: 0 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.1, toByteOffset: 1 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.2, toByteOffset: 2 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.3, toByteOffset: 3 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.4, toByteOffset: 4 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.5, toByteOffset: 5 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.6, toByteOffset: 6 * vectorBytes, as: SIMD16<Float>.self)
    to.storeBytes(of: vectors.7, toByteOffset: 7 * vectorBytes, as: SIMD16<Float>.self)
}

/// The 8×16 transpose of `transposeFloat8x16`, in registers: vector v holds depth steps 2v
/// (lanes 0..<8) and 2v + 1 (lanes 8..<16), one lane per row.
@inline(__always)
private func transposedFloat8x16(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int
) -> (
    SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>,
    SIMD16<Float>
) {
    let from = UnsafeRawPointer(source)
    let fromRow = sourceStride * MemoryLayout<Float>.stride
    let zero = SIMD16<Float>()
    var vectors = (
        0 < rows ? from.loadUnaligned(fromByteOffset: 0 * fromRow, as: SIMD16<Float>.self) : zero,
        1 < rows ? from.loadUnaligned(fromByteOffset: 1 * fromRow, as: SIMD16<Float>.self) : zero,
        2 < rows ? from.loadUnaligned(fromByteOffset: 2 * fromRow, as: SIMD16<Float>.self) : zero,
        3 < rows ? from.loadUnaligned(fromByteOffset: 3 * fromRow, as: SIMD16<Float>.self) : zero,
        4 < rows ? from.loadUnaligned(fromByteOffset: 4 * fromRow, as: SIMD16<Float>.self) : zero,
        5 < rows ? from.loadUnaligned(fromByteOffset: 5 * fromRow, as: SIMD16<Float>.self) : zero,
        6 < rows ? from.loadUnaligned(fromByteOffset: 6 * fromRow, as: SIMD16<Float>.self) : zero,
        7 < rows ? from.loadUnaligned(fromByteOffset: 7 * fromRow, as: SIMD16<Float>.self) : zero
    )
    for _ in 0..<4 {
        // Pair (2j, 2j + 1): even lanes to vector j, odd lanes to vector j + 4.
        vectors = (
            evenLanes(vectors.0, vectors.1), evenLanes(vectors.2, vectors.3),
            evenLanes(vectors.4, vectors.5), evenLanes(vectors.6, vectors.7),
            oddLanes(vectors.0, vectors.1), oddLanes(vectors.2, vectors.3),
            oddLanes(vectors.4, vectors.5), oddLanes(vectors.6, vectors.7)
        )
    }
    return vectors
}

/// Lanes 0, 2, …, 30 of (first, second) as one vector: SIMD32's `evenHalf`, written out lane
/// by lane so that it always compiles to one permute (the optimiser keeps `evenHalf` as a
/// function call in some builds: packing 4x slower, measured).
@inline(__always)
private func evenLanes(_ first: SIMD16<Float>, _ second: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16(
        first[0], first[2], first[4], first[6], first[8], first[10], first[12], first[14],
        second[0], second[2], second[4], second[6], second[8], second[10], second[12], second[14])
}

/// Lanes 1, 3, …, 31 of (first, second) (see `evenLanes`).
@inline(__always)
private func oddLanes(_ first: SIMD16<Float>, _ second: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16(
        first[1], first[3], first[5], first[7], first[9], first[11], first[13], first[15],
        second[1], second[3], second[5], second[7], second[9], second[11], second[13], second[15])
}

/// Stores the first `count` lanes of `vector` (count ≤ 16) at `target`.
@inline(__always)
private func storeFloatLanes(
    _ vector: SIMD16<Float>, count: Int, to target: UnsafeMutableRawPointer
) {
    switch count {
    case 16:
        target.storeBytes(of: vector, as: SIMD16<Float>.self)
    case 14:
        target.storeBytes(of: vector.lowHalf, as: SIMD8<Float>.self)
        target.storeBytes(
            of: vector.highHalf.lowHalf, toByteOffset: 8 * MemoryLayout<Float>.stride, as: SIMD4<Float>.self)
        target.storeBytes(
            of: vector.highHalf.highHalf.lowHalf, toByteOffset: 12 * MemoryLayout<Float>.stride, as: SIMD2<Float>.self
        )
    case 8:
        target.storeBytes(of: vector.lowHalf, as: SIMD8<Float>.self)
    default:
        for lane in 0..<count {
            target.storeBytes(of: vector[lane], toByteOffset: lane * MemoryLayout<Float>.stride, as: Float.self)
        }
    }
}

/// The register-tiled micro-kernel: C[14×32] = alpha · Â · B̂ + beta · C, where Â is a packed
/// row micro-panel [depth × 14] (the 14 rows of one depth step are adjacent) and B̂ a packed
/// column micro-panel [depth × 32]. The 14×2 accumulators (SIMD16 each) stay in registers;
/// beta == 0 stores without reading C, so NaN in C's old contents is ignored.
@inline(never)
private func floatMicroKernel14x32(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD16<Float>()
    var c0x1 = SIMD16<Float>()
    var c1x0 = SIMD16<Float>()
    var c1x1 = SIMD16<Float>()
    var c2x0 = SIMD16<Float>()
    var c2x1 = SIMD16<Float>()
    var c3x0 = SIMD16<Float>()
    var c3x1 = SIMD16<Float>()
    var c4x0 = SIMD16<Float>()
    var c4x1 = SIMD16<Float>()
    var c5x0 = SIMD16<Float>()
    var c5x1 = SIMD16<Float>()
    var c6x0 = SIMD16<Float>()
    var c6x1 = SIMD16<Float>()
    var c7x0 = SIMD16<Float>()
    var c7x1 = SIMD16<Float>()
    var c8x0 = SIMD16<Float>()
    var c8x1 = SIMD16<Float>()
    var c9x0 = SIMD16<Float>()
    var c9x1 = SIMD16<Float>()
    var c10x0 = SIMD16<Float>()
    var c10x1 = SIMD16<Float>()
    var c11x0 = SIMD16<Float>()
    var c11x1 = SIMD16<Float>()
    var c12x0 = SIMD16<Float>()
    var c12x1 = SIMD16<Float>()
    var c13x0 = SIMD16<Float>()
    var c13x1 = SIMD16<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    for _ in 0..<depth {
        let b0 = bPointer.load(fromByteOffset: 0, as: SIMD16<Float>.self)
        let b1 = bPointer.load(fromByteOffset: 64, as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        c0x1 = floatMultiplyAdd(c0x1, a0, b1)
        let a1 = SIMD16<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        c1x1 = floatMultiplyAdd(c1x1, a1, b1)
        let a2 = SIMD16<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        c2x1 = floatMultiplyAdd(c2x1, a2, b1)
        let a3 = SIMD16<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        c3x1 = floatMultiplyAdd(c3x1, a3, b1)
        let a4 = SIMD16<Float>(repeating: aPointer[4])
        c4x0 = floatMultiplyAdd(c4x0, a4, b0)
        c4x1 = floatMultiplyAdd(c4x1, a4, b1)
        let a5 = SIMD16<Float>(repeating: aPointer[5])
        c5x0 = floatMultiplyAdd(c5x0, a5, b0)
        c5x1 = floatMultiplyAdd(c5x1, a5, b1)
        let a6 = SIMD16<Float>(repeating: aPointer[6])
        c6x0 = floatMultiplyAdd(c6x0, a6, b0)
        c6x1 = floatMultiplyAdd(c6x1, a6, b1)
        let a7 = SIMD16<Float>(repeating: aPointer[7])
        c7x0 = floatMultiplyAdd(c7x0, a7, b0)
        c7x1 = floatMultiplyAdd(c7x1, a7, b1)
        let a8 = SIMD16<Float>(repeating: aPointer[8])
        c8x0 = floatMultiplyAdd(c8x0, a8, b0)
        c8x1 = floatMultiplyAdd(c8x1, a8, b1)
        let a9 = SIMD16<Float>(repeating: aPointer[9])
        c9x0 = floatMultiplyAdd(c9x0, a9, b0)
        c9x1 = floatMultiplyAdd(c9x1, a9, b1)
        let a10 = SIMD16<Float>(repeating: aPointer[10])
        c10x0 = floatMultiplyAdd(c10x0, a10, b0)
        c10x1 = floatMultiplyAdd(c10x1, a10, b1)
        let a11 = SIMD16<Float>(repeating: aPointer[11])
        c11x0 = floatMultiplyAdd(c11x0, a11, b0)
        c11x1 = floatMultiplyAdd(c11x1, a11, b1)
        let a12 = SIMD16<Float>(repeating: aPointer[12])
        c12x0 = floatMultiplyAdd(c12x0, a12, b0)
        c12x1 = floatMultiplyAdd(c12x1, a12, b1)
        let a13 = SIMD16<Float>(repeating: aPointer[13])
        c13x0 = floatMultiplyAdd(c13x0, a13, b0)
        c13x1 = floatMultiplyAdd(c13x1, a13, b1)
        aPointer += 14
        bPointer += 128
    }
    let scale = SIMD16<Float>(repeating: alpha)
    var row = UnsafeMutableRawPointer(c)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    if beta == 0 {
        row.storeBytes(of: c0x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c0x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c1x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c1x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c2x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c2x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c3x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c3x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c4x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c4x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c5x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c5x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c6x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c6x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c7x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c7x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c8x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c8x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c9x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c9x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c10x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c10x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c11x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c11x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c12x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c12x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c13x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c13x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
    } else {
        let betaVector = SIMD16<Float>(repeating: beta)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c8x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c8x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c9x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c9x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c10x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c10x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c11x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c11x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c12x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c12x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c13x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c13x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
    }
}

/// The register-tiled micro-kernel: C[8×32] = alpha · Â · B̂ + beta · C, where Â is a packed
/// row micro-panel [depth × 8] (the 8 rows of one depth step are adjacent) and B̂ a packed
/// column micro-panel [depth × 32]. The 8×2 accumulators (SIMD16 each) stay in registers;
/// beta == 0 stores without reading C, so NaN in C's old contents is ignored.
@inline(never)
private func floatMicroKernel8x32(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD16<Float>()
    var c0x1 = SIMD16<Float>()
    var c1x0 = SIMD16<Float>()
    var c1x1 = SIMD16<Float>()
    var c2x0 = SIMD16<Float>()
    var c2x1 = SIMD16<Float>()
    var c3x0 = SIMD16<Float>()
    var c3x1 = SIMD16<Float>()
    var c4x0 = SIMD16<Float>()
    var c4x1 = SIMD16<Float>()
    var c5x0 = SIMD16<Float>()
    var c5x1 = SIMD16<Float>()
    var c6x0 = SIMD16<Float>()
    var c6x1 = SIMD16<Float>()
    var c7x0 = SIMD16<Float>()
    var c7x1 = SIMD16<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    for _ in 0..<depth {
        let b0 = bPointer.load(fromByteOffset: 0, as: SIMD16<Float>.self)
        let b1 = bPointer.load(fromByteOffset: 64, as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        c0x1 = floatMultiplyAdd(c0x1, a0, b1)
        let a1 = SIMD16<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        c1x1 = floatMultiplyAdd(c1x1, a1, b1)
        let a2 = SIMD16<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        c2x1 = floatMultiplyAdd(c2x1, a2, b1)
        let a3 = SIMD16<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        c3x1 = floatMultiplyAdd(c3x1, a3, b1)
        let a4 = SIMD16<Float>(repeating: aPointer[4])
        c4x0 = floatMultiplyAdd(c4x0, a4, b0)
        c4x1 = floatMultiplyAdd(c4x1, a4, b1)
        let a5 = SIMD16<Float>(repeating: aPointer[5])
        c5x0 = floatMultiplyAdd(c5x0, a5, b0)
        c5x1 = floatMultiplyAdd(c5x1, a5, b1)
        let a6 = SIMD16<Float>(repeating: aPointer[6])
        c6x0 = floatMultiplyAdd(c6x0, a6, b0)
        c6x1 = floatMultiplyAdd(c6x1, a6, b1)
        let a7 = SIMD16<Float>(repeating: aPointer[7])
        c7x0 = floatMultiplyAdd(c7x0, a7, b0)
        c7x1 = floatMultiplyAdd(c7x1, a7, b1)
        aPointer += 8
        bPointer += 128
    }
    let scale = SIMD16<Float>(repeating: alpha)
    var row = UnsafeMutableRawPointer(c)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    if beta == 0 {
        row.storeBytes(of: c0x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c0x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c1x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c1x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c2x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c2x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c3x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c3x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c4x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c4x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c5x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c5x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c6x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c6x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c7x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(of: c7x1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
    } else {
        let betaVector = SIMD16<Float>(repeating: beta)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x1 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
    }
}

/// The register-tiled micro-kernel: C[14×16] = alpha · Â · B̂ + beta · C, where Â is a packed
/// row micro-panel [depth × 14] (the 14 rows of one depth step are adjacent) and B̂ a packed
/// column micro-panel [depth × 32] of which the first 16 columns are used. The 14×1
/// accumulators (SIMD16 each) stay in registers;
/// beta == 0 stores without reading C, so NaN in C's old contents is ignored.
@inline(never)
private func floatMicroKernel14x16(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD16<Float>()
    var c1x0 = SIMD16<Float>()
    var c2x0 = SIMD16<Float>()
    var c3x0 = SIMD16<Float>()
    var c4x0 = SIMD16<Float>()
    var c5x0 = SIMD16<Float>()
    var c6x0 = SIMD16<Float>()
    var c7x0 = SIMD16<Float>()
    var c8x0 = SIMD16<Float>()
    var c9x0 = SIMD16<Float>()
    var c10x0 = SIMD16<Float>()
    var c11x0 = SIMD16<Float>()
    var c12x0 = SIMD16<Float>()
    var c13x0 = SIMD16<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    for _ in 0..<depth {
        let b0 = bPointer.load(fromByteOffset: 0, as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        let a1 = SIMD16<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        let a2 = SIMD16<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        let a3 = SIMD16<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        let a4 = SIMD16<Float>(repeating: aPointer[4])
        c4x0 = floatMultiplyAdd(c4x0, a4, b0)
        let a5 = SIMD16<Float>(repeating: aPointer[5])
        c5x0 = floatMultiplyAdd(c5x0, a5, b0)
        let a6 = SIMD16<Float>(repeating: aPointer[6])
        c6x0 = floatMultiplyAdd(c6x0, a6, b0)
        let a7 = SIMD16<Float>(repeating: aPointer[7])
        c7x0 = floatMultiplyAdd(c7x0, a7, b0)
        let a8 = SIMD16<Float>(repeating: aPointer[8])
        c8x0 = floatMultiplyAdd(c8x0, a8, b0)
        let a9 = SIMD16<Float>(repeating: aPointer[9])
        c9x0 = floatMultiplyAdd(c9x0, a9, b0)
        let a10 = SIMD16<Float>(repeating: aPointer[10])
        c10x0 = floatMultiplyAdd(c10x0, a10, b0)
        let a11 = SIMD16<Float>(repeating: aPointer[11])
        c11x0 = floatMultiplyAdd(c11x0, a11, b0)
        let a12 = SIMD16<Float>(repeating: aPointer[12])
        c12x0 = floatMultiplyAdd(c12x0, a12, b0)
        let a13 = SIMD16<Float>(repeating: aPointer[13])
        c13x0 = floatMultiplyAdd(c13x0, a13, b0)
        aPointer += 14
        bPointer += 128
    }
    let scale = SIMD16<Float>(repeating: alpha)
    var row = UnsafeMutableRawPointer(c)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    if beta == 0 {
        row.storeBytes(of: c0x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c1x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c2x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c3x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c4x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c5x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c6x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c7x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c8x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c9x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c10x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c11x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c12x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c13x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
    } else {
        let betaVector = SIMD16<Float>(repeating: beta)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c8x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c9x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c10x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c11x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c12x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c13x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
    }
}

/// The register-tiled micro-kernel: C[8×16] = alpha · Â · B̂ + beta · C, where Â is a packed
/// row micro-panel [depth × 8] (the 8 rows of one depth step are adjacent) and B̂ a packed
/// column micro-panel [depth × 32] of which the first 16 columns are used. The 8×1
/// accumulators (SIMD16 each) stay in registers;
/// beta == 0 stores without reading C, so NaN in C's old contents is ignored.
@inline(never)
private func floatMicroKernel8x16(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD16<Float>()
    var c1x0 = SIMD16<Float>()
    var c2x0 = SIMD16<Float>()
    var c3x0 = SIMD16<Float>()
    var c4x0 = SIMD16<Float>()
    var c5x0 = SIMD16<Float>()
    var c6x0 = SIMD16<Float>()
    var c7x0 = SIMD16<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    for _ in 0..<depth {
        let b0 = bPointer.load(fromByteOffset: 0, as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        let a1 = SIMD16<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        let a2 = SIMD16<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        let a3 = SIMD16<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        let a4 = SIMD16<Float>(repeating: aPointer[4])
        c4x0 = floatMultiplyAdd(c4x0, a4, b0)
        let a5 = SIMD16<Float>(repeating: aPointer[5])
        c5x0 = floatMultiplyAdd(c5x0, a5, b0)
        let a6 = SIMD16<Float>(repeating: aPointer[6])
        c6x0 = floatMultiplyAdd(c6x0, a6, b0)
        let a7 = SIMD16<Float>(repeating: aPointer[7])
        c7x0 = floatMultiplyAdd(c7x0, a7, b0)
        aPointer += 8
        bPointer += 128
    }
    let scale = SIMD16<Float>(repeating: alpha)
    var row = UnsafeMutableRawPointer(c)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    if beta == 0 {
        row.storeBytes(of: c0x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c1x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c2x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c3x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c4x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c5x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c6x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(of: c7x0 * scale, toByteOffset: 0, as: SIMD16<Float>.self)
    } else {
        let betaVector = SIMD16<Float>(repeating: beta)
        row.storeBytes(
            of: floatMultiplyAdd(
                c0x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c1x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c2x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c3x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c4x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c5x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c6x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: floatMultiplyAdd(
                c7x0 * scale, betaVector,
                row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
    }
}

/// What the Float GEMM chose for the CPU it runs on (`FloatGemmBlocking`), for `convnet bench`.
public enum FloatGemmPlan {
    /// One line: register tiles, cache blocks and what they were derived from.
    public static var summary: String {
        let level2 = CPUInfo.current.level2CacheBytes
        let tiles = FloatGemmBlocking.rowTilesPerBlock
        let rows =
            KernelFamily.current == .avx2
            ? "\(tiles * FloatGemmBlocking.rowTile256)"
            : "\(tiles * FloatGemmBlocking.narrowRowTile) or \(tiles * FloatGemmBlocking.rowTile)"
        let kernels =
            KernelFamily.current == .avx2
            ? "micro-kernel 6×16, two per 32-column panel (\(KernelFamily.current.summary)), "
            : "micro-kernel \(FloatGemmBlocking.narrowRowTile)×\(FloatGemmBlocking.columnTile) "
                + "(\(FloatGemmBlocking.rowTile)×\(FloatGemmBlocking.columnTile) where it pads m less; "
                + "\(KernelFamily.current.summary)), "
        return kernels
            + "KC \(FloatGemmBlocking.depthBlock), MC \(tiles) row tiles "
            + "(\(rows) rows, from "
            + (level2 > 0 ? "L2 \(CPUInfo.describeBytes(level2))" : "an unknown L2: the 1 MiB value")
            + "), NC \(FloatGemmBlocking.columnBlock), \(ThreadPool.coreCount) threads"
    }
}
