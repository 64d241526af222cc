// The forward pass of few-channel stride-1 convolutions computed directly, without im2col:
//
//     y[n, f, y, x] = b[f] + Σ_c Σ_i Σ_j W[f, c, i, j] · X[n, c, y + i − p, x + j − p]
//
// Through im2col a layer with few input channels and a large kernel (W1's 3 → 32 7×7: depth
// K = 147) unfolds every image into K rows per output position (600 KB per 32×32 image) and
// then runs a GEMM whose depth is too short for its packing to pay: 0.45 of the FMA limit,
// measured. Here the sum runs over the taps with the input read in place.
//
// The layout is the direct weight gradient's (`DirectWeightGradient.swift`): the input is
// zero-padded into rows of S = W' + kw − 1 = W + 2p columns, so that the input value under tap
// (i, j) of output position (y, x) is at y·S + x + i·S + j, and the output plane is a run of
// SIMD vectors (`DirectPlaneLayout`: flat in rows of S, or by rows of whole vectors, whichever
// has fewer) whose vector k starts at a known input offset: every tap of a vector is one load.
// One register tile holds 8 filters × 3 vectors of the run: 24 accumulators, fed per tap by 3
// input vectors and 8 broadcast weights. Lanes of the run that are no output position (the
// zero columns of rows of S, the columns past W' of rows of whole vectors, the vectors past
// the run's end) are computed from the zero padding or neighbouring input and dropped when
// the rows are copied out (with the bias and the ReLU). Where the run is the output plane
// itself (W1's rows of 32 in two vectors), tiles add the bias, apply the ReLU and store into
// the output, with no copy. With a fused 2×2 max pool (inference), the products are pooled
// into the output one window at a time; on 256-bit vectors (`KernelFamily.avx2`) Float takes
// the pooled forward of `DirectConvolutionPooled.swift` instead, which pools in registers.
//
// Layout of one call (one thread, `g.batch` images, one at a time), in `scratch`:
//   input    [C, Px]   X zero-padded, padded row r = input row r − p; Px leaves room for the
//                      last tile's reach (`DirectPlaneLayout.inputPlane`), rounded up to 16
//   products [F8, L]   the output planes as runs of whole tiles, L = 48·⌈vectors/3⌉, F8 =
//                      8·⌈F/8⌉ (in place: only the vectors past the run, 8 × 3 vectors)
// and the caller's packed weights [F8/8, C·kh·kw, 8] (`directConvolutionPackWeights`).

/// The direct forward convolution of few-channel stride-1 layers: which layers take it and how
/// much memory it needs.
public enum DirectConvolution {
    /// Filters per register tile: the packed weights come in blocks of this many filters.
    public static let filterBlock = 8
    /// Vectors of the output run per register tile.
    static let tileVectors = 3
    /// Layers with at most this many input channels (per group of one) run the direct forward
    /// where it applies; wider layers have a GEMM depth C·kh·kw long enough for im2col + GEMM
    /// or take Winograd.
    public static let maximumChannels = 4

    /// Whether `directConvolve` computes this convolution: stride 1, dilation 1, one group, not
    /// ceil mode, a non-empty output (the conditions of the direct weight gradient).
    public static func applies(to g: WindowGeometry, groups: Int) -> Bool {
        DirectWeightGradient.applies(to: g, groups: groups)
    }

    /// Vectors of the output run rounded up to whole tiles.
    static func tiledVectors(_ g: WindowGeometry) -> Int {
        (DirectPlaneLayout(g).vectors + tileVectors - 1) / tileVectors * tileVectors
    }
    /// L: one output plane as a run of whole tiles.
    static func productPlane(_ g: WindowGeometry) -> Int { tiledVectors(g) * DirectWeightGradient.lanes }
    /// Px: one padded input plane with room for every tap's reach past the last tile, a whole
    /// number of vectors (so planes stay as aligned as the scratch).
    static func inputPlane(_ g: WindowGeometry) -> Int {
        let lanes = DirectWeightGradient.lanes
        return (DirectPlaneLayout(g).inputPlane(g, vectorCount: tiledVectors(g)) + lanes - 1) / lanes * lanes
    }
    /// F8: filters rounded up to whole register tiles (the packed weights' filter count).
    public static func paddedFilters(_ filters: Int) -> Int { (filters + filterBlock - 1) / filterBlock * filterBlock }

