// The Float GEMM's micro-kernels for CPUs whose vector unit has 16 registers of 8 floats
// (`KernelFamily.avx2`: AVX2 machines without AVX-512, such as AMD's Zen 1–3, Intel's
// Haswell to Comet Lake, and the 128-bit NEON of arm64 with its 32 registers of 4 floats).
// The 8×32 and 14×32 kernels of FloatGemm.swift keep 16 or 28 accumulators of 16 floats: with
// 256-bit registers each is two registers, and the tile spills to the stack on every depth
// step (measured on a Zen 3: 60 GFLOP/s on two cores against an FMA limit of 190). Here a 6×16
// tile keeps 12 accumulators of 8 floats, 2 B̂ vectors and one broadcast in 15 registers
// (BLIS's Haswell/Zen shape); two calls cover the 32 columns of a B̂ micro-panel, so packing and
// panel layout are the same for every family. Each element of C is the same chain of fused
// multiply-adds over the depth as in the 512-bit kernels, then scaled by alpha and merged with
// beta the same way: every family computes the same bits.

/// Stores one 16-column row of a C tile: row[0..<16] = alpha · (low, high), or, when beta ≠ 0,
/// alpha · (low, high) + beta · row (one fused multiply-add per vector, as the 512-bit kernels).
@inline(__always)
private func storeFloatRow16(
    _ low: SIMD8<Float>, _ high: SIMD8<Float>, alpha: SIMD8<Float>, beta: Float,
    row: UnsafeMutableRawPointer
) {
    if beta == 0 {
        row.storeBytes(of: low * alpha, toByteOffset: 0, as: SIMD8<Float>.self)
        row.storeBytes(of: high * alpha, toByteOffset: 32, as: SIMD8<Float>.self)
    } else {
        let betaVector = SIMD8<Float>(repeating: beta)
        row.storeBytes(
            of: floatMultiplyAdd(
                low * alpha, betaVector, row.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)),
            toByteOffset: 0, as: SIMD8<Float>.self)
        row.storeBytes(
            of: floatMultiplyAdd(
                high * alpha, betaVector, row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)),
            toByteOffset: 32, as: SIMD8<Float>.self)
    }
}

/// The 256-bit micro-kernel: C[6×16] = alpha · Â · B̂ + beta · C, where Â is a packed row
/// micro-panel [depth × 6] (the 6 rows of one depth step adjacent) and B̂ the 16 columns at
/// `packedB` of a packed column micro-panel [depth × columnTile] (rows columnTile floats apart).
/// The 6 × 2 accumulators (SIMD8 each) stay in registers; beta == 0 stores without reading C.
@inline(never)
func floatMicroKernel6x16(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD8<Float>()
    var c0x1 = SIMD8<Float>()
    var c1x0 = SIMD8<Float>()
    var c1x1 = SIMD8<Float>()
    var c2x0 = SIMD8<Float>()
    var c2x1 = SIMD8<Float>()
    var c3x0 = SIMD8<Float>()
    var c3x1 = SIMD8<Float>()
    var c4x0 = SIMD8<Float>()
    var c4x1 = SIMD8<Float>()
    var c5x0 = SIMD8<Float>()
    var c5x1 = SIMD8<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    let bStep = FloatGemmBlocking.columnTile * MemoryLayout<Float>.stride
    for _ in 0..<depth {
        let b0 = bPointer.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
        let b1 = bPointer.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let a0 = SIMD8<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        c0x1 = floatMultiplyAdd(c0x1, a0, b1)
        let a1 = SIMD8<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        c1x1 = floatMultiplyAdd(c1x1, a1, b1)
        let a2 = SIMD8<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        c2x1 = floatMultiplyAdd(c2x1, a2, b1)
        let a3 = SIMD8<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        c3x1 = floatMultiplyAdd(c3x1, a3, b1)
        let a4 = SIMD8<Float>(repeating: aPointer[4])
        c4x0 = floatMultiplyAdd(c4x0, a4, b0)
        c4x1 = floatMultiplyAdd(c4x1, a4, b1)
        let a5 = SIMD8<Float>(repeating: aPointer[5])
        c5x0 = floatMultiplyAdd(c5x0, a5, b0)
        c5x1 = floatMultiplyAdd(c5x1, a5, b1)
        aPointer += 6
        bPointer += bStep
    }
    let scale = SIMD8<Float>(repeating: alpha)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    let row = UnsafeMutableRawPointer(c)
    storeFloatRow16(c0x0, c0x1, alpha: scale, beta: beta, row: row)
    storeFloatRow16(c1x0, c1x1, alpha: scale, beta: beta, row: row + rowBytes)
    storeFloatRow16(c2x0, c2x1, alpha: scale, beta: beta, row: row + 2 * rowBytes)
    storeFloatRow16(c3x0, c3x1, alpha: scale, beta: beta, row: row + 3 * rowBytes)
    storeFloatRow16(c4x0, c4x1, alpha: scale, beta: beta, row: row + 4 * rowBytes)
    storeFloatRow16(c5x0, c5x1, alpha: scale, beta: beta, row: row + 5 * rowBytes)
}

