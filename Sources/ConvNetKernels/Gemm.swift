/// The matrix product every layer is built on (`FloatGemm.swift` is Float's fast path; `naiveGemm` the reference).
///
/// Requirements of `KernelScalar`, with default implementations below (specialised for
/// Float and Double); pointers are raw row-major buffers, sizes element counts.
public protocol MatrixKernels: BinaryFloatingPoint {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// C[m×n] = A · Bᵀ for A [m, k] and B [n, k] (both k-contiguous, row strides `lda` and
    /// `ldb`), C overwritten: a dense layer's forward x · Wᵀ. `gemm(transposeA: false,
    /// transposeB: true, …, alpha: 1, beta: 0)` up to rounding; Float takes dot products along k
    /// where C is small and k long (`FloatSkinnyGemm.dotBlocks`).
    static func denseProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension KernelScalar {
    public static func denseProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        gemm(
            transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
            beta: 0, c: c, ldc: ldc)
    }

    /// Portable GEMM used by `Double` (and by `Float` until a faster path overrides it):
    /// op(B) is copied into a contiguous k×n panel, then each row of C is built as a sum of
    /// scaled rows of that panel (an axpy the compiler vectorises). Rows of C are split
    /// between the machine's cores.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    ) {
        portableGemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

/// Row-panel GEMM in plain Swift; see `KernelScalar.gemm`.
@inline(__always)
func portableGemm<Scalar: KernelScalar>(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Scalar,
    a: UnsafePointer<Scalar>, lda: Int, b: UnsafePointer<Scalar>, ldb: Int,
    beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    // Packed op(B): k rows of n contiguous elements.
    let panel = UnsafeMutablePointer<Scalar>.allocate(capacity: max(k * n, 1))
    defer { panel.deallocate() }
    for p in 0..<k {
        let row = panel + p * n
        if transposeB {
            for j in 0..<n { row[j] = b[j * ldb + p] }
        } else {
            (row).update(from: b + p * ldb, count: n)
        }
    }
    let parts = m * n * k >= 1 << 18 ? min(ThreadPool.coreCount, m) : 1
    ThreadPool.run(
        parts: parts,
        PortableGemmRows(
            transposeA: transposeA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, panel: panel, beta: beta,
            c: c, ldc: ldc, parts: parts))
}

/// `portableGemm`'s parts: part p computes its range of rows of C.
private struct PortableGemmRows<Scalar: KernelScalar>: ParallelWork {
    /// The product (as `portableGemm`'s arguments, op(B) packed into `panel`: k rows of n).
    let transposeA: Bool
    let m: Int
    let n: Int
    let k: Int
    let alpha: Scalar
    let a: UnsafePointer<Scalar>
    let lda: Int
    let panel: UnsafePointer<Scalar>
    let beta: Scalar
    let c: UnsafeMutablePointer<Scalar>
    let ldc: Int
    /// The number of parts.
    let parts: Int

    func run(part: Int) {
        for i in (part * m / parts)..<((part + 1) * m / parts) {
            let cRow = c + i * ldc
            if beta == 0 {
                cRow.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { cRow[j] *= beta }
            }
            for p in 0..<k {
                let scale = alpha * (transposeA ? a[p * lda + i] : a[i * lda + p])
                if scale == 0 { continue }
                let bRow = panel + p * n
                for j in 0..<n { cRow[j] += scale * bRow[j] }
            }
        }
    }
}
