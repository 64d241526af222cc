// Winograd's minimal filtering F(4×4, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016). Each 4×4 block of outputs of one filter
// is computed from the 6×6 block of input around it as
//
//     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// where g_c is the 3×3 filter of channel c, d_c the 6×6 input tile and ⊙ the element-wise
// product. The 36 positions ξ of the 6×6 transformed tiles are independent, so the channel sum
// becomes 36 matrix products: M[ξ] (K × T) = U[ξ] (K × C) · V[ξ] (C × T) over the T tiles of a
// group of images. That is 36·K·C·T multiply-adds where the direct convolution needs
// 9·16·K·C·T: 4 times fewer; the transforms are a few additions per tile value.
//
// The interpolation points are 0, ±1, ±2 and ∞:
//
//     Bᵀ = [ 4   0  −5   0   1   0 ]      G = [  1/4     0     0  ]      Aᵀ = [ 1  1   1  1   1  0 ]
//          [ 0  −4  −4   1   1   0 ]          [ −1/6  −1/6  −1/6 ]           [ 0  1  −1  2  −2  0 ]
//          [ 0   4  −4  −1   1   0 ]          [ −1/6   1/6  −1/6 ]           [ 0  1   1  4   4  0 ]
//          [ 0  −2  −1   2   1   0 ]          [ 1/24  1/12   1/6 ]           [ 0  1  −1  8  −8  1 ]
//          [ 0   2  −1  −2   1   0 ]          [ 1/24 −1/12   1/6 ]
//          [ 0   4   0  −5   0   1 ]          [   0     0     1  ]
//
// Rounding: the transforms scale values by up to 8² in the output transform, so Float results
// differ from the direct sum by more than im2col's do: the tests bound the difference at 2e-5
// of the output's scale (max |y|) for sums of up to 9216 products (1024 channels × 9), and check
// the same code in Double against the direct sum to 1e-12 (measured in Float: at most 7.4e-6 of
// max |y| on the test cases, 6e-6 with 64 channels). Double layers keep im2col (their gradients
// match PyTorch's float64 autograd to the last digits); Float layers choose per shape.
//
// Layout of one call (one thread, a group of images), so that the products run from cache:
//   U       [36, ⌈K/8⌉, C, 8]   transformed filters, in the GEMM's packed-Â panels of 8 filters
//                               (computed once per pass, shared by the threads)
//   padded  [images, C, tilesHigh·4 + 2, tilesWide·4 + 2]   the group's input, zero-padded
//   then, for each block of 32 tiles (the last one 16 when that covers it):
//   V       [36, C, 32]         the block's transformed input tiles: packed-B̂ panels, one per ξ
//   M       [36, chunk, 32]     the products U[ξ] · V[ξ] for a chunk of filters
//                               (`filterChunk`: V and M stay within the core's L2)
// The transforms work on 16 tiles at once, one tile per SIMD lane; each product is one
// micro-kernel call per 8 filters (`winogradPanelProduct`), with no packing.

/// Winograd F(4×4, 3×3): which convolutions it applies to and how much scratch it needs.
public enum Winograd {
    /// Output block edge (m) and input tile edge (m + r − 1).
    public static let outputTile = 4
    public static let inputTile = 6
    /// SIMD lanes: tiles transformed at once.
    static let lanes = 16