/// The 256-bit kernel for operands packed in 8-row panels (Winograd's products,
/// `floatPanelProduct`): C[4×16] = Â · B̂ + beta · C for rows `packedA[0..<4]` of a packed
/// [depth × 8] row panel and the 16 columns at `packedB` of a [depth × columnTile] column
/// panel. Eight accumulators; two calls cover the panel's 8 rows (measured on a Zen 3, four calls
/// per 8×32 product: 86–92 GFLOP/s per core at depth 64–128, against 45 for 8×8 tiles).
@inline(never)
func floatMicroKernel4x16(
    depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0x0 = SIMD8<Float>()
    var c0x1 = SIMD8<Float>()
    var c1x0 = SIMD8<Float>()
    var c1x1 = SIMD8<Float>()
    var c2x0 = SIMD8<Float>()
    var c2x1 = SIMD8<Float>()
    var c3x0 = SIMD8<Float>()
    var c3x1 = SIMD8<Float>()
    var aPointer = packedA
    var bPointer = UnsafeRawPointer(packedB)
    let bStep = FloatGemmBlocking.columnTile * MemoryLayout<Float>.stride
    for _ in 0..<depth {
        let b0 = bPointer.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
        let b1 = bPointer.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let a0 = SIMD8<Float>(repeating: aPointer[0])
        c0x0 = floatMultiplyAdd(c0x0, a0, b0)
        c0x1 = floatMultiplyAdd(c0x1, a0, b1)
        let a1 = SIMD8<Float>(repeating: aPointer[1])
        c1x0 = floatMultiplyAdd(c1x0, a1, b0)
        c1x1 = floatMultiplyAdd(c1x1, a1, b1)
        let a2 = SIMD8<Float>(repeating: aPointer[2])
        c2x0 = floatMultiplyAdd(c2x0, a2, b0)
        c2x1 = floatMultiplyAdd(c2x1, a2, b1)
        let a3 = SIMD8<Float>(repeating: aPointer[3])
        c3x0 = floatMultiplyAdd(c3x0, a3, b0)
        c3x1 = floatMultiplyAdd(c3x1, a3, b1)
        aPointer += 8
        bPointer += bStep
    }
    let one = SIMD8<Float>(repeating: 1)
    let rowBytes = ldc * MemoryLayout<Float>.stride
    let row = UnsafeMutableRawPointer(c)
    storeFloatRow16(c0x0, c0x1, alpha: one, beta: beta, row: row)
    storeFloatRow16(c1x0, c1x1, alpha: one, beta: beta, row: row + rowBytes)
    storeFloatRow16(c2x0, c2x1, alpha: one, beta: beta, row: row + 2 * rowBytes)
    storeFloatRow16(c3x0, c3x1, alpha: one, beta: beta, row: row + 3 * rowBytes)
}

// Packing for the 256-bit family. The 16×16 transpose of FloatGemm.swift holds 16 SIMD16
// vectors, 32 of AVX2's 16 registers: it spilled on every round, and transposing B for the
// weight gradient's products (A·Bᵀ, both operands k-contiguous) took a third of their time on
// a Zen 3. An 8×8 block fits: 8 rows in, three rounds of the two-source shuffles AVX2 has as
// single instructions (unpcklps/unpckhps, shufps, vperm2f128), 8 columns out.