    /// Elements of `directConvolutionPackWeights`'s output for `filters` filters of `patch`
    /// (C·kh·kw) weights each.
    public static func packedWeightCount(filters: Int, patch: Int) -> Int { paddedFilters(filters) * patch }

    /// Scratch elements one `directConvolve` call needs (whatever `g.batch`: images go one at
    /// a time).
    public static func scratchCount(_ g: WindowGeometry, filters: Int) -> Int {
        max(
            g.channels * inputPlane(g) + paddedFilters(filters) * productPlane(g), PooledDirectLayout(g).scratchCount(g)
        )
    }
}

extension KernelScalar {
    /// Packs Wᵀ [patch, F] (row r holds weight r of every filter: `Conv2D`'s transposed copy,
    /// a folded BatchNorm's scale included) into [F8/8, patch, 8]: for each block of 8 filters,
    /// the 8 weights of every tap side by side, zeros past filter F.
    public static func directConvolutionPackWeights(
        _ transposed: UnsafePointer<Self>, filters: Int, patch: Int, into packed: UnsafeMutablePointer<Self>
    ) {
        let blocks = DirectConvolution.paddedFilters(filters) / DirectConvolution.filterBlock
        for block in 0..<blocks {
            for r in 0..<patch {
                let target = packed + (block * patch + r) * DirectConvolution.filterBlock
                for lane in 0..<DirectConvolution.filterBlock {
                    let f = block * DirectConvolution.filterBlock + lane
                    target[lane] = f < filters ? transposed[r * filters + f] : 0
                }
            }
        }
    }