    /// Whether a convolution can run as Winograd F(4×4, 3×3): a 3×3 kernel, stride 1,
    /// dilation 1, one group, not ceil mode.
    public static func applies(to g: WindowGeometry, groups: Int) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
            && g.dilationHeight == 1 && g.dilationWidth == 1 && groups == 1 && !g.ceilMode
            && g.outputHeight > 0 && g.outputWidth > 0
    }

    /// 4×4 output blocks per image: (rows, columns).
    public static func tiles(_ g: WindowGeometry) -> (high: Int, wide: Int) {
        ((g.outputHeight + outputTile - 1) / outputTile, (g.outputWidth + outputTile - 1) / outputTile)
    }

    /// Tiles per block of the products (the micro-kernel's columns) and per transform group
    /// (the SIMD lanes).
    static let tileBlock = 32

    /// Tiles of `g.batch` images, rounded up to whole blocks of `tileBlock`.
    public static func tileColumns(_ g: WindowGeometry) -> Int {
        let (high, wide) = tiles(g)
        return (g.batch * high * wide + tileBlock - 1) / tileBlock * tileBlock
    }

    /// Filter rows of the transformed filters: K rounded up to whole panels of 8.
    public static func paddedFilters(_ filters: Int) -> Int { (filters + 7) / 8 * 8 }

    /// Elements of the transformed filters for K filters over C channels: 36·⌈K/8⌉·8·C.
    public static func transformedFilterCount(filters: Int, channels: Int) -> Int {
        36 * paddedFilters(filters) * channels
    }

    /// Filters whose products are held at once (a multiple of 8, at most K rounded up): as many
    /// as keep a block's V and M (36·(C + chunk)·32 floats) within 3/4 of the core's L2
    /// (`CPUInfo`; 1 MiB when unknown), at least 8. Results do not depend on it.
    public static func filterChunk(channels: Int, filters: Int) -> Int {
        let level2 = CPUInfo.current.level2CacheBytes > 0 ? CPUInfo.current.level2CacheBytes : 1 << 20
        let budget = level2 * 3 / 4 / (36 * tileBlock * MemoryLayout<Float>.size)
        return min(paddedFilters(filters), max(8, (budget - channels) / 8 * 8))
    }

    /// Scratch elements one `winogradConvolve` call needs for the images of `g` (g.batch of
    /// them) and K = `filters`: the padded input, one block's V and M, and the transforms'
    /// buffers.
    public static func scratchCount(_ g: WindowGeometry, filters: Int) -> Int {
        let (high, wide) = tiles(g)
        let padded = g.batch * g.channels * (high * outputTile + 2) * (wide * outputTile + 2)
        let blocks = 36 * (g.channels + filterChunk(channels: g.channels, filters: filters)) * tileBlock
        return alignmentSlack + blocks + padded + paddedSlack + transformBufferCount(columns: tileColumns(g))
    }

    /// Elements before V that align it to 64 bytes (the micro-kernel's aligned loads).
    static let alignmentSlack = 16

    /// Vectors between the passes of the transforms: 36 for the two passes, 48 for the input
    /// transform's gathered rows (16 of them shared with the output transform's transpose).
    static let transformVectors = 84

    /// Scalar elements that hold the transforms' vectors (64-byte aligned) and the 3 tables of
    /// one `Int` per tile column, counted for the smallest scalar (Float: two per `Int`).
    static func transformBufferCount(columns: Int) -> Int {
        16 + transformVectors * lanes + 2 * 3 * columns
    }

    /// Elements after the padded input that the input transform's 8-wide row loads may read (2
    /// past the last block's rows), kept in the scratch so that no read leaves it.
    static let paddedSlack = 8

    /// The geometry of the input gradient of a Winograd convolution: dX = conv3×3(dY, W
    /// rotated by 180° with input and output channels swapped), with padding 2 − p. Nil when
    /// p > 2 (the gradient would need negative padding).
    public static func inputGradientGeometry(_ g: WindowGeometry, filters: Int) -> WindowGeometry? {
        guard g.paddingHeight <= 2, g.paddingWidth <= 2 else { return nil }
        return WindowGeometry(
            batch: g.batch, channels: filters, height: g.outputHeight, width: g.outputWidth, kernelHeight: 3,
            kernelWidth: 3, strideHeight: 1, strideWidth: 1, paddingHeight: 2 - g.paddingHeight,
            paddingWidth: 2 - g.paddingWidth)
    }
}