/// Transposes an 8×8 block in registers: vector q holds source[i·sourceStride + q] in lane i,
/// where source rows i ≥ `rows` read as zeros (1 ≤ rows ≤ 8).
@inline(__always)
func transposedFloat8x8(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int
) -> FloatOctetRows {
    let from = UnsafeRawPointer(source)
    let fromRow = sourceStride * MemoryLayout<Float>.stride
    @inline(__always) func row(_ i: Int) -> SIMD8<Float> {
        from.loadUnaligned(fromByteOffset: i * fromRow, as: SIMD8<Float>.self)
    }
    if rows >= 8 {
        // The common case without a branch per row.
        return transposedFloat8x8(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
    }
    let zero = SIMD8<Float>()
    return transposedFloat8x8(
        row(0), 1 < rows ? row(1) : zero, 2 < rows ? row(2) : zero, 3 < rows ? row(3) : zero,
        4 < rows ? row(4) : zero, 5 < rows ? row(5) : zero, 6 < rows ? row(6) : zero, zero)
}

/// The 8×8 transpose of eight rows in registers (vector q of the result holds lane q of every row).
@inline(__always)
private func transposedFloat8x8(
    _ row0: SIMD8<Float>, _ row1: SIMD8<Float>, _ row2: SIMD8<Float>, _ row3: SIMD8<Float>,
    _ row4: SIMD8<Float>, _ row5: SIMD8<Float>, _ row6: SIMD8<Float>, _ row7: SIMD8<Float>
) -> FloatOctetRows {
    // Round 1, unpcklps / unpckhps: rows (2j, 2j + 1) interleaved, per 128-bit half.
    let pairs0 = interleavedLow(row0, row1)
    let pairs1 = interleavedHigh(row0, row1)
    let pairs2 = interleavedLow(row2, row3)
    let pairs3 = interleavedHigh(row2, row3)
    let pairs4 = interleavedLow(row4, row5)
    let pairs5 = interleavedHigh(row4, row5)
    let pairs6 = interleavedLow(row6, row7)
    let pairs7 = interleavedHigh(row6, row7)
    // Round 2, shufps: four rows of columns (q, q + 4) for rows 0–3 and 4–7.
    let quads0 = lowPairs(pairs0, pairs2)
    let quads1 = highPairs(pairs0, pairs2)
    let quads2 = lowPairs(pairs1, pairs3)
    let quads3 = highPairs(pairs1, pairs3)
    let quads4 = lowPairs(pairs4, pairs6)
    let quads5 = highPairs(pairs4, pairs6)
    let quads6 = lowPairs(pairs5, pairs7)
    let quads7 = highPairs(pairs5, pairs7)
    // Round 3, vperm2f128: the halves of rows 0–3 and 4–7 joined.
    return (
        SIMD8(lowHalf: quads0.lowHalf, highHalf: quads4.lowHalf),
        SIMD8(lowHalf: quads1.lowHalf, highHalf: quads5.lowHalf),
        SIMD8(lowHalf: quads2.lowHalf, highHalf: quads6.lowHalf),
        SIMD8(lowHalf: quads3.lowHalf, highHalf: quads7.lowHalf),
        SIMD8(lowHalf: quads0.highHalf, highHalf: quads4.highHalf),
        SIMD8(lowHalf: quads1.highHalf, highHalf: quads5.highHalf),
        SIMD8(lowHalf: quads2.highHalf, highHalf: quads6.highHalf),
        SIMD8(lowHalf: quads3.highHalf, highHalf: quads7.highHalf)
    )
}

/// Transposes an 8×8 block: target[q·targetStride + i] = source[i·sourceStride + q] for q, i in
/// 0..<8, where source rows i ≥ `rows` read as zeros (rows ≤ 8): 8 depth steps of 8 columns of
/// a B̂ micro-panel (targetStride = columnTile).
@inline(__always)
func transposeFloat8x8(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int,
    target: UnsafeMutablePointer<Float>, targetStride: Int
) {
    storeRows(
        transposedFloat8x8(source: source, sourceStride: sourceStride, rows: rows), at: target,
        stride: targetStride)
}

/// Eight vectors of 8 floats (an 8×8 block in registers, one row per vector).
typealias FloatOctetRows = (
    SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>
)

/// Stores row r of `rows` at target + r · stride.
@inline(__always)
private func storeRows(_ rows: FloatOctetRows, at target: UnsafeMutablePointer<Float>, stride: Int) {
    let to = UnsafeMutableRawPointer(target)
    let toRow = stride * MemoryLayout<Float>.stride
    to.storeBytes(of: rows.0, toByteOffset: 0 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.1, toByteOffset: 1 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.2, toByteOffset: 2 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.3, toByteOffset: 3 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.4, toByteOffset: 4 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.5, toByteOffset: 5 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.6, toByteOffset: 6 * toRow, as: SIMD8<Float>.self)
    to.storeBytes(of: rows.7, toByteOffset: 7 * toRow, as: SIMD8<Float>.self)
}

/// Transposes a 6×8 block into 48 contiguous floats: target[q·6 + i] = source[i·sourceStride +
/// q] for q in 0..<8 and i in 0..<6, where source rows i ≥ `rows` read as zeros (rows ≤ 6): 8
/// depth steps of a 6-row Â micro-panel. Each step's 8 lanes are stored at q·6, in ascending
/// q, so that the next step overwrites the two extra lanes; the last step stores only its 6.
@inline(__always)
func transposeFloat6x8(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int, target: UnsafeMutablePointer<Float>
) {
    let vectors = transposedFloat8x8(source: source, sourceStride: sourceStride, rows: min(rows, 6))
    let to = UnsafeMutableRawPointer(target)
    let stepBytes = 6 * MemoryLayout<Float>.stride
    to.storeBytes(of: vectors.0, toByteOffset: 0 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.1, toByteOffset: 1 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.2, toByteOffset: 2 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.3, toByteOffset: 3 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.4, toByteOffset: 4 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.5, toByteOffset: 5 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.6, toByteOffset: 6 * stepBytes, as: SIMD8<Float>.self)
    to.storeBytes(of: vectors.7.lowHalf, toByteOffset: 7 * stepBytes, as: SIMD4<Float>.self)
    to.storeBytes(
        of: vectors.7.highHalf.lowHalf, toByteOffset: 7 * stepBytes + 4 * MemoryLayout<Float>.stride,
        as: SIMD2<Float>.self)
}

/// unpcklps: (a0, b0, a1, b1 | a4, b4, a5, b5), written lane by lane so that it compiles to
/// the one shuffle (as `evenLanes` in FloatGemm.swift).
@inline(__always)
private func interleavedLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5])
}

