/// Products with very few rows (m ≤ `FloatSkinnyGemm.maximumRows`: matrix–vector, a dense
/// layer at batch 1–4) or very short depth (k ≤ `FloatSkinnyGemm.maximumDepth`: rank-k
/// updates, a dense layer's weight gradient at batch 1–4). They are memory-bound: packing the
/// big operand, as the register-tiled path does, would read and write it once more than the
/// product itself needs. Here every element of the big operand is read once (or written once),
/// and the work is split between cores along the long dimension.
///
/// Same contract as `Float.gemm`; `naiveGemm` is the reference (GemmTests runs the skinny
/// shapes through both).
enum FloatSkinnyGemm {
    /// Largest m handled by the matrix–vector paths.
    static let maximumRows = 4
    /// Largest k handled by the rank-k update path.
    static let maximumDepth = 4
    /// Below this many multiply-adds the product runs on one thread.
    static let parallelThreshold = 1 << 15
    /// The dot-block path (`dotBlocks`): products A·Bᵀ with more than `maximumRows` rows, at
    /// most this many elements of C and at least `dotBlockMinimumDepth` of depth.
    static let dotBlockMaximumOutputs = 8192
    static let dotBlockMinimumDepth = 1024
    /// Bytes of the rows of A and of B one depth block of the dot-block path copies side by side.
    /// A constant, not a share of the L2 `CPUInfo` detects: the depth block sets where each dot
    /// product's lanes are summed, so one value everywhere keeps a dense layer's forward
    /// bit-identical across machines (as the GEMM's fixed KC does). 256 KiB is half of a Zen 3's
    /// 512 KiB L2, where the path was tuned (the same blocks as its earlier L2-derived depth);
    /// the 1–2 MiB L2s of Zen 4/5 and Sapphire Rapids hold it with room to spare.
    static let dotBlockBytes = 256 * 1024
    /// Depth per block of the dot-block path for m rows of A and n of B: `dotBlockBytes` of
    /// copied rows, on multiples of 16, 256–2048 (a function of the shape only).
    static func dotBlockDepth(m: Int, n: Int) -> Int {
        let depth = dotBlockBytes / ((m + n) * MemoryLayout<Float>.stride) / 16 * 16
        return min(2048, max(256, depth))
    }

    /// Parts of the depth the dot-block path sums separately (each on its own thread, added in
    /// order at the end): one per `dotBlockMinimumDepth` of depth, at most one per thread, one
    /// for a product too small to split.
    static func dotBlockParts(m: Int, n: Int, k: Int) -> Int {
        let threads = m * n * k >= parallelThreshold ? ThreadPool.coreCount : 1
        return min(threads, max(1, k / dotBlockMinimumDepth))
    }

    /// Runs the product when its shape is skinny (returns true), else does nothing (false).
    /// Requires m, n, k > 0 and alpha ≠ 0.
    static func run(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        let parts = m * n * k >= parallelThreshold ? ThreadPool.coreCount : 1
        var work = SkinnyGemmParts(
            transposeA: transposeA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc)
        if m <= maximumRows && transposeB && !transposeA {
            // C[i, j] = alpha · ⟨A row i, B row j⟩ + beta · C[i, j]: rows of B are contiguous.
            work.path = .dotProducts
            work.parts = min(parts, n)
            ThreadPool.run(parts: work.parts, work)
            return true
        }
        if m <= maximumRows && !transposeB {
            // C row i = beta · C row i + Σ_p alpha · A(i, p) · B row p, column block by block
            // (the block of C stays in L1 while the rows of B stream through).
            work.path = .rowUpdates
            work.parts = min(parts, (n + 63) / 64)
            ThreadPool.run(parts: work.parts, work)
            return true
        }
        if k <= maximumDepth && !transposeB {
            // Rank-k update, rows of C split between cores.
            work.path = .rankUpdate
            work.parts = min(parts, m)
            ThreadPool.run(parts: work.parts, work)
            return true
        }
        return false
    }