/// Winograd F(4×4, 3×3) convolutions (`Winograd.swift`); `naiveConvolution` is the reference.
///
/// Requirements of `KernelScalar` with default implementations below, specialised for Float
/// and Double. (Codable is stated because `SIMDScalar`'s same-type constraints on Self imply
/// it, and the compiler warns when it is left implied; `KernelScalar` is Codable anyway.)
public protocol WinogradKernels: BinaryFloatingPoint, SIMDScalar, Codable {
    /// U[ξ][k][c] = (G (s_k g_kc) Gᵀ)[ξ] for weights [K, C, 3, 3] and per-filter factors s
    /// (`scale`, a folded BatchNorm's; 1 when nil), computed in Double, stored in panels of 8
    /// filters: element (ξ, k, c) at ((ξ·⌈K/8⌉ + k/8)·C + c)·8 + k%8, rows past K zero
    /// (`Winograd.transformedFilterCount` elements). With `flipped`, the filters of the
    /// input-gradient convolution instead: g'_ck = g_kc rotated by 180°, C filters over K
    /// channels (`scale` must be nil).
    static func winogradTransformFilters(
        _ weight: UnsafePointer<Self>, filters: Int, channels: Int, flipped: Bool, scale: UnsafePointer<Self>?,
        into transformed: UnsafeMutablePointer<Self>)
    /// products[8 × columns] (rows `Winograd.tileBlock` apart) = Û · V̂ for one panel of 8
    /// transformed filters [depth, 8] and a block of transformed tiles [depth, tileBlock],
    /// `columns` 32 or 16 (the block's left half); both 64-byte aligned. Float: the GEMM's
    /// micro-kernel; otherwise a plain triple loop.
    static func winogradPanelProduct(
        depth: Int, filters: UnsafePointer<Self>, tiles: UnsafePointer<Self>, columns: Int,
        into products: UnsafeMutablePointer<Self>)
    /// y [N, K, H', W'] = conv3×3(x [N, C, H, W]) (+ bias[K]) (then ReLU when `rectify`), on the
    /// calling thread, for the `geometry.batch` images of `geometry` (stride 1, padding as
    /// given; `Winograd.applies`). `transformed` comes from `winogradTransformFilters`;
    /// `scratch` holds `Winograd.scratchCount(geometry, filters:)` elements.
    static func winogradConvolve(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        transformedFilters transformed: UnsafePointer<Self>, bias: UnsafePointer<Self>?, rectify: Bool,
        output: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>)
    /// max(0, v) lane by lane, NaN kept: the fused ReLU of the Winograd output transform and of the
    /// direct forward. A requirement so that Float's is concrete code (one vmaxps); the same expression
    /// inside the generic transform, even specialised, compiled to a loop over the lanes (13 % of W3's step).
    static func rectified(_ vector: SIMD16<Self>) -> SIMD16<Self>
    /// Whether layers of this type use Winograd where it applies: Float yes; Double no (its
    /// im2col sums match PyTorch's float64 autograd to the last digits, Winograd's to ~1e-13).
    static var winogradIsPreferred: Bool { get }
    /// target[p·targetStride + i] = source[i·sourceStride + p] for p in 0..<16, i in 0..<lanes
    /// (lanes ≤ 16), source rows i ≥ `rows` reading as zeros: the transforms' 16 × 16 transpose.
    static func transpose16x16(
        source: UnsafePointer<Self>, sourceStride: Int, rows: Int, target: UnsafeMutablePointer<Self>,
        targetStride: Int, lanes: Int)
}

extension Float {
    public static var winogradIsPreferred: Bool { true }

    @inline(__always)
    public static func rectified(_ vector: SIMD16<Float>) -> SIMD16<Float> {
        var result = vector
        result.replace(with: SIMD16<Float>(), where: result .< SIMD16<Float>())
        return result
    }

    /// One 8×32 (or 8×16) product of the GEMM's micro-kernels (`floatPanelProduct`: one call
    /// with AVX-512, 4×16 calls on 256-bit vectors).
    @inline(__always)
    public static func winogradPanelProduct(
        depth: Int, filters: UnsafePointer<Float>, tiles: UnsafePointer<Float>, columns: Int,
        into products: UnsafeMutablePointer<Float>
    ) {
        floatPanelProduct(
            depth: depth, packedA: filters, packedB: tiles, columns: columns, c: products, ldc: Winograd.tileBlock)
    }

    /// The GEMM's SIMD transpose (`transposeFloat16x16`, or four 8×8 blocks where 16 vectors of
    /// 16 floats would not fit the registers); source and target may be the same block.
    @inline(__always)
    public static func transpose16x16(
        source: UnsafePointer<Float>, sourceStride: Int, rows: Int, target: UnsafeMutablePointer<Float>,
        targetStride: Int, lanes: Int
    ) {
        if lanes == 16 && KernelFamily.current == .avx2 {
            transposeFloat16x16By8x8(
                source: source, sourceStride: sourceStride, rows: rows, target: target, targetStride: targetStride)
            return
        }
        transposeFloat16x16(
            source: source, sourceStride: sourceStride, rows: rows, target: target, targetStride: targetStride,
            lanes: lanes)
    }
}