    /// y [N, F, H', W'] = conv(x [N, C, H, W]) (+ bias[F]) (then ReLU when `rectify`) for the
    /// `g.batch` images of `g`, a convolution `DirectConvolution.applies` to, on the calling
    /// thread. `packedWeights` comes from `directConvolutionPackWeights`; `scratch` holds
    /// `DirectConvolution.scratchCount(g, filters:)` elements.
    public static func directConvolve(
        _ input: UnsafePointer<Self>, _ g: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, pool: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>, family: KernelFamily
    ) {
        let channels = g.channels
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let layout = DirectPlaneLayout(g)
        let rowLength = DirectWeightGradient.rowLength(g)
        let productPlane = DirectConvolution.productPlane(g)
        let tiledVectors = DirectConvolution.tiledVectors(g)
        let inputPlane = DirectConvolution.inputPlane(g)
        let paddedFilters = DirectConvolution.paddedFilters(filters)
        let patch = channels * g.kernelHeight * g.kernelWidth
        let paddedInput = scratch
        let products = scratch + channels * inputPlane
        let lanes = DirectWeightGradient.lanes
        let outputPlane = outputHeight * outputWidth
        if pool && family == .avx2
            && pooledDirectConvolve256(
                input, g, filters: filters, packedWeights: packedWeights, bias: bias, rectify: rectify,
                output: output, scratch: scratch)
        {
            return
        }
        // When the run is the output plane itself (rows of whole vectors, W' = 16·⌈W'/16⌉), tiles
        // store into the output with the bias and the ReLU, and only the vectors past the run's
        // end go to `products` (as a dump); otherwise tiles store into `products` and the rows
        // are copied out.
        let inPlace = !pool && layout.rowLength == outputWidth && layout.vectors * lanes == outputPlane
        let (pooledHeight, pooledWidth) = (outputHeight / 2, outputWidth / 2)
        for n in 0..<g.batch {
            padInputPlanes(
                input + n * channels * g.height * g.width, planes: channels, g, into: paddedInput,
                planeStride: inputPlane)
            let image = output + n * filters * (pool ? pooledHeight * pooledWidth : outputPlane)
            var filter = 0
            while filter < paddedFilters {
                // Vectors in order, with their input offsets (no division per tile).
                var walk = (offset: 0, inSegment: 0)
                @inline(__always) func nextOffset() -> Int {
                    let offset = walk.offset
                    walk.inSegment += 1
                    if walk.inSegment == layout.segmentVectors {
                        walk.inSegment = 0
                        walk.offset += layout.segmentStride - (layout.segmentVectors - 1) * lanes
                    } else {
                        walk.offset += lanes
                    }
                    return offset
                }
                @inline(__always) func target(_ vector: Int) -> (UnsafeMutablePointer<Self>, Int) {
                    if inPlace {
                        return vector < layout.vectors
                            ? (image + filter * outputPlane + vector * lanes, outputPlane)
                            : (products + (vector % DirectConvolution.tileVectors) * lanes, 3 * lanes)
                    }
                    return (products + filter * productPlane + vector * lanes, productPlane)
                }
                let validFilters = inPlace ? min(DirectConvolution.filterBlock, filters - filter) : 8
                let finishes = inPlace && (bias != nil || rectify)
                var vector = 0
                while vector < tiledVectors {
                    let targets = (target(vector), target(vector + 1), target(vector + 2))
                    let positionOffsets = (nextOffset(), nextOffset(), nextOffset())
                    if family == .avx2 {
                        directConvolutionTile256(
                            input: paddedInput, positionOffsets: positionOffsets,
                            channelStride: inputPlane, rowLength: rowLength, channels: channels,
                            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                            weights: packedWeights + filter * patch, targets: targets, filters: validFilters)
                    } else {
                        directConvolutionTile(
                            input: paddedInput, positionOffsets: positionOffsets,
                            channelStride: inputPlane, rowLength: rowLength, channels: channels,
                            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
                            weights: packedWeights + filter * patch, targets: targets, filters: validFilters)
                    }
                    if finishes {
                        // The bias and the ReLU over the vectors the tile stored into the output
                        // (each target named: no select between the three per vector).
                        let stored = min(DirectConvolution.tileVectors, layout.vectors - vector)
                        @inline(__always) func finish(
                            _ target: (UnsafeMutablePointer<Self>, Int), _ f: Int, _ offset: SIMD16<Self>
                        ) {
                            let pointer = UnsafeMutableRawPointer(target.0 + f * target.1)
                            var value = pointer.loadUnaligned(as: SIMD16<Self>.self) + offset
                            if rectify { value = Self.rectified(value) }
                            pointer.storeBytes(of: value, as: SIMD16<Self>.self)
                        }
                        for f in 0..<validFilters {
                            let offset = SIMD16<Self>(repeating: bias.map { $0[filter + f] } ?? 0)
                            finish(targets.0, f, offset)
                            if stored > 1 { finish(targets.1, f, offset) }
                            if stored > 2 { finish(targets.2, f, offset) }
                        }
                    }
                    vector += DirectConvolution.tileVectors
                }
                filter += DirectConvolution.filterBlock
            }
            if inPlace { continue }
            if pool {
                // Each 2×2 window's maximum (the first in row-major order; a NaN wins, as in
                // `maxPoolForwardGeneral`), plus the bias, through the ReLU: both are monotonic,
                // so this is the pool of the rectified output.
                @inline(__always) func larger(_ best: Self, _ value: Self) -> Self {
                    value > best || value.isNaN && !best.isNaN ? value : best
                }
                for f in 0..<filters {
                    let offset = bias?[f] ?? 0
                    let source = products + f * productPlane
                    let target = image + f * pooledHeight * pooledWidth
                    for y in 0..<pooledHeight {
                        let top = source + 2 * y * layout.rowLength
                        let bottom = top + layout.rowLength
                        for x in 0..<pooledWidth {
                            let best = larger(
                                larger(larger(top[2 * x], top[2 * x + 1]), bottom[2 * x]), bottom[2 * x + 1])
                            let value = best + offset
                            target[y * pooledWidth + x] = rectify && value < 0 ? 0 : value
                        }
                    }
                }
                continue
            }
            // Rows out: columns 0..<W' of each row of the run, plus the bias, through the ReLU.
            for f in 0..<filters {
                let offset = bias?[f] ?? 0
                for y in 0..<outputHeight {
                    let source = products + f * productPlane + y * layout.rowLength
                    let target = image + (f * outputHeight + y) * outputWidth
                    if rectify {
                        for x in 0..<outputWidth {
                            let value = source[x] + offset
                            target[x] = value < 0 ? 0 : value
                        }
                    } else {
                        for x in 0..<outputWidth { target[x] = source[x] + offset }
                    }
                }
            }
        }
    }

