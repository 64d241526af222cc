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