extension KernelScalar {
    public static var winogradIsPreferred: Bool { false }

    public static func rectified(_ vector: SIMD16<Self>) -> SIMD16<Self> {
        var result = vector
        result.replace(with: SIMD16<Self>(), where: result .< SIMD16<Self>())
        return result
    }

    public static func winogradPanelProduct(
        depth: Int, filters: UnsafePointer<Self>, tiles: UnsafePointer<Self>, columns: Int,
        into products: UnsafeMutablePointer<Self>
    ) {
        for row in 0..<8 {
            for column in 0..<columns {
                var sum: Self = 0
                for p in 0..<depth { sum += filters[p * 8 + row] * tiles[p * Winograd.tileBlock + column] }
                products[row * Winograd.tileBlock + column] = sum
            }
        }
    }

    /// Element by element, through a copy of the block (source and target may be the same).
    public static func transpose16x16(
        source: UnsafePointer<Self>, sourceStride: Int, rows: Int, target: UnsafeMutablePointer<Self>,
        targetStride: Int, lanes: Int
    ) {
        withUnsafeTemporaryAllocation(of: Self.self, capacity: 256) { block in
            for i in 0..<16 {
                for p in 0..<16 { block[p * 16 + i] = i < rows ? source[i * sourceStride + p] : 0 }
            }
            for p in 0..<16 {
                for i in 0..<lanes { target[p * targetStride + i] = block[p * 16 + i] }
            }
        }
    }

