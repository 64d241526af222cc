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
//         column micro-panels of `columnTile`        (jr)  one B̂ micro-panel stays in L1
//           row micro-panels of `rowTile`            (ir)  micro-kernel: C tile += Â panel · B̂ panel
// B̂ holds [depth × columnTile] micro-panels, Â holds [depth × rowTile] micro-panels; both are
// zero-padded to whole tiles, so the micro-kernel never sees an edge. Edge tiles of C go through a
// small scratch tile. Packing is where the four transpose combinations are handled.

/// Tile and block sizes of the Float GEMM, tuned on AVX-512 (32 vector registers: the
/// rowTile × columnTile/16 accumulators plus the B̂ vectors and one broadcast must fit).
enum FloatGemmBlocking {
    /// Rows of C per micro-kernel call (MR).
    static var rowTile: Int { 14 }
    /// Columns of C per micro-kernel call (NR): whole SIMD16<Float> vectors.
    static var columnTile: Int { 32 }
    /// Largest depth (k) block (KC): one B̂ micro-panel is depthBlock × columnTile floats.
    static var depthBlock: Int { 256 }
    /// Rows of op(A) packed at a time (MC, a multiple of rowTile): Â stays in L2.
    static var rowBlock: Int { 14 * 24 }
    /// Columns of op(B) packed at a time (NC, a multiple of columnTile): B̂ stays in L2/L3.
    static var columnBlock: Int { 32 * 64 }
    /// Below this many multiply-adds (m·n·k) the product runs on one thread.
    static var parallelThreshold: Int { 1 << 21 }
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
func floatGemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    if k == 0 || alpha == 0 {
        scaleFloatMatrix(c, rows: m, columns: n, ldc: ldc, by: beta)
        return
    }
    let rowTile = FloatGemmBlocking.rowTile
    let columnTile = FloatGemmBlocking.columnTile
    let depthBlock = FloatGemmBlocking.depthBlock