    /// One register tile: for 8 filters (packed weights [patch, 8] at `weights`) and the 3
    /// vectors of output positions at input offsets `positionOffsets` from `input` (channel
    /// planes `channelStride` apart, rows of `rowLength`), Σ over the taps of weight · input,
    /// vector v of filter f stored at `targets.v.0 + f · targets.v.1`, for the first `filters`
    /// filters. (The bias and the ReLU are the caller's, on the stored vectors while they are in
    /// L1: inside the tile they made it too large for its loads to be inlined, 3x slower.)
    @inline(__always)
    static func directConvolutionTile(
        input: UnsafePointer<Self>, positionOffsets: (Int, Int, Int), channelStride: Int, rowLength: Int,
        channels: Int, kernelHeight: Int, kernelWidth: Int, weights: UnsafePointer<Self>,
        targets: (
            (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int)
        ), filters: Int
    ) {
        typealias Vector = SIMD16<Self>
        var s00 = Vector()
        var s01 = Vector()
        var s02 = Vector()
        var s10 = Vector()
        var s11 = Vector()
        var s12 = Vector()
        var s20 = Vector()
        var s21 = Vector()
        var s22 = Vector()
        var s30 = Vector()
        var s31 = Vector()
        var s32 = Vector()
        var s40 = Vector()
        var s41 = Vector()
        var s42 = Vector()
        var s50 = Vector()
        var s51 = Vector()
        var s52 = Vector()
        var s60 = Vector()
        var s61 = Vector()
        var s62 = Vector()
        var s70 = Vector()
        var s71 = Vector()
        var s72 = Vector()
        var w = weights
        for c in 0..<channels {
            for i in 0..<kernelHeight {
                let row = input + c * channelStride + i * rowLength
                for j in 0..<kernelWidth {
                    let x0 = Self.loadVector(row + positionOffsets.0 + j)
                    let x1 = Self.loadVector(row + positionOffsets.1 + j)
                    let x2 = Self.loadVector(row + positionOffsets.2 + j)
                    let w0 = Vector(repeating: w[0])
                    s00 = Self.multiplyAdd(s00, w0, x0)
                    s01 = Self.multiplyAdd(s01, w0, x1)
                    s02 = Self.multiplyAdd(s02, w0, x2)
                    let w1 = Vector(repeating: w[1])
                    s10 = Self.multiplyAdd(s10, w1, x0)
                    s11 = Self.multiplyAdd(s11, w1, x1)
                    s12 = Self.multiplyAdd(s12, w1, x2)
                    let w2 = Vector(repeating: w[2])
                    s20 = Self.multiplyAdd(s20, w2, x0)
                    s21 = Self.multiplyAdd(s21, w2, x1)
                    s22 = Self.multiplyAdd(s22, w2, x2)
                    let w3 = Vector(repeating: w[3])
                    s30 = Self.multiplyAdd(s30, w3, x0)
                    s31 = Self.multiplyAdd(s31, w3, x1)
                    s32 = Self.multiplyAdd(s32, w3, x2)
                    let w4 = Vector(repeating: w[4])
                    s40 = Self.multiplyAdd(s40, w4, x0)
                    s41 = Self.multiplyAdd(s41, w4, x1)
                    s42 = Self.multiplyAdd(s42, w4, x2)
                    let w5 = Vector(repeating: w[5])
                    s50 = Self.multiplyAdd(s50, w5, x0)
                    s51 = Self.multiplyAdd(s51, w5, x1)
                    s52 = Self.multiplyAdd(s52, w5, x2)
                    let w6 = Vector(repeating: w[6])
                    s60 = Self.multiplyAdd(s60, w6, x0)
                    s61 = Self.multiplyAdd(s61, w6, x1)
                    s62 = Self.multiplyAdd(s62, w6, x2)
                    let w7 = Vector(repeating: w[7])
                    s70 = Self.multiplyAdd(s70, w7, x0)
                    s71 = Self.multiplyAdd(s71, w7, x1)
                    s72 = Self.multiplyAdd(s72, w7, x2)
                    w += DirectConvolution.filterBlock
                }
            }
        }
        @inline(__always) func store(_ filter: Int, _ t0: Vector, _ t1: Vector, _ t2: Vector) {
            guard filter < filters else { return }
            UnsafeMutableRawPointer(targets.0.0 + filter * targets.0.1).storeBytes(of: t0, as: Vector.self)
            UnsafeMutableRawPointer(targets.1.0 + filter * targets.1.1).storeBytes(of: t1, as: Vector.self)
            UnsafeMutableRawPointer(targets.2.0 + filter * targets.2.1).storeBytes(of: t2, as: Vector.self)
        }
        store(0, s00, s01, s02)
        store(1, s10, s11, s12)
        store(2, s20, s21, s22)
        store(3, s30, s31, s32)
        store(4, s40, s41, s42)
        store(5, s50, s51, s52)
        store(6, s60, s61, s62)
        store(7, s70, s71, s72)
    }