/// unpckhps: (a2, b2, a3, b3 | a6, b6, a7, b7).
@inline(__always)
private func interleavedHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7])
}

/// shufps 0x44: (a0, a1, b0, b1 | a4, a5, b4, b5).
@inline(__always)
private func lowPairs(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5])
}

/// shufps 0xEE: (a2, a3, b2, b3 | a6, a7, b6, b7).
@inline(__always)
private func highPairs(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7])
}

/// `transposeFloat16x16` with all 16 lanes, as four 8×8 blocks for the 256-bit family:
/// target[p·targetStride + i] = source[i·sourceStride + p] for p, i in 0..<16, where source rows
/// i ≥ `rows` read as zeros (rows ≤ 16). Source and target may be the same block: each
/// diagonal block is read whole before it is written, and the two off-diagonal ones are both
/// read before either is written.
@inline(__always)
func transposeFloat16x16By8x8(
    source: UnsafePointer<Float>, sourceStride: Int, rows: Int,
    target: UnsafeMutablePointer<Float>, targetStride: Int
) {
    let lowerSource = source + 8 * sourceStride
    let lowerTarget = target + 8 * targetStride
    @inline(__always) func transposed(_ block: UnsafePointer<Float>, rows: Int) -> FloatOctetRows {
        if rows <= 0 {
            let zero = SIMD8<Float>()
            return (zero, zero, zero, zero, zero, zero, zero, zero)
        }
        return transposedFloat8x8(source: block, sourceStride: sourceStride, rows: min(rows, 8))
    }
    storeRows(transposed(source, rows: rows), at: target, stride: targetStride)
    storeRows(transposed(lowerSource + 8, rows: rows - 8), at: lowerTarget + 8, stride: targetStride)
    let upperRight = transposed(source + 8, rows: rows)
    let lowerLeft = transposed(lowerSource, rows: rows - 8)
    storeRows(upperRight, at: lowerTarget, stride: targetStride)
    storeRows(lowerLeft, at: target + 8, stride: targetStride)
}