    /// C = A·Bᵀ (C overwritten) by dot blocks when C is small and the depth long (a dense
    /// layer's forward: 64 images × 100 units × 8192 inputs; `Float.denseProduct`): both
    /// operands are k-contiguous, so the packed path would transpose both while packing them and
    /// pad n to whole column tiles. Here register tiles of 4 rows of A × 6 rows of B take dot
    /// products along k, each part over its own range of k into its own copy of C, added at the
    /// end. Returns false (and does nothing) for other shapes. Only the dense layer asks for it:
    /// through `gemm`, a convolution's weight gradient (dY · colsᵀ, also small and long) would
    /// take it too, and its different rounding moved the third step of the ill-conditioned
    /// resnet20 parity run from 3.4e-6 to 5.9e-3 of PyTorch's float64 answer.
    /// `family` picks the register tiles (the same bits for every family).
    static func dotBlocks(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, family: KernelFamily = .current
    ) -> Bool {
        guard m > maximumRows, n > 0, m * n <= dotBlockMaximumOutputs, k >= dotBlockMinimumDepth else {
            return false
        }
        let parts = dotBlockParts(m: m, n: n, k: k)
        var work = SkinnyGemmParts(
            transposeA: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
        let reduction = FloatGemmScratchPool.shared.checkOut()
        let partials = reduction.partialBuffer(count: parts * m * n)
        work.path = .dotBlocks
        work.family = family
        work.parts = parts
        work.partials = partials
        ThreadPool.run(parts: parts, work)
        for i in 0..<m {
            let cRow = c + i * ldc
            for j in 0..<n {
                var sum: Float = 0
                for part in 0..<parts { sum += partials[(part * m + i) * n + j] }
                cRow[j] = sum
            }
        }
        FloatGemmScratchPool.shared.giveBack(reduction)
        return true
    }

    /// Σ x[p]·y[p], four SIMD16 accumulators.
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = SIMD16<Float>()
        var s1 = SIMD16<Float>()
        var s2 = SIMD16<Float>()
        var s3 = SIMD16<Float>()
        let rx = UnsafeRawPointer(x)
        let ry = UnsafeRawPointer(y)
        let stride = MemoryLayout<SIMD16<Float>>.size
        var p = 0
        while p + 64 <= count {
            let o = p * 4
            s0 = floatMultiplyAdd(
                s0,
                rx.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self),
                ry.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self))
            s1 = floatMultiplyAdd(
                s1,
                rx.loadUnaligned(fromByteOffset: o + stride, as: SIMD16<Float>.self),
                ry.loadUnaligned(fromByteOffset: o + stride, as: SIMD16<Float>.self))
            s2 = floatMultiplyAdd(
                s2,
                rx.loadUnaligned(fromByteOffset: o + 2 * stride, as: SIMD16<Float>.self),
                ry.loadUnaligned(fromByteOffset: o + 2 * stride, as: SIMD16<Float>.self))
            s3 = floatMultiplyAdd(
                s3,
                rx.loadUnaligned(fromByteOffset: o + 3 * stride, as: SIMD16<Float>.self),
                ry.loadUnaligned(fromByteOffset: o + 3 * stride, as: SIMD16<Float>.self))
            p += 64
        }
        while p + 16 <= count {
            s0 = floatMultiplyAdd(
                s0,
                rx.loadUnaligned(fromByteOffset: p * 4, as: SIMD16<Float>.self),
                ry.loadUnaligned(fromByteOffset: p * 4, as: SIMD16<Float>.self))
            p += 16
        }
        var sum = ((s0 + s1) + (s2 + s3)).sum()
        while p < count {
            sum += x[p] * y[p]
            p += 1
        }
        return sum
    }

    /// out[r·ldo + c] += ⟨A row r, B row c⟩ over `depth` for r < `rows` ≤ 4, c < `columns` ≤ 6:
    /// 24 SIMD16 accumulators fed per step of 16 by 4 vectors of A and 6 of B (missing rows and
    /// columns repeat the first one, and their sums are dropped), summed over the lanes at the end.
    @inline(__always)
    static func dotBlockTile(
        _ a: UnsafePointer<Float>, lda: Int, rows: Int, _ b: UnsafePointer<Float>, ldb: Int, columns: Int,
        depth: Int, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        typealias Vector = SIMD16<Float>
        @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> Vector {
            UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
        }
        let a0 = a
        let a1 = a + (rows > 1 ? lda : 0)
        let a2 = a + (rows > 2 ? 2 * lda : 0)
        let a3 = a + (rows > 3 ? 3 * lda : 0)
        let b0 = b
        let b1 = b + (columns > 1 ? ldb : 0)
        let b2 = b + (columns > 2 ? 2 * ldb : 0)
        let b3 = b + (columns > 3 ? 3 * ldb : 0)
        let b4 = b + (columns > 4 ? 4 * ldb : 0)
        let b5 = b + (columns > 5 ? 5 * ldb : 0)
        var s00 = Vector()
        var s01 = Vector()
        var s02 = Vector()
        var s03 = Vector()
        var s04 = Vector()
        var s05 = Vector()
        var s10 = Vector()
        var s11 = Vector()
        var s12 = Vector()
        var s13 = Vector()
        var s14 = Vector()
        var s15 = Vector()
        var s20 = Vector()
        var s21 = Vector()
        var s22 = Vector()
        var s23 = Vector()
        var s24 = Vector()
        var s25 = Vector()
        var s30 = Vector()
        var s31 = Vector()
        var s32 = Vector()
        var s33 = Vector()
        var s34 = Vector()
        var s35 = Vector()
        var p = 0
        while p + 16 <= depth {
            let x0 = load(a0 + p)
            let x1 = load(a1 + p)
            let x2 = load(a2 + p)
            let x3 = load(a3 + p)
            var y = load(b0 + p)
            s00 = floatMultiplyAdd(s00, x0, y)
            s10 = floatMultiplyAdd(s10, x1, y)
            s20 = floatMultiplyAdd(s20, x2, y)
            s30 = floatMultiplyAdd(s30, x3, y)
            y = load(b1 + p)
            s01 = floatMultiplyAdd(s01, x0, y)
            s11 = floatMultiplyAdd(s11, x1, y)
            s21 = floatMultiplyAdd(s21, x2, y)
            s31 = floatMultiplyAdd(s31, x3, y)
            y = load(b2 + p)
            s02 = floatMultiplyAdd(s02, x0, y)
            s12 = floatMultiplyAdd(s12, x1, y)
            s22 = floatMultiplyAdd(s22, x2, y)
            s32 = floatMultiplyAdd(s32, x3, y)
            y = load(b3 + p)
            s03 = floatMultiplyAdd(s03, x0, y)
            s13 = floatMultiplyAdd(s13, x1, y)
            s23 = floatMultiplyAdd(s23, x2, y)
            s33 = floatMultiplyAdd(s33, x3, y)
            y = load(b4 + p)
            s04 = floatMultiplyAdd(s04, x0, y)
            s14 = floatMultiplyAdd(s14, x1, y)
            s24 = floatMultiplyAdd(s24, x2, y)
            s34 = floatMultiplyAdd(s34, x3, y)
            y = load(b5 + p)
            s05 = floatMultiplyAdd(s05, x0, y)
            s15 = floatMultiplyAdd(s15, x1, y)
            s25 = floatMultiplyAdd(s25, x2, y)
            s35 = floatMultiplyAdd(s35, x3, y)
            p += 16
        }
        let tail = p
        @inline(__always) func finish(
            _ r: Int, _ x: UnsafePointer<Float>, _ sums: (Vector, Vector, Vector, Vector, Vector, Vector)
        ) {
            guard r < rows else { return }
            let row = out + r * ldo
            @inline(__always) func add(_ c: Int, _ y: UnsafePointer<Float>, _ v: Vector) {
                guard c < columns else { return }
                var sum = Float.laneSum(v)
                for q in tail..<depth { sum += x[q] * y[q] }
                row[c] += sum
            }
            add(0, b0, sums.0)
            add(1, b1, sums.1)
            add(2, b2, sums.2)
            add(3, b3, sums.3)
            add(4, b4, sums.4)
            add(5, b5, sums.5)
        }
        finish(0, a0, (s00, s01, s02, s03, s04, s05))
        finish(1, a1, (s10, s11, s12, s13, s14, s15))
        finish(2, a2, (s20, s21, s22, s23, s24, s25))
        finish(3, a3, (s30, s31, s32, s33, s34, s35))
    }

    /// `dotBlockTile` for CPUs without AVX-512 (`KernelFamily.avx2`): the same sums in passes of
    /// 2 rows × 3 columns (12 of the 16 256-bit registers accumulate; the one-pass tile's 24
    /// SIMD16 accumulators would need 48). Each accumulator's lanes sum the same products in the
    /// same order, and the finish is the same: the same bits.
    @inline(__always)
    static func dotBlockTile256(
        _ a: UnsafePointer<Float>, lda: Int, rows: Int, _ b: UnsafePointer<Float>, ldb: Int, columns: Int,
        depth: Int, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        var i = 0
        while i < rows {
            var j = 0
            while j < columns {
                dotBlockPairTile(
                    a + i * lda, lda: lda, rows: min(2, rows - i), b + j * ldb, ldb: ldb, columns: min(3, columns - j),
                    depth: depth, into: out + i * ldo + j, ldo: ldo)
                j += 3
            }
            i += 2
        }
    }

    /// One pass of `dotBlockTile256`: out[r·ldo + c] += ⟨A row r, B row c⟩ for r < `rows` ≤ 2,
    /// c < `columns` ≤ 3 (a missing row or column repeats the first one; its sums are dropped).
    /// The 16-lane accumulators are kept as halves of 8 lanes, each half's step loading 2 vectors
    /// of A and 3 of B for 6 multiply-adds (15 registers).
    @inline(never)
    static func dotBlockPairTile(
        _ a: UnsafePointer<Float>, lda: Int, rows: Int, _ b: UnsafePointer<Float>, ldb: Int, columns: Int,
        depth: Int, into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        typealias Half = SIMD8<Float>
        @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> Half {
            UnsafeRawPointer(pointer).loadUnaligned(as: Half.self)
        }
        let a0 = a
        let a1 = a + (rows > 1 ? lda : 0)
        let b0 = b
        let b1 = b + (columns > 1 ? ldb : 0)
        let b2 = b + (columns > 2 ? 2 * ldb : 0)
        var s00 = (Half(), Half())
        var s01 = (Half(), Half())
        var s02 = (Half(), Half())
        var s10 = (Half(), Half())
        var s11 = (Half(), Half())
        var s12 = (Half(), Half())
        var p = 0
        while p + 16 <= depth {
            var x0 = load(a0 + p)
            var x1 = load(a1 + p)
            var y = load(b0 + p)
            s00.0 = floatMultiplyAdd(s00.0, x0, y)
            s10.0 = floatMultiplyAdd(s10.0, x1, y)
            y = load(b1 + p)
            s01.0 = floatMultiplyAdd(s01.0, x0, y)
            s11.0 = floatMultiplyAdd(s11.0, x1, y)
            y = load(b2 + p)
            s02.0 = floatMultiplyAdd(s02.0, x0, y)
            s12.0 = floatMultiplyAdd(s12.0, x1, y)
            x0 = load(a0 + p + 8)
            x1 = load(a1 + p + 8)
            y = load(b0 + p + 8)
            s00.1 = floatMultiplyAdd(s00.1, x0, y)
            s10.1 = floatMultiplyAdd(s10.1, x1, y)
            y = load(b1 + p + 8)
            s01.1 = floatMultiplyAdd(s01.1, x0, y)
            s11.1 = floatMultiplyAdd(s11.1, x1, y)
            y = load(b2 + p + 8)
            s02.1 = floatMultiplyAdd(s02.1, x0, y)
            s12.1 = floatMultiplyAdd(s12.1, x1, y)
            p += 16
        }
        let tail = p
        @inline(__always) func finish(
            _ r: Int, _ x: UnsafePointer<Float>, _ sums: ((Half, Half), (Half, Half), (Half, Half))
        ) {
            guard r < rows else { return }
            let row = out + r * ldo
            @inline(__always) func add(_ c: Int, _ y: UnsafePointer<Float>, _ v: (Half, Half)) {
                guard c < columns else { return }
                var sum = Float.laneSum(v.0, v.1)
                for q in tail..<depth { sum += x[q] * y[q] }
                row[c] += sum
            }
            add(0, b0, sums.0)
            add(1, b1, sums.1)
            add(2, b2, sums.2)
        }
        finish(0, a0, (s00, s01, s02))
        finish(1, a1, (s10, s11, s12))
    }

    /// y[j] += scale · x[j] (vectorised by the compiler).
    @inline(__always)
    static func axpy(_ scale: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for j in 0..<count { y[j] += scale * x[j] }
    }
}