    /// `directConvolutionTile` for CPUs without AVX-512 (`KernelFamily.avx2`): the same 8 filters
    /// × 3 vectors and the same sums, in four passes over the taps of 2 filters × 3 vectors each
    /// (12 of the 16 256-bit registers accumulate; the one-pass tile's 24 SIMD16 accumulators
    /// would need 48). Every sum is the same chain of multiply-adds in the same order: the same
    /// bits.
    @inline(__always)
    static func directConvolutionTile256(
        input: UnsafePointer<Self>, positionOffsets: (Int, Int, Int), channelStride: Int, rowLength: Int,
        channels: Int, kernelHeight: Int, kernelWidth: Int, weights: UnsafePointer<Self>,
        targets: (
            (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int)
        ), filters: Int
    ) {
        for firstFilter in stride(from: 0, to: min(filters, DirectConvolution.filterBlock), by: 2) {
            @inline(__always) func shifted(_ target: (UnsafeMutablePointer<Self>, Int)) -> (
                UnsafeMutablePointer<Self>, Int
            ) {
                (target.0 + firstFilter * target.1, target.1)
            }
            directConvolutionPairTile(
                input: input, positionOffsets: positionOffsets, channelStride: channelStride, rowLength: rowLength,
                channels: channels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                weights: weights + firstFilter,
                targets: (shifted(targets.0), shifted(targets.1), shifted(targets.2)),
                filters: filters - firstFilter)
        }
    }

    /// One pass of `directConvolutionTile256`: 2 filters (packed weights at `weights`, taps
    /// `DirectConvolution.filterBlock` apart) × the 3 vectors of output positions at input
    /// offsets `positionOffsets`; vector v of filter f stored at `targets.v.0 + f · targets.v.1`
    /// for f < min(2, `filters`).
    @inline(never)
    static func directConvolutionPairTile(
        input: UnsafePointer<Self>, positionOffsets: (Int, Int, Int), channelStride: Int, rowLength: Int,
        channels: Int, kernelHeight: Int, kernelWidth: Int, weights: UnsafePointer<Self>,
        targets: (
            (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int), (UnsafeMutablePointer<Self>, Int)
        ), filters: Int
    ) {
        typealias Vector = SIMD16<Self>
        var s00 = Vector()
        var s01 = Vector()
        var s02 = Vector()
        var s10 = Vector()
        var s11 = Vector()
        var s12 = Vector()
        // One loop over the taps (channel, row, column), the input offset stepped along: with
        // a loop per channel, row and column, the 7-tap rows ran at 0.72 of the FMA limit.
        var w = weights
        var offset = 0
        var column = 0
        var row = 0
        for _ in 0..<(channels * kernelHeight * kernelWidth) {
            let w0 = Vector(repeating: w[0])
            let w1 = Vector(repeating: w[1])
            let x0 = Self.loadVector(input + positionOffsets.0 + offset)
            s00 = Self.multiplyAdd(s00, w0, x0)
            s10 = Self.multiplyAdd(s10, w1, x0)
            let x1 = Self.loadVector(input + positionOffsets.1 + offset)
            s01 = Self.multiplyAdd(s01, w0, x1)
            s11 = Self.multiplyAdd(s11, w1, x1)
            let x2 = Self.loadVector(input + positionOffsets.2 + offset)
            s02 = Self.multiplyAdd(s02, w0, x2)
            s12 = Self.multiplyAdd(s12, w1, x2)
            w += DirectConvolution.filterBlock
            offset += 1
            column += 1
            if column == kernelWidth {
                column = 0
                offset += rowLength - kernelWidth
                row += 1
                if row == kernelHeight {
                    row = 0
                    offset += channelStride - kernelHeight * rowLength
                }
            }
        }
        @inline(__always) func store(_ filter: Int, _ t0: Vector, _ t1: Vector, _ t2: Vector) {
            guard filter < filters else { return }
            UnsafeMutableRawPointer(targets.0.0 + filter * targets.0.1).storeBytes(of: t0, as: Vector.self)
            UnsafeMutableRawPointer(targets.1.0 + filter * targets.1.1).storeBytes(of: t1, as: Vector.self)
            UnsafeMutableRawPointer(targets.2.0 + filter * targets.2.1).storeBytes(of: t2, as: Vector.self)
        }
        store(0, s00, s01, s02)
        store(1, s10, s11, s12)
    }
}
