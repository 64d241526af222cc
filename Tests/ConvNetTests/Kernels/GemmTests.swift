import Testing

@testable import ConvNetKernels

/// Checks the packed `Float.gemm` (FloatGemm.swift) against its naive twin `naiveGemm`
/// (Double accumulation) on odd shapes, all four transpose combinations, padded strides, and
/// several alpha/beta values, including beta == 0 over NaN.
@Suite("Float GEMM against naiveGemm")
struct GemmTests {
    /// A deterministic pseudo-random generator (SplitMix64) so failures reproduce.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// One product to check: C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
    struct Case: CustomTestStringConvertible, Sendable {
        var m: Int, n: Int, k: Int
        var transposeA: Bool, transposeB: Bool
        var alpha: Float, beta: Float
        /// Extra elements beyond the minimal row stride of A, B and C.
        var padding: Int
        /// Fill C with NaN before the call (only meaningful with beta == 0).
        var nanInC: Bool

        var testDescription: String {
            "m=\(m) n=\(n) k=\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N") "
                + "alpha=\(alpha) beta=\(beta) pad=\(padding)\(nanInC ? " NaN" : "")"
        }
    }

    /// Runs one case through `Float.gemm` and `naiveGemm` and returns the largest violation of
    /// |fast − reference| ≤ tolerance · (1 + |reference|), as a ratio (≤ 1 passes), plus
    /// whether the padding between rows of C was left untouched.
    static func check(
        _ testCase: Case, seed: UInt64, family: KernelFamily = .current
    ) -> (worstRatio: Double, paddingIntact: Bool, result: [Float]) {
        var generator = SplitMix64(state: seed)
        let (m, n, k) = (testCase.m, testCase.n, testCase.k)
        // Stored shapes: A is m×k (k×m when transposed), B is k×n (n×k when transposed).
        let aRows = testCase.transposeA ? k : m
        let aColumns = testCase.transposeA ? m : k
        let bRows = testCase.transposeB ? n : k
        let bColumns = testCase.transposeB ? k : n
        let lda = aColumns + testCase.padding
        let ldb = bColumns + testCase.padding
        let ldc = n + testCase.padding
        let a = (0..<max(aRows * lda, 1)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<max(bRows * ldb, 1)).map { _ in Float.random(in: -1...1, using: &generator) }
        let sentinel: Float = 12345
        var initial = [Float](repeating: sentinel, count: max(m * ldc, 1))
        for i in 0..<m {
            for j in 0..<n {
                initial[i * ldc + j] =
                    testCase.nanInC ? .nan : Float.random(in: -1...1, using: &generator)
            }
        }
        var fast = initial
        var reference = initial
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                fast.withUnsafeMutableBufferPointer { c in
                    floatGemm(
                        transposeA: testCase.transposeA, transposeB: testCase.transposeB,
                        m: m, n: n, k: k, alpha: testCase.alpha,
                        a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                        beta: testCase.beta, c: c.baseAddress!, ldc: ldc, family: family)
                }
                reference.withUnsafeMutableBufferPointer { c in
                    naiveGemm(
                        transposeA: testCase.transposeA, transposeB: testCase.transposeB,
                        m: m, n: n, k: k, alpha: testCase.alpha,
                        a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                        beta: testCase.beta, c: c.baseAddress!, ldc: ldc)
                }
            }
        }
        // Float rounding grows roughly like sqrt(k) for random-sign sums.
        let tolerance = 1e-5 * (4 + Double(k).squareRoot())
        var worst = 0.0
        var paddingIntact = true
        for i in 0..<m {
            for j in 0..<ldc {
                let index = i * ldc + j
                if j >= n {
                    if fast[index] != sentinel { paddingIntact = false }
                    continue
                }
                let expected = Double(reference[index])
                let actual = Double(fast[index])
                let ratio =
                    actual.isFinite
                    ? abs(actual - expected) / (tolerance * (1 + abs(expected))) : .infinity
                worst = max(worst, ratio)
            }
        }
        return (worst, paddingIntact, fast)
    }

    static let sizes = [1, 2, 3, 7, 15, 17, 31, 33, 65, 129, 300]

    /// Every (m, n, k) from `sizes` would be 1331 triples × 4 transposes; this takes a fixed,
    /// spread-out subset: each size appears in each position, paired with small and large
    /// partners, plus the tile-size neighbours.
    static let shapes: [(Int, Int, Int)] = {
        var shapes: [(Int, Int, Int)] = []
        for (index, size) in sizes.enumerated() {
            let partner = sizes[(index * 7 + 3) % sizes.count]
            let other = sizes[(index * 5 + 1) % sizes.count]
            shapes.append((size, partner, other))
            shapes.append((partner, size, other))
            shapes.append((other, partner, size))
        }
        shapes += [(1, 1, 1), (14, 32, 1), (28, 64, 256), (15, 33, 257), (13, 31, 513), (300, 300, 300)]
        return shapes
    }()

    /// Every kernel family (`KernelFamily`: the AVX-512 tiles and the 256-bit ones, both
    /// run on any CPU, the other family's registers split or joined) within the tolerance of the
    /// reference, and all of them the same bits: results do not depend on the CPU.
    @Test("odd shapes, all transposes, alpha and beta, every kernel family", arguments: [false, true], [false, true])
    func oddShapes(transposeA: Bool, transposeB: Bool) {
        let scalings: [(alpha: Float, beta: Float, nanInC: Bool)] = [
            (1, 0, true), (0.5, 1, false), (1, -0.5, false), (0.5, 0, false),
        ]
        for (shapeIndex, (m, n, k)) in Self.shapes.enumerated() {
            for (scalingIndex, scaling) in scalings.enumerated() {
                let testCase = Case(
                    m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                    alpha: scaling.alpha, beta: scaling.beta,
                    padding: (shapeIndex + scalingIndex) % 3 * 3, nanInC: scaling.nanInC)
                var results: [[Float]] = []
                for family in KernelFamily.allCases {
                    let result = Self.check(testCase, seed: UInt64(shapeIndex * 16 + scalingIndex), family: family)
                    #expect(result.worstRatio <= 1, "\(testCase.testDescription) \(family)")
                    #expect(result.paddingIntact, "\(testCase.testDescription) \(family) wrote past n")
                    results.append(result.result)
                }
                #expect(
                    results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) },
                    "\(testCase.testDescription): the kernel families differ")
            }
        }
    }

    /// `floatPanelProduct` (Winograd's products on packed 8-row panels): both widths and both
    /// beta modes, every family the same bits, against Double sums.
    @Test("panel products: every kernel family the same bits")
    func panelProducts() {
        var generator = SplitMix64(state: 7)
        let depth = 37
        let a = (0..<(depth * 8)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(depth * 32)).map { _ in Float.random(in: -1...1, using: &generator) }
        let initial = (0..<(8 * 40)).map { _ in Float.random(in: -1...1, using: &generator) }
        for columns in [16, 32] {
            for beta: Float in [0, 1] {
                var results: [[Float]] = []
                for family in KernelFamily.allCases {
                    var c = initial
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            c.withUnsafeMutableBufferPointer { c in
                                floatPanelProduct(
                                    depth: depth, packedA: a.baseAddress!, packedB: b.baseAddress!,
                                    columns: columns, beta: beta, c: c.baseAddress!, ldc: 40, family: family)
                            }
                        }
                    }
                    results.append(c)
                }
                #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "columns \(columns) beta \(beta)")
                var worst = 0.0
                for i in 0..<8 {
                    for j in 0..<40 {
                        var expected = Double(initial[i * 40 + j])
                        if j < columns {
                            expected *= Double(beta)
                            for p in 0..<depth { expected += Double(a[p * 8 + i]) * Double(b[p * 32 + j]) }
                        }
                        worst = max(worst, abs(Double(results[0][i * 40 + j]) - expected))
                    }
                }
                #expect(worst <= 1e-5, "columns \(columns) beta \(beta): \(worst)")
            }
        }
    }

    @Test("k == 0 scales C by beta; beta == 0 clears NaN; m or n == 0 touches nothing")
    func degenerateSizes() {
        var c: [Float] = [1, 2, .nan, 4]
        let one: [Float] = [1]
        one.withUnsafeBufferPointer { x in
            c.withUnsafeMutableBufferPointer { c in
                Float.gemm(
                    transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1,
                    a: x.baseAddress!, lda: 1, b: x.baseAddress!, ldb: 2, beta: 0,
                    c: c.baseAddress!, ldc: 2)
            }
        }
        #expect(c == [0, 0, 0, 0])
        c = [1, 2, 3, 4]
        one.withUnsafeBufferPointer { x in
            c.withUnsafeMutableBufferPointer { c in
                Float.gemm(
                    transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1,
                    a: x.baseAddress!, lda: 1, b: x.baseAddress!, ldb: 2, beta: -0.5,
                    c: c.baseAddress!, ldc: 2)
                Float.gemm(
                    transposeA: false, transposeB: false, m: 0, n: 2, k: 3, alpha: 1,
                    a: x.baseAddress!, lda: 1, b: x.baseAddress!, ldb: 2, beta: 0,
                    c: c.baseAddress!, ldc: 2)
                Float.gemm(
                    transposeA: false, transposeB: false, m: 2, n: 0, k: 3, alpha: 1,
                    a: x.baseAddress!, lda: 1, b: x.baseAddress!, ldb: 2, beta: 0,
                    c: c.baseAddress!, ldc: 2)
            }
        }
        #expect(c == [-0.5, -1, -1.5, -2])
    }

    /// Shapes large enough to be split between threads (by columns, by rows, and by depth),
    /// shaped like the convolution products they stand for; checked on a sample of entries
    /// so the naive reference stays cheap.
    @Test(
        "large products split between threads",
        arguments: [
            // (m, n, k, transposeA, transposeB)
            (32, 4099, 147, false, false),  // forward: W · cols, split by columns
            (32, 147, 20000, false, true),  // weight gradient: dY · colsᵀ, split by depth
            (147, 2050, 32, true, false),  // input gradient: Wᵀ · dY
            (300, 77, 1000, false, false),  // split by rows
            // Skinny paths (FloatSkinnyGemm), split between threads along the long side:
            (1, 8195, 100, false, true),  // dense forward at batch 1: x · Wᵀ
            (3, 5001, 37, false, true),  // dense forward at batch 3
            (1, 8195, 100, false, false),  // dense input gradient at batch 1: dY · W
            (4, 4100, 33, true, false),  // m = 4, A transposed
            (100, 8195, 1, true, false),  // dense weight gradient at batch 1: dYᵀ · x
            (57, 3001, 4, false, false),  // rank-4 update
        ])
    func largeProducts(shape: (Int, Int, Int, Bool, Bool)) {
        let (m, n, k, transposeA, transposeB) = shape
        var generator = SplitMix64(state: UInt64(m * n + k))
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        let original = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &generator) }
        let alpha: Float = 0.75
        let beta: Float = 0.5
        // Every kernel family, the same bits (the splits between threads follow the row tile).
        let results = KernelFamily.allCases.map { family in
            var c = original
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        floatGemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            alpha: alpha, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                            beta: beta, c: c.baseAddress!, ldc: n, family: family)
                    }
                }
            }
            return c
        }
        #expect(results.allSatisfy { $0.map(\.bitPattern) == results[0].map(\.bitPattern) }, "m=\(m) n=\(n) k=\(k)")
        let c = results[0]
        let tolerance = 1e-5 * (4 + Double(k).squareRoot())
        var worst = 0.0
        // Every row, and a stride of columns that reaches both edges of every tile.
        for i in 0..<m {
            for j in stride(from: i % 5, to: n, by: 5) + [n - 1] {
                var sum = 0.0
                for p in 0..<k {
                    let aValue = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bValue = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aValue) * Double(bValue)
                }
                let expected = Double(alpha) * sum + Double(beta) * Double(original[i * n + j])
                let ratio = abs(Double(c[i * n + j]) - expected) / (tolerance * (1 + abs(expected)))
                worst = max(worst, ratio)
            }
        }
        #expect(worst <= 1, "m=\(m) n=\(n) k=\(k)")
    }

    /// `Float.denseProduct` (a dense layer's forward, C = A·Bᵀ overwritten) on the dot blocks'
    /// shapes (small C, long depth; depth split between threads, edge tiles, a k mod 16 tail)
    /// and on shapes that fall back to `gemm` (few rows, a short depth, a large C), against
    /// Double sums; C starts as NaN, which must not leak.
    @Test(
        "dense products: dot blocks and their fallbacks",
        arguments: [(64, 100, 8192), (61, 134, 1500), (7, 13, 5003), (3, 50, 4096), (64, 100, 300), (130, 90, 2048)])
    func denseProducts(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var generator = SplitMix64(state: UInt64(m * n + k))
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    Float.denseProduct(
                        m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k, c: c.baseAddress!,
                        ldc: n)
                }
            }
        }
        // The dot blocks of every kernel family, where they apply: the same bits as denseProduct's.
        for family in KernelFamily.allCases {
            if let blocks = Self.dotBlocks(a, b, m: m, n: n, k: k, family: family) {
                #expect(blocks.map(\.bitPattern) == c.map(\.bitPattern), "m=\(m) n=\(n) k=\(k) \(family)")
            }
        }
        let tolerance = 1e-5 * (4 + Double(k).squareRoot())
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[j * k + p]) }
                worst = max(worst, abs(Double(c[i * n + j]) - sum) / (tolerance * (1 + abs(sum))))
            }
        }
        #expect(worst <= 1, "m=\(m) n=\(n) k=\(k)")
    }

    /// The dot blocks' depth sets where each dot product's lanes are summed, so it is a function
    /// of the shape alone (not of the L2 the machine has): 256 KiB of copied rows, on multiples
    /// of 16, 256–2048. W1's dense layer (64 images × 100 units) sums every 384 inputs.
    @Test("dot-block depth from the shape only")
    func dotBlockDepthFollowsTheShape() {
        #expect(FloatSkinnyGemm.dotBlockDepth(m: 64, n: 100) == 384)
        #expect(FloatSkinnyGemm.dotBlockDepth(m: 8, n: 10) == 2048)
        #expect(FloatSkinnyGemm.dotBlockDepth(m: 100, n: 100) == 320)
        #expect(FloatSkinnyGemm.dotBlockDepth(m: 4096, n: 2) == 256)
    }

    /// The dot blocks' exact order of summation, written out plainly: the depth split into
    /// parts on multiples of 16 (as many as `dotBlocks` takes on this machine), each part in
    /// depth blocks of `dotBlockDepth`, each dot product of a block in 16 lanes (lane l takes
    /// the depth positions ≡ l mod 16 by multiply-adds, as `floatMultiplyAdd` rounds), the
    /// lanes summed by halves (8, 4, 2, 1), the block's depth past its last 16 added one product
    /// at a time, blocks added in order, parts added in order. Every kernel family must give
    /// these bits: they depend on the shape and the thread count only, never on the CPU.
    @Test(
        "dense products: dot blocks sum in their stated order",
        arguments: [(64, 100, 8192), (9, 7, 3001), (5, 13, 1030)])
    func dotBlocksSumInTheirStatedOrder(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var generator = SplitMix64(state: UInt64(7 * m + n + k))
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let parts = FloatSkinnyGemm.dotBlockParts(m: m, n: n, k: k)
        let blockDepth = FloatSkinnyGemm.dotBlockDepth(m: m, n: n)
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var total: Float = 0
                for part in 0..<parts {
                    let steps = (k + 15) / 16
                    let end = min(k, (part + 1) * steps / parts * 16)
                    var blockStart = min(k, part * steps / parts * 16)
                    var partSum: Float = 0
                    while blockStart < end {
                        let depth = min(blockDepth, end - blockStart)
                        var lanes = SIMD16<Float>()
                        for vector in 0..<(depth / 16) {
                            let p = blockStart + 16 * vector
                            let x = SIMD16<Float>((0..<16).map { a[i * k + p + $0] })
                            let y = SIMD16<Float>((0..<16).map { b[j * k + p + $0] })
                            lanes = floatMultiplyAdd(lanes, x, y)
                        }
                        let eight = lanes.lowHalf + lanes.highHalf
                        let four = eight.lowHalf + eight.highHalf
                        let two = four.lowHalf + four.highHalf
                        var sum = two[0] + two[1]
                        for p in (blockStart + depth / 16 * 16)..<(blockStart + depth) {
                            sum += a[i * k + p] * b[j * k + p]
                        }
                        partSum += sum
                        blockStart += depth
                    }
                    total += partSum
                }
                expected[i * n + j] = total
            }
        }
        for family in KernelFamily.allCases {
            let c = Self.dotBlocks(a, b, m: m, n: n, k: k, family: family)
            #expect(c != nil, "m=\(m) n=\(n) k=\(k): no dot blocks for this shape")
            let differing = zip(c ?? [], expected).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "m=\(m) n=\(n) k=\(k) \(family): \(differing) of \(m * n) sums differ")
        }
    }

    /// A·Bᵀ [m, n] (A [m, k], B [n, k]) by `FloatSkinnyGemm.dotBlocks` with `family`'s tiles, or
    /// nil where the shape does not take them; C starts as NaN.
    static func dotBlocks(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, family: KernelFamily) -> [Float]? {
        var c = [Float](repeating: .nan, count: m * n)
        let applied = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    FloatSkinnyGemm.dotBlocks(
                        m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k, c: c.baseAddress!,
                        ldc: n, family: family)
                }
            }
        }
        return applied ? c : nil
    }

    /// The packing's SIMD transposes against their definition, target[p·targetStride + i] =
    /// source[i·sourceStride + p] with source rows past `rows` read as zeros: the 16×16 one
    /// (AVX-512's panels and Winograd's blocks), its four-block 8×8 form (Winograd's blocks
    /// with 16 registers), the 8×8 one (B̂ panels with 16 registers) and the 6×8 one (6-row Â
    /// panels). Every row count, strides wider than the block, and the 16×16 forms in place.
    @Test("SIMD transposes: every row count, in place and not")
    func transposes() {
        let stride = 19
        let source = (0..<(16 * stride)).map { Float($0) + 0.5 }
        func expected(rows: Int, size: Int, lanes: Int, targetStride: Int, fill: Float) -> [Float] {
            var target = [Float](repeating: fill, count: size * targetStride)
            for p in 0..<size {
                for i in 0..<lanes { target[p * targetStride + i] = i < rows ? source[i * stride + p] : 0 }
            }
            return target
        }
        for rows in 0...16 {
            // 16×16, out of place (into a wider target) and in place (a 16-wide block).
            var wide = [Float](repeating: -1, count: 16 * 21)
            var byBlocks = wide
            source.withUnsafeBufferPointer { from in
                wide.withUnsafeMutableBufferPointer { to in
                    transposeFloat16x16(
                        source: from.baseAddress!, sourceStride: stride, rows: rows, target: to.baseAddress!,
                        targetStride: 21, lanes: 16)
                }
                byBlocks.withUnsafeMutableBufferPointer { to in
                    transposeFloat16x16By8x8(
                        source: from.baseAddress!, sourceStride: stride, rows: rows, target: to.baseAddress!,
                        targetStride: 21)
                }
            }
            let want = expected(rows: rows, size: 16, lanes: 16, targetStride: 21, fill: -1)
            #expect(wide == want, "16×16, rows \(rows)")
            #expect(byBlocks == want, "16×16 by 8×8 blocks, rows \(rows)")
            var block = (0..<16).flatMap { i in source[(i * stride)..<(i * stride + 16)] }
            var blockByBlocks = block
            block.withUnsafeMutableBufferPointer { block in
                transposeFloat16x16(
                    source: block.baseAddress!, sourceStride: 16, rows: 16, target: block.baseAddress!,
                    targetStride: 16, lanes: 16)
            }
            blockByBlocks.withUnsafeMutableBufferPointer { block in
                transposeFloat16x16By8x8(
                    source: block.baseAddress!, sourceStride: 16, rows: rows, target: block.baseAddress!,
                    targetStride: 16)
            }
            #expect(block == expected(rows: 16, size: 16, lanes: 16, targetStride: 16, fill: 0), "in place")
            #expect(
                blockByBlocks == expected(rows: rows, size: 16, lanes: 16, targetStride: 16, fill: 0),
                "in place by 8×8 blocks, rows \(rows)")
            guard rows >= 1 && rows <= 8 else { continue }
            var eight = [Float](repeating: -1, count: 8 * 11)
            var six = [Float](repeating: -1, count: 6 * 8 + 3)
            source.withUnsafeBufferPointer { from in
                eight.withUnsafeMutableBufferPointer { to in
                    transposeFloat8x8(
                        source: from.baseAddress!, sourceStride: stride, rows: rows, target: to.baseAddress!,
                        targetStride: 11)
                }
                six.withUnsafeMutableBufferPointer { to in
                    transposeFloat6x8(
                        source: from.baseAddress!, sourceStride: stride, rows: rows, target: to.baseAddress!)
                }
            }
            #expect(eight == expected(rows: rows, size: 8, lanes: 8, targetStride: 11, fill: -1), "8×8, rows \(rows)")
            if rows <= 6 {
                #expect(
                    six == expected(rows: rows, size: 8, lanes: 6, targetStride: 6, fill: -1) + [-1, -1, -1],
                    "6×8, rows \(rows) (nothing past the 48)")
            }
        }
    }

    /// Which scratch set serves which product depends on thread timing; every set grows to the
    /// largest sizes any set was asked for at its next use, so a set that had served only small
    /// products does not allocate later, when timing first hands it a large one.
    @Test("scratch sets grow to the pool's largest request at their next use")
    func scratchSetsGrowTogether() {
        let pool = FloatGemmScratchPool.shared
        let first = pool.checkOut()
        let second = pool.checkOut()
        defer {
            pool.giveBack(first)
            pool.giveBack(second)
        }
        first.reserve(packedA: 1 << 16, packedB: 3 << 16)
        second.reserve(packedA: 8, packedB: 8)
        #expect(second.capacityA >= 1 << 16 && second.capacityB >= 3 << 16)
        let wider = second.capacityB + 1
        second.reserve(packedA: 8, packedB: wider)
        first.reserve(packedA: 8, packedB: 8)
        #expect(first.capacityB >= wider)
    }
}