    // Choose how to split between threads.
    let threads = ThreadPool.coreCount
    let rowTiles = (m + rowTile - 1) / rowTile
    let columnTiles = (n + columnTile - 1) / columnTile
    var split = FloatGemmSplit.none
    if threads > 1, m * n * k >= FloatGemmBlocking.parallelThreshold {
        if columnTiles >= 4 * threads {
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

    switch split {
    case .none:
        let scratch = FloatGemmScratchPool.shared.checkOut()
        floatGemmSerial(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, scratch: scratch)
        FloatGemmScratchPool.shared.giveBack(scratch)

    case .columns:
        let parts = min(threads, columnTiles)
        ThreadPool.run(parts: parts) { part in
            let start = part * columnTiles / parts * columnTile
            let end = min(n, (part + 1) * columnTiles / parts * columnTile)
            let scratch = FloatGemmScratchPool.shared.checkOut()
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: end - start, k: k,
                alpha: alpha, a: a, lda: lda,
                b: transposeB ? b + start * ldb : b + start, ldb: ldb,
                beta: beta, c: c + start, ldc: ldc, scratch: scratch)
            FloatGemmScratchPool.shared.giveBack(scratch)
        }

    case .rows:
        let parts = min(threads, rowTiles)
        ThreadPool.run(parts: parts) { part in
            let start = part * rowTiles / parts * rowTile
            let end = min(m, (part + 1) * rowTiles / parts * rowTile)
            let scratch = FloatGemmScratchPool.shared.checkOut()
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: end - start, n: n, k: k,
                alpha: alpha, a: transposeA ? a + start : a + start * lda, lda: lda,
                b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc, scratch: scratch)
            FloatGemmScratchPool.shared.giveBack(scratch)
        }

    case .depth:
        let parts = threads
        // Parts 1..<parts write alpha · op(A)[:, range] · op(B)[range, :] into partial[part − 1]
        // (each m×n, row stride n); part 0 applies beta and writes C directly.
        let reduction = FloatGemmScratchPool.shared.checkOut()
        let partials = reduction.partialBuffer(count: (parts - 1) * m * n)
        ThreadPool.run(parts: parts) { part in
            let start = part * k / parts
            let end = (part + 1) * k / parts
            let scratch = FloatGemmScratchPool.shared.checkOut()
            let target = part == 0 ? c : partials + (part - 1) * m * n
            floatGemmSerial(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: end - start,
                alpha: alpha, a: transposeA ? a + start * lda : a + start, lda: lda,
                b: transposeB ? b + start : b + start * ldb, ldb: ldb,
                beta: part == 0 ? beta : 0, c: target, ldc: part == 0 ? ldc : n,
                scratch: scratch)
            FloatGemmScratchPool.shared.giveBack(scratch)
        }
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
/// (requires m, n, k > 0). Uses `scratch`'s buffers, growing them on first use.
private func floatGemmSerial(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, scratch: FloatGemmScratch
) {
    let rowTile = FloatGemmBlocking.rowTile
    let columnTile = FloatGemmBlocking.columnTile
    // Equal depth blocks no larger than depthBlock (no thin remainder block).
    let depthBlocks = (k + FloatGemmBlocking.depthBlock - 1) / FloatGemmBlocking.depthBlock
    let depthBlock = (k + depthBlocks - 1) / depthBlocks
    let rowBlock = min(FloatGemmBlocking.rowBlock, (m + rowTile - 1) / rowTile * rowTile)
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
                ldb: ldb, depth: depth, columns: columns, into: packedB)
            var rowStart = 0
            while rowStart < m {
                let rows = min(rowBlock, m - rowStart)
                packFloatA(
                    transpose: transposeA,
                    a: transposeA
                        ? a + depthStart * lda + rowStart : a + rowStart * lda + depthStart,
                    lda: lda, rows: rows, depth: depth, into: packedA)
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
                                depth: depth, packedA: aPanel, packedB: bPanel,
                                alpha: alpha, beta: blockBeta, c: cTile, ldc: ldc)
                        } else {
                            floatMicroKernel(
                                depth: depth, packedA: aPanel, packedB: bPanel,
                                alpha: alpha, beta: 0, c: tile, ldc: columnTile)
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
    into packed: UnsafeMutablePointer<Float>
) {
    let columnTile = FloatGemmBlocking.columnTile
    var panel = packed
    var panelStart = 0
    while panelStart < columns {
        let width = min(columnTile, columns - panelStart)
        if !transpose {
            var source = b + panelStart
            if width == columnTile {
                let target = UnsafeMutableRawPointer(panel)
                for p in 0..<depth {
                    let row = UnsafeRawPointer(source)
                    for vector in 0..<(columnTile / 16) {
                        target.storeBytes(
                            of: row.loadUnaligned(fromByteOffset: vector * 64, as: SIMD16<Float>.self),
                            toByteOffset: (p * columnTile + vector * 16) * 4, as: SIMD16<Float>.self)
                    }
                    source += ldb
                }
            } else {
                for p in 0..<depth {
                    let row = panel + p * columnTile
                    for j in 0..<width { row[j] = source[j] }
                    for j in width..<columnTile { row[j] = 0 }
                    source += ldb
                }
            }
        } else {
            for j in 0..<width {
                let source = b + (panelStart + j) * ldb
                for p in 0..<depth { panel[p * columnTile + j] = source[p] }
            }
            if width < columnTile {
                for p in 0..<depth {
                    for j in width..<columnTile { panel[p * columnTile + j] = 0 }
                }
            }
        }
        panel += depth * columnTile
        panelStart += columnTile
    }
}

/// Packs the block op(A)[rows × depth] (top-left at `a`) into Â: ⌈rows / rowTile⌉
/// micro-panels, each [depth × rowTile] with the rowTile values of one depth step adjacent,
/// zero-padded at the bottom. op(A)[i, p] is a[i·lda + p], or a[p·lda + i] when `transpose`.
private func packFloatA(
    transpose: Bool, a: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int,
    into packed: UnsafeMutablePointer<Float>
) {
    let rowTile = FloatGemmBlocking.rowTile
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
            for i in 0..<height {
                let source = a + (panelStart + i) * lda
                for p in 0..<depth { panel[p * rowTile + i] = source[p] }
            }
            if height < rowTile {
                for p in 0..<depth {
                    for i in height..<rowTile { panel[p * rowTile + i] = 0 }
                }
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
    private var capacityA = 0
    private var capacityB = 0
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

    /// Makes packedA hold at least `packedA` floats and packedB at least `packedB`.
    func reserve(packedA countA: Int, packedB countB: Int) {
        if countA > capacityA {
            UnsafeMutableRawPointer(packedA).deallocate()
            packedA = Self.allocate(count: countA)
            capacityA = countA
        }
        if countB > capacityB {
            UnsafeMutableRawPointer(packedB).deallocate()
            packedB = Self.allocate(count: countB)
            capacityB = countB
        }
    }

    /// A buffer of at least `count` floats for partial products.
    func partialBuffer(count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacityPartial {
            UnsafeMutableRawPointer(partial).deallocate()
            partial = Self.allocate(count: count)
            capacityPartial = count
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

    /// Returns a scratch set to the pool.
    func giveBack(_ scratch: FloatGemmScratch) {
        pthread_mutex_lock(mutex)
        available.append(scratch)
        pthread_mutex_unlock(mutex)
    }
}

/// The register-tiled micro-kernel: C[14×32] = alpha · Â · B̂ + beta · C, where Â is a packed
/// row micro-panel [depth × 14] (the 14 rows of one depth step are adjacent) and B̂ a packed
/// column micro-panel [depth × 32]. The 14×2 accumulators (SIMD16 each) stay in registers;
/// beta == 0 stores without reading C, so NaN in C's old contents is ignored.
@inline(never)
private func floatMicroKernel(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD16<Float>(); var c0x1 = SIMD16<Float>()
    var c1x0 = SIMD16<Float>(); var c1x1 = SIMD16<Float>()
    var c2x0 = SIMD16<Float>(); var c2x1 = SIMD16<Float>()
    var c3x0 = SIMD16<Float>(); var c3x1 = SIMD16<Float>()
    var c4x0 = SIMD16<Float>(); var c4x1 = SIMD16<Float>()
    var c5x0 = SIMD16<Float>(); var c5x1 = SIMD16<Float>()
    var c6x0 = SIMD16<Float>(); var c6x1 = SIMD16<Float>()
    var c7x0 = SIMD16<Float>(); var c7x1 = SIMD16<Float>()
    var c8x0 = SIMD16<Float>(); var c8x1 = SIMD16<Float>()
    var c9x0 = SIMD16<Float>(); var c9x1 = SIMD16<Float>()
    var c10x0 = SIMD16<Float>(); var c10x1 = SIMD16<Float>()
    var c11x0 = SIMD16<Float>(); var c11x1 = SIMD16<Float>()
    var c12x0 = SIMD16<Float>(); var c12x1 = SIMD16<Float>()
    var c13x0 = SIMD16<Float>(); var c13x1 = SIMD16<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    for _ in 0..<depth {
        let b0 = bPointer.load(fromByteOffset: 0, as: SIMD16<Float>.self)
        let b1 = bPointer.load(fromByteOffset: 64, as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: aPointer[0])
        c0x0 = c0x0.addingProduct(a0, b0)
        c0x1 = c0x1.addingProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: aPointer[1])
        c1x0 = c1x0.addingProduct(a1, b0)
        c1x1 = c1x1.addingProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: aPointer[2])
        c2x0 = c2x0.addingProduct(a2, b0)
        c2x1 = c2x1.addingProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: aPointer[3])
        c3x0 = c3x0.addingProduct(a3, b0)
        c3x1 = c3x1.addingProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: aPointer[4])
        c4x0 = c4x0.addingProduct(a4, b0)
        c4x1 = c4x1.addingProduct(a4, b1)
        let a5 = SIMD16<Float>(repeating: aPointer[5])
        c5x0 = c5x0.addingProduct(a5, b0)
        c5x1 = c5x1.addingProduct(a5, b1)
        let a6 = SIMD16<Float>(repeating: aPointer[6])
        c6x0 = c6x0.addingProduct(a6, b0)
        c6x1 = c6x1.addingProduct(a6, b1)
        let a7 = SIMD16<Float>(repeating: aPointer[7])
        c7x0 = c7x0.addingProduct(a7, b0)
        c7x1 = c7x1.addingProduct(a7, b1)
        let a8 = SIMD16<Float>(repeating: aPointer[8])
        c8x0 = c8x0.addingProduct(a8, b0)
        c8x1 = c8x1.addingProduct(a8, b1)
        let a9 = SIMD16<Float>(repeating: aPointer[9])
        c9x0 = c9x0.addingProduct(a9, b0)
        c9x1 = c9x1.addingProduct(a9, b1)
        let a10 = SIMD16<Float>(repeating: aPointer[10])
        c10x0 = c10x0.addingProduct(a10, b0)
        c10x1 = c10x1.addingProduct(a10, b1)
        let a11 = SIMD16<Float>(repeating: aPointer[11])
        c11x0 = c11x0.addingProduct(a11, b0)
        c11x1 = c11x1.addingProduct(a11, b1)
        let a12 = SIMD16<Float>(repeating: aPointer[12])
        c12x0 = c12x0.addingProduct(a12, b0)
        c12x1 = c12x1.addingProduct(a12, b1)
        let a13 = SIMD16<Float>(repeating: aPointer[13])
        c13x0 = c13x0.addingProduct(a13, b0)
        c13x1 = c13x1.addingProduct(a13, b1)
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
            of: (c0x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c0x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c1x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c1x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c2x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c2x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c3x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c3x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c4x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c4x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c5x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c5x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c6x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c6x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c7x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c7x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c8x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c8x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c9x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c9x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c10x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c10x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c11x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c11x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c12x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c12x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
        row += rowBytes
        row.storeBytes(
            of: (c13x0 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)),
            toByteOffset: 0, as: SIMD16<Float>.self)
        row.storeBytes(
            of: (c13x1 * scale).addingProduct(
                betaVector, row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)),
            toByteOffset: 64, as: SIMD16<Float>.self)
    }
}