/// `FloatSkinnyGemm.run`'s parts: part p computes its range of columns of C (`.dotProducts`,
/// `.rowUpdates`, the latter on multiples of 16 columns) or of rows (`.rankUpdate`).
private struct SkinnyGemmParts: ParallelWork {
    /// The ways a skinny product is computed (see `FloatSkinnyGemm.run`).
    enum Path {
        /// C[i, j] = alpha · ⟨A row i, B row j⟩ + beta · C[i, j], columns split.
        case dotProducts
        /// C row i = beta · C row i + Σ_p alpha · A(i, p) · B row p, columns split.
        case rowUpdates
        /// The same sum for few p (rank-k update), rows split.
        case rankUpdate
        /// C = A·Bᵀ by register tiles of dot products (`FloatSkinnyGemm.dotBlockTile`), depth
        /// split: part p writes Σ over its range of k into `partials` [p, m, n].
        case dotBlocks
    }

    /// The product (as `Float.gemm`'s arguments; op(B) = B except for `.dotProducts`).
    let transposeA: Bool
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
    /// How the product is computed, and the number of parts.
    var path = Path.dotProducts
    var parts = 1
    /// `.dotBlocks`: the parts' sums, [parts, m, n].
    var partials: UnsafeMutablePointer<Float>?
    /// `.dotBlocks`: the register tiles.
    var family = KernelFamily.current