    public static func winogradTransformFilters(
        _ weight: UnsafePointer<Self>, filters: Int, channels: Int, flipped: Bool, scale: UnsafePointer<Self>?,
        into transformed: UnsafeMutablePointer<Self>
    ) {
        precondition(!flipped || scale == nil, "a folded scale applies to the forward filters only")
        // (G g) for a column (g0, g1, g2) of the filter, in Double, written 6 values `stride` apart.
        func interpolate(
            _ g0: Double, _ g1: Double, _ g2: Double, into target: UnsafeMutablePointer<Double>, stride: Int
        ) {
            target[0] = g0 / 4
            target[stride] = -(g0 + g1 + g2) / 6
            target[2 * stride] = -(g0 - g1 + g2) / 6
            target[3 * stride] = g0 / 24 + g1 / 12 + g2 / 6
            target[4 * stride] = g0 / 24 - g1 / 12 + g2 / 6
            target[5 * stride] = g2
        }
        // Rows are the filters of the convolution these filters run (C of them when flipped),
        // columns its input channels.
        let (rows, columns) = flipped ? (channels, filters) : (filters, channels)
        let panels = Winograd.paddedFilters(rows) / 8
        transformed.update(repeating: 0, count: Winograd.transformedFilterCount(filters: rows, channels: columns))
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 18 + 36) { buffer in
            let left = buffer.baseAddress!  // G g: 6×3, row-major
            let full = left + 18  // (G g) Gᵀ: 6×6, row-major
            for k in 0..<filters {
                for c in 0..<channels {
                    let filter = weight + (k * channels + c) * 9
                    func tap(_ i: Int, _ j: Int) -> Double {
                        flipped ? filter[(2 - i) * 3 + (2 - j)].doubleValue : filter[i * 3 + j].doubleValue
                    }
                    for j in 0..<3 { interpolate(tap(0, j), tap(1, j), tap(2, j), into: left + j, stride: 3) }
                    for i in 0..<6 {
                        interpolate(left[i * 3], left[i * 3 + 1], left[i * 3 + 2], into: full + i * 6, stride: 1)
                    }
                    let (row, column) = flipped ? (c, k) : (k, c)
                    let factor = scale.map { $0[k].doubleValue } ?? 1
                    for position in 0..<36 {
                        transformed[((position * panels + row / 8) * columns + column) * 8 + row % 8] =
                            Self(full[position] * factor)
                    }
                }
            }
        }
    }

    public static func winogradConvolve(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        transformedFilters transformed: UnsafePointer<Self>, bias: UnsafePointer<Self>?, rectify: Bool,
        output: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>
    ) {
        let g = geometry
        let channels = g.channels
        let (tilesHigh, tilesWide) = Winograd.tiles(g)
        let tilesPerImage = tilesHigh * tilesWide
        let tileCount = g.batch * tilesPerImage
        let columns = Winograd.tileColumns(g)
        let block = Winograd.tileBlock
        let panels = Winograd.paddedFilters(filters) / 8
        let chunk = Winograd.filterChunk(channels: channels, filters: filters)
        let paddedWidth = tilesWide * 4 + 2
        let paddedHeight = tilesHigh * 4 + 2
        let paddedPlane = paddedHeight * paddedWidth
        let outputPlane = g.outputHeight * g.outputWidth
        let transformedInput = UnsafeMutableRawPointer(scratch).alignedUp(toMultipleOf: 64)
            .assumingMemoryBound(to: Self.self)  // V [36, C, block]
        let products = transformedInput + 36 * channels * block  // M [36, chunk, block]
        let padded = products + 36 * chunk * block

        // The group's input, zero-padded: [images, C, paddedHeight, paddedWidth].
        // The image fits: paddedWidth = 4·⌈W'/4⌉ + 2 ≥ W' + 2 = W + 2p (rows alike).
        padded.update(repeating: 0, count: g.batch * channels * paddedPlane + Winograd.paddedSlack)
        let plane = g.height * g.width
        for planeIndex in 0..<(g.batch * channels) {
            let source = input + planeIndex * plane
            let target = padded + planeIndex * paddedPlane + g.paddingHeight * paddedWidth + g.paddingWidth
            for y in 0..<g.height {
                (target + y * paddedWidth).update(from: source + y * g.width, count: g.width)
            }
        }

        // Per tile, computed once (integer divisions are slow in the lane loops): its corner in
        // channel 0 of the padded input, its output block's offset (filter 0) and the block's
        // rows and columns. The transforms' own buffers, after the padded input in the scratch
        // (not withUnsafeTemporaryAllocation: buffers this size go to the heap on every call):
        // 84 vectors between the passes of the transforms, 64-byte aligned, then the tile tables.
        let tail = UnsafeMutableRawPointer(padded + g.batch * channels * paddedPlane + Winograd.paddedSlack)
            .alignedUp(toMultipleOf: 64)
        let between = tail.bindMemory(to: SIMD16<Self>.self, capacity: Winograd.transformVectors)
        let corners = (tail + Winograd.transformVectors * MemoryLayout<SIMD16<Self>>.stride)
            .bindMemory(to: Int.self, capacity: 3 * columns)
        let outputOffsets = corners + columns
        let extents = outputOffsets + columns
        for tile in 0..<columns {
            // Lanes past the last tile read tile 0's block; their results are never written.
            let valid = tile < tileCount
            let image = valid ? tile / tilesPerImage : 0
            let within = valid ? tile - image * tilesPerImage : 0
            let tileRow = within / tilesWide
            let tileColumn = within - tileRow * tilesWide
            corners[tile] = image * channels * paddedPlane + tileRow * 4 * paddedWidth + tileColumn * 4
            outputOffsets[tile] = image * filters * outputPlane + tileRow * 4 * g.outputWidth + tileColumn * 4
            extents[tile] = min(4, g.outputHeight - tileRow * 4) << 8 | min(4, g.outputWidth - tileColumn * 4)
        }

        var first = 0
        while first < tileCount {
            // A block of 32 tiles, or 16 when that covers the rest.
            let valid = min(block, tileCount - first)
            let width = valid > Winograd.lanes ? block : Winograd.lanes
            // V[ξ][c][·] = Bᵀ d B, channel by channel, 16 tiles at a time.
            for c in 0..<channels {
                for half in stride(from: 0, to: width, by: Winograd.lanes) {
                    winogradTransformInputGroup(
                        padded: padded + c * paddedPlane, paddedWidth: paddedWidth, corners: corners + first + half,
                        into: transformedInput + c * block + half, positionStride: channels * block, between: between)
                }
            }
            // For each chunk of filters: M[ξ] = U[ξ] · V[ξ], 8 filters per micro-kernel call,
            // then Y = Aᵀ m A (+ bias, ReLU) into NCHW, 16 tiles at a time.
            var chunkStart = 0
            while chunkStart < filters {
                let chunkRows = min(chunk, panels * 8 - chunkStart)
                for position in 0..<36 {
                    for panel in 0..<(chunkRows / 8) {
                        Self.winogradPanelProduct(
                            depth: channels,
                            filters: transformed + (position * panels + chunkStart / 8 + panel) * channels * 8,
                            tiles: transformedInput + position * channels * block, columns: width,
                            into: products + (position * chunk + panel * 8) * block)
                    }
                }
                for k in chunkStart..<min(filters, chunkStart + chunkRows) {
                    let offset = bias.map { $0[k] } ?? 0
                    for half in stride(from: 0, to: valid, by: Winograd.lanes) {
                        winogradTransformOutputGroup(
                            products: products + (k - chunkStart) * block + half, positionStride: chunk * block,
                            lanes: min(Winograd.lanes, valid - half), outputOffsets: outputOffsets + first + half,
                            extents: extents + first + half, outputWidth: g.outputWidth, bias: offset,
                            rectify: rectify, output: output + k * outputPlane, between: between)
                    }
                }
                chunkStart += chunkRows
            }
            first += block
        }
    }

    /// Bᵀ d B for 16 tiles whose 6×6 input blocks start at `corners[0..<16]` in the padded
    /// buffer (lanes past the last tile read tile 0's block and are never used), written to
    /// V[ξ] at `target + ξ · positionStride`. Reads 8 values per block row (2 past the block:
    /// the padded buffer has that slack at its end); `between` holds 84 vectors.
    @inline(__always)
    static func winogradTransformInputGroup(
        padded: UnsafePointer<Self>, paddedWidth: Int, corners: UnsafePointer<Int>,
        into target: UnsafeMutablePointer<Self>, positionStride: Int, between t: UnsafeMutablePointer<SIMD16<Self>>
    ) {
        typealias Vector = SIMD16<Self>
        // Gathered with whole-row loads, not lane by lane: for each pair of block rows (2k,
        // 2k + 1), every tile's two rows (8 values each, 6 used) make one 16-value row, and the
        // 16 × 16 transpose turns those into one vector per position: position (r, c) of the
        // 16 tiles is t[36 + 16·(r / 2) + 8·(r % 2) + c].
        let gathered = UnsafeMutableRawPointer(t + 36).assumingMemoryBound(to: Self.self)
        for pair in 0..<3 {
            let block = gathered + 256 * pair
            for lane in 0..<16 {
                let first = padded + corners[lane] + 2 * pair * paddedWidth
                let upper = UnsafeRawPointer(first).loadUnaligned(as: SIMD8<Self>.self)
                let lower = UnsafeRawPointer(first + paddedWidth).loadUnaligned(as: SIMD8<Self>.self)
                UnsafeMutableRawPointer(block + 16 * lane).storeBytes(
                    of: Vector(lowHalf: upper, highHalf: lower), as: Vector.self)
            }
            Self.transpose16x16(source: block, sourceStride: 16, rows: 16, target: block, targetStride: 16, lanes: 16)
        }
        func load(_ row: Int, _ column: Int) -> Vector {
            t[36 + 16 * (row / 2) + 8 * (row % 2) + column]
        }
        // Columns first: t[i][j] = (Bᵀ d)[i][j].
        for j in 0..<6 {
            let d0 = load(0, j)
            let d1 = load(1, j)
            let d2 = load(2, j)
            let d3 = load(3, j)
            let d4 = load(4, j)
            let d5 = load(5, j)
            t[0 * 6 + j] = 4 * d0 - 5 * d2 + d4
            t[1 * 6 + j] = -4 * (d1 + d2) + d3 + d4
            t[2 * 6 + j] = 4 * (d1 - d2) - d3 + d4
            t[3 * 6 + j] = 2 * (d3 - d1) - d2 + d4
            t[4 * 6 + j] = 2 * (d1 - d3) - d2 + d4
            t[5 * 6 + j] = 4 * d1 - 5 * d3 + d5
        }
        // Then rows: V[i][·] = t[i][·] B.
        for i in 0..<6 {
            let r0 = t[i * 6]
            let r1 = t[i * 6 + 1]
            let r2 = t[i * 6 + 2]
            let r3 = t[i * 6 + 3]
            let r4 = t[i * 6 + 4]
            let r5 = t[i * 6 + 5]
            func store(_ j: Int, _ value: Vector) {
                UnsafeMutableRawPointer(target + (i * 6 + j) * positionStride).storeBytes(of: value, as: Vector.self)
            }
            store(0, 4 * r0 - 5 * r2 + r4)
            store(1, -4 * (r1 + r2) + r3 + r4)
            store(2, 4 * (r1 - r2) - r3 + r4)
            store(3, 2 * (r3 - r1) - r2 + r4)
            store(4, 2 * (r1 - r3) - r2 + r4)
            store(5, 4 * r1 - 5 * r3 + r5)
        }
    }

    /// Aᵀ m A for `lanes` tiles (at most 16) of one filter, + bias, ReLU, written into their
    /// output blocks: tile l's block starts at `output + outputOffsets[l]` and has
    /// `extents[l] >> 8` rows and `extents[l] & 255` columns (edge blocks are cut at the output's size).
    /// `between` holds 52 vectors.
    @inline(__always)
    static func winogradTransformOutputGroup(
        products: UnsafePointer<Self>, positionStride: Int, lanes: Int, outputOffsets: UnsafePointer<Int>,
        extents: UnsafePointer<Int>, outputWidth: Int, bias: Self, rectify: Bool, output: UnsafeMutablePointer<Self>,
        between t: UnsafeMutablePointer<SIMD16<Self>>
    ) {
        typealias Vector = SIMD16<Self>
        func load(_ position: Int) -> Vector {
            UnsafeRawPointer(products + position * positionStride).loadUnaligned(as: Vector.self)
        }
        // Columns first: t[i][j] = (Aᵀ m)[i][j], i < 4.
        for j in 0..<6 {
            let m0 = load(0 * 6 + j)
            let m1 = load(1 * 6 + j)
            let m2 = load(2 * 6 + j)
            let m3 = load(3 * 6 + j)
            let m4 = load(4 * 6 + j)
            let m5 = load(5 * 6 + j)
            t[0 * 6 + j] = m0 + m1 + m2 + m3 + m4
            t[1 * 6 + j] = m1 - m2 + 2 * (m3 - m4)
            t[2 * 6 + j] = m1 + m2 + 4 * (m3 + m4)
            t[3 * 6 + j] = m1 - m2 + 8 * (m3 - m4) + m5
        }
        // Rows next: y[i][c] = (t A)[i][c] + bias (then ReLU), one vector per output position
        // (i, c) of the 16 tiles, at t[36 + 4i + c].
        let offset = Vector(repeating: bias)
        for i in 0..<4 {
            let r0 = t[i * 6]
            let r1 = t[i * 6 + 1]
            let r2 = t[i * 6 + 2]
            let r3 = t[i * 6 + 3]
            let r4 = t[i * 6 + 4]
            let r5 = t[i * 6 + 5]
            var y0 = r0 + r1 + r2 + r3 + r4 + offset
            var y1 = r1 - r2 + 2 * (r3 - r4) + offset
            var y2 = r1 + r2 + 4 * (r3 + r4) + offset
            var y3 = r1 - r2 + 8 * (r3 - r4) + r5 + offset
            if rectify {
                y0 = rectified(y0)
                y1 = rectified(y1)
                y2 = rectified(y2)
                y3 = rectified(y3)
            }
            t[36 + i * 4] = y0
            t[36 + i * 4 + 1] = y1
            t[36 + i * 4 + 2] = y2
            t[36 + i * 4 + 3] = y3
        }
        // Transposed (16 × 16: position-major to tile-major) into t[0..<16], so that each tile's
        // 4×4 block is one vector whose rows go out as 4-element stores, not lane by lane.
        let positions = UnsafeMutableRawPointer(t + 36).assumingMemoryBound(to: Self.self)
        let blocks = UnsafeMutableRawPointer(t).assumingMemoryBound(to: Self.self)
        Self.transpose16x16(source: positions, sourceStride: 16, rows: 16, target: blocks, targetStride: 16, lanes: 16)
        for lane in 0..<lanes {
            let rows = extents[lane] >> 8
            let columns = extents[lane] & 255
            let block = blocks + lane * 16
            let corner = output + outputOffsets[lane]
            if columns == 4 {
                for i in 0..<rows {
                    UnsafeMutableRawPointer(corner + i * outputWidth).storeBytes(
                        of: UnsafeRawPointer(block + 4 * i).loadUnaligned(as: SIMD4<Self>.self), as: SIMD4<Self>.self)
                }
            } else {
                for i in 0..<rows {
                    (corner + i * outputWidth).update(from: block + 4 * i, count: columns)
                }
            }
        }
    }
}
