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