    func run(part: Int) {
        switch path {
        case .dotProducts:
            let start = part * n / parts
            let end = (part + 1) * n / parts
            for j in start..<end {
                let bRow = b + j * ldb
                for i in 0..<m {
                    let value = alpha * FloatSkinnyGemm.dot(a + i * lda, bRow, count: k)
                    c[i * ldc + j] = beta == 0 ? value : value + beta * c[i * ldc + j]
                }
            }

        case .rowUpdates:
            // Part boundaries on multiples of 16 columns.
            let blocks = (n + 15) / 16
            let start = min(n, part * blocks / parts * 16)
            let end = min(n, (part + 1) * blocks / parts * 16)
            var blockStart = start
            while blockStart < end {
                let width = min(1024, end - blockStart)
                for i in 0..<m {
                    let cRow = c + i * ldc + blockStart
                    if beta == 0 {
                        cRow.update(repeating: 0, count: width)
                    } else if beta != 1 {
                        for j in 0..<width { cRow[j] *= beta }
                    }
                    for p in 0..<k {
                        let scale = alpha * (transposeA ? a[p * lda + i] : a[i * lda + p])
                        FloatSkinnyGemm.axpy(scale, b + p * ldb + blockStart, cRow, count: width)
                    }
                }
                blockStart += width
            }

        case .dotBlocks:
            // This part's range of k, on multiples of 16, in depth blocks whose rows of A and B
            // are first copied side by side (no transposing, no padding): rows a dense layer's
            // 8192 inputs apart all fall into the same sets of L2 and evicted each other, so
            // that op(B) came from memory once per 4 rows of A (0.5 of the FMA limit).
            let steps = (k + 15) / 16
            let start = min(k, part * steps / parts * 16)
            let end = min(k, (part + 1) * steps / parts * 16)
            let out = partials! + part * m * n
            out.update(repeating: 0, count: m * n)
            let blockDepth = FloatSkinnyGemm.dotBlockDepth(m: m, n: n)
            let scratch = FloatGemmScratchPool.shared.checkOut()
            scratch.reserve(packedA: m * blockDepth, packedB: n * blockDepth)
            let rowsA = scratch.packedA
            let rowsB = scratch.packedB
            var blockStart = start
            while blockStart < end {
                let depth = min(blockDepth, end - blockStart)
                for i in 0..<m { (rowsA + i * depth).update(from: a + i * lda + blockStart, count: depth) }
                for j in 0..<n { (rowsB + j * depth).update(from: b + j * ldb + blockStart, count: depth) }
                var i = 0
                while i < m {
                    var j = 0
                    while j < n {
                        if family == .avx2 {
                            FloatSkinnyGemm.dotBlockTile256(
                                rowsA + i * depth, lda: depth, rows: min(4, m - i), rowsB + j * depth, ldb: depth,
                                columns: min(6, n - j), depth: depth, into: out + i * n + j, ldo: n)
                        } else {
                            FloatSkinnyGemm.dotBlockTile(
                                rowsA + i * depth, lda: depth, rows: min(4, m - i), rowsB + j * depth, ldb: depth,
                                columns: min(6, n - j), depth: depth, into: out + i * n + j, ldo: n)
                        }
                        j += 6
                    }
                    i += 4
                }
                blockStart += depth
            }
            FloatGemmScratchPool.shared.giveBack(scratch)

        case .rankUpdate:
            for i in (part * m / parts)..<((part + 1) * m / parts) {
                let cRow = c + i * ldc
                if beta == 0 {
                    cRow.update(repeating: 0, count: n)
                } else if beta != 1 {
                    for j in 0..<n { cRow[j] *= beta }
                }
                for p in 0..<k {
                    let scale = alpha * (transposeA ? a[p * lda + i] : a[i * lda + p])
                    FloatSkinnyGemm.axpy(scale, b + p * ldb, cRow, count: n)
                }
            }
        }
    }
}

extension Float {
    /// C = A·Bᵀ, C overwritten (`MatrixKernels.denseProduct`): dot blocks where C is small and
    /// the depth long (`FloatSkinnyGemm.dotBlocks`), else `gemm`.
    public static func denseProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if FloatSkinnyGemm.dotBlocks(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) { return }
        gemm(
            transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
            beta: 0, c: c, ldc: ldc)
    }
}
