/// The reference matrix product: three plain loops, no blocking, accumulated in `Double`.
///
/// C[m×n] = alpha · op(A) · op(B) + beta · C (row-major). It is the twin every fast GEMM path
/// is tested against; it is never used for training.
public func naiveGemm<Scalar: KernelScalar>(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Scalar,
    a: UnsafePointer<Scalar>, lda: Int, b: UnsafePointer<Scalar>, ldb: Int,
    beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let aValue = transposeA ? a[p * lda + i] : a[i * lda + p]
                let bValue = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                sum += aValue.doubleValue * bValue.doubleValue
            }
            let previous = beta == 0 ? 0 : beta.doubleValue * c[i * ldc + j].doubleValue
            c[i * ldc + j] = Scalar(alpha.doubleValue * sum + previous)
        }
    }
}
