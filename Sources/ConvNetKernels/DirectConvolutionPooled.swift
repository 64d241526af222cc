// The direct forward convolution fused with its 2×2, stride-2 max pool (and the bias and the
// ReLU between them), on 256-bit vectors: the inference pass of conv → relu → maxpool where
// the convolution takes the direct forward (W1's 3 → 32 7×7 over 32×32 images), on CPUs of the
// `.avx2` kernel family.
//
//     z[n, f, y, x] = max over the window (2y..2y+1, 2x..2x+1) of conv(X)[n, f, ·, ·], + b[f], ReLU
//
// The unpooled direct forward (`DirectConvolution.swift`) computes every output row as a run of
// vectors of consecutive positions; its fused pool then takes each 2×2 window's maximum one lane
// at a time (10 % of W1's inference). Here each vector holds every other position of a row
// instead: a tile computes, for 8 pooled positions x..x+7 of pooled row y, the four vectors
// of the windows' corners — even and odd columns (2x, 2x+1, ...) of output rows 2y and 2y+1 —
// so the pool is three vector maxima in registers, and nothing but the pooled output is stored.
//
// To make every tap of such a vector one load, the input is zero-padded as the direct forward
// pads it (rows of S = W + 2p) and each padded row is split by column parity: half-row 0 holds
// the padded row's even columns, half-row 1 its odd ones. The input under tap (i, j) of output
// position (r, 2x) is padded column 2x + j of padded row r + i: half-row j mod 2, element
// x + ⌊j/2⌋; under tap (i, j) of (r, 2x + 1) it is column 2x + 1 + j: half-row (j + 1) mod 2,
// element x + ⌊(j + 1)/2⌋. Every output value is the same chain of multiply-adds over the taps
// in the same order (channel, row, column) as in the unpooled forward's tiles, and the window's
// maximum is taken in the same order (top-left, top-right, bottom-left, bottom-right): the same
// bits as the unpooled forward followed by its fused pool (DirectConvolutionTests compares
// them).
//
// Layout of one call (one thread, `g.batch` images, one at a time), in `scratch`:
//   input  [C, H + 2p, 2, half]   the padded rows split by column parity, half ≥ ⌈S/2⌉ and
//                                 long enough for the last vector's reach, zeros elsewhere
//   taps   [C·kh·kw, 2] (Int32)   each tap's even- and odd-column input offsets
// and the caller's packed weights [F8/8, C·kh·kw, 8] (`directConvolutionPackWeights`); a tile
// takes 3 consecutive filters, across block boundaries (32 filters: 10 tiles of 3, one of 2).

/// The pooled direct forward's input layout for one geometry (see the file's comment).
struct PooledDirectLayout {
    /// Pooled positions per vector (one 256-bit vector of Float).
    static let lanes = 8
    /// Filters per register tile: 3 filters × 4 corner vectors = 12 accumulators, with the 3
    /// broadcast weights and one input vector 16 registers.
    static let tileFilters = 3

    /// ⌊H'/2⌋ and ⌊W'/2⌋.
    let pooledHeight: Int
    let pooledWidth: Int
    /// Vectors per pooled row: ⌈⌊W'/2⌋ / 8⌉.
    let rowVectors: Int
    /// Elements of one half-row (one column parity of a padded row), a multiple of 8.
    let halfLength: Int
    /// Elements of one padded row (its two half-rows).
    var rowStride: Int { 2 * halfLength }
    /// Elements of one channel: H + 2p padded rows.
    let channelStride: Int

    init(_ g: WindowGeometry) {
        let lanes = PooledDirectLayout.lanes
        pooledHeight = g.outputHeight / 2
        pooledWidth = g.outputWidth / 2
        rowVectors = (pooledWidth + lanes - 1) / lanes
        // The last vector reads elements up to 8·rowVectors − 1 + ⌊kw/2⌋ of a half-row.
        let reach = rowVectors * lanes + g.kernelWidth / 2
        let paddedColumns = g.width + 2 * g.paddingWidth
        halfLength = (max((paddedColumns + 1) / 2, reach) + lanes - 1) / lanes * lanes
        channelStride = (g.height + 2 * g.paddingHeight) * 2 * halfLength
    }

    /// Elements of the split input of one image.
    func splitInputCount(channels: Int) -> Int { channels * channelStride }
    /// Scratch elements of one call: the split input, then the taps' offset pairs (Int32).
    func scratchCount(_ g: WindowGeometry) -> Int {
        splitInputCount(channels: g.channels) + 2 * g.channels * g.kernelHeight * g.kernelWidth
    }
    /// Whether every offset into the split input fits the taps' Int32 table.
    func fitsOffsets(_ g: WindowGeometry) -> Bool { splitInputCount(channels: g.channels) < Int(Int32.max) }
}

extension Float {
    /// The pooled direct forward on 256-bit vectors (see the file's comment): z [N, F, ⌊H'/2⌋,
    /// ⌊W'/2⌋] = maxpool2×2(conv(x [N, C, H, W])) (+ bias[F]) (then ReLU when `rectify`), the
    /// same bits as `directConvolve` with `pool`. Same arguments; `scratch` holds at least
    /// `PooledDirectLayout(g).scratchCount(g)` elements (`DirectConvolution.scratchCount`
    /// covers it). Returns false (and does nothing) when the split input is too large for the
    /// taps' Int32 offsets.
    public static func pooledDirectConvolve256(
        _ input: UnsafePointer<Float>, _ g: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, rectify: Bool, output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        let layout = PooledDirectLayout(g)
        guard layout.fitsOffsets(g) else { return false }
        let channels = g.channels
        let patch = channels * g.kernelHeight * g.kernelWidth
        let pooledPlane = layout.pooledHeight * layout.pooledWidth
        let lanes = PooledDirectLayout.lanes
        guard pooledPlane > 0 else { return true }
        let splitInput = scratch
        (scratch + layout.splitInputCount(channels: channels)).withMemoryRebound(to: Int32.self, capacity: 2 * patch) {
            tapOffsets in
            // Per tap (channel, row, column), the offsets of its even- and odd-column inputs
            // from the tile's top padded row.
            var tap = 0
            for c in 0..<channels {
                for i in 0..<g.kernelHeight {
                    for j in 0..<g.kernelWidth {
                        let row = c * layout.channelStride + i * layout.rowStride
                        tapOffsets[2 * tap] = Int32(row + (j & 1) * layout.halfLength + j >> 1)
                        tapOffsets[2 * tap + 1] = Int32(row + ((j + 1) & 1) * layout.halfLength + (j + 1) >> 1)
                        tap += 1
                    }
                }
            }
            // Weights of filter f: column f mod 8 of block ⌊f/8⌋.
            @inline(__always) func weights(_ f: Int) -> UnsafePointer<Float> {
                packedWeights + f / DirectConvolution.filterBlock * DirectConvolution.filterBlock * patch
                    + f % DirectConvolution.filterBlock
            }
            for n in 0..<g.batch {
                splitInputRows(input + n * channels * g.height * g.width, g, layout, into: splitInput)
                let image = output + n * filters * pooledPlane
                for y in 0..<layout.pooledHeight {
                    for vector in 0..<layout.rowVectors {
                        var filter = 0
                        while filter < filters {
                            // A missing second or third filter repeats the first (its sums dropped).
                            let count = min(PooledDirectLayout.tileFilters, filters - filter)
                            let second = count > 1 ? filter + 1 : filter
                            let third = count > 2 ? filter + 2 : filter
                            pooledDirectConvolutionTile256(
                                rows: splitInput + 2 * y * layout.rowStride + vector * lanes,
                                rowStride: layout.rowStride,
                                taps: patch, tapOffsets: tapOffsets,
                                weights: (weights(filter), weights(second), weights(third)), filters: count,
                                offsets: (bias?[filter] ?? 0, bias?[second] ?? 0, bias?[third] ?? 0),
                                rectify: rectify,
                                target: image + filter * pooledPlane + y * layout.pooledWidth + vector * lanes,
                                targetStride: pooledPlane, positions: min(lanes, layout.pooledWidth - vector * lanes))
                            filter += PooledDirectLayout.tileFilters
                        }
                    }
                }
            }
        }
        return true
    }

    /// X [C, H, W] of one image into `target` [C, H + 2p, 2, half]: padded row r + p, padded
    /// column x + p of input (r, x) in half-row (x + p) mod 2 at element ⌊(x + p)/2⌋; zeros
    /// elsewhere.
    static func splitInputRows(
        _ input: UnsafePointer<Float>, _ g: WindowGeometry, _ layout: PooledDirectLayout,
        into target: UnsafeMutablePointer<Float>
    ) {
        target.update(repeating: 0, count: layout.splitInputCount(channels: g.channels))
        for c in 0..<g.channels {
            for y in 0..<g.height {
                let source = input + (c * g.height + y) * g.width
                let row = target + c * layout.channelStride + (y + g.paddingHeight) * layout.rowStride
                for x in 0..<g.width {
                    let column = x + g.paddingWidth
                    row[(column & 1) * layout.halfLength + column >> 1] = source[x]
                }
            }
        }
    }

    /// One register tile: for `filters` ≤ 3 filters (packed weights at `weights`, taps
    /// `DirectConvolution.filterBlock` apart) and pooled positions x..x+7 of one pooled row
    /// (`rows`: its top padded row's even half-row at element x; tap t's inputs at
    /// `tapOffsets[2t]` (even columns) and `tapOffsets[2t + 1]` (odd) from there, one padded row
    /// lower for the bottom corners), the four corner vectors of every window — output row 2y
    /// even and odd columns, row 2y + 1 even and odd columns — summed over the taps, then their
    /// maximum, + `offsets`, through the ReLU when `rectify`, stored at `target` + f ·
    /// `targetStride` for filter f, the first `positions` lanes. (One loop over all taps: with
    /// loops over channel, row and column, the 7-tap rows ran at 0.72 of the FMA limit, in one
    /// loop at 0.92.)
    @inline(never)
    static func pooledDirectConvolutionTile256(
        rows: UnsafePointer<Float>, rowStride: Int, taps: Int, tapOffsets: UnsafePointer<Int32>,
        weights: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>), filters: Int,
        offsets: (Float, Float, Float), rectify: Bool, target: UnsafeMutablePointer<Float>, targetStride: Int,
        positions: Int
    ) {
        typealias Vector = SIMD8<Float>
        @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> Vector {
            UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
        }
        // Accumulators: filter, then corner (top even, top odd, bottom even, bottom odd).
        var s0a = Vector()
        var s0b = Vector()
        var s0c = Vector()
        var s0d = Vector()
        var s1a = Vector()
        var s1b = Vector()
        var s1c = Vector()
        var s1d = Vector()
        var s2a = Vector()
        var s2b = Vector()
        var s2c = Vector()
        var s2d = Vector()
        var w = 0
        for tap in 0..<taps {
            let even = Int(tapOffsets[2 * tap])
            let odd = Int(tapOffsets[2 * tap + 1])
            let w0 = Vector(repeating: weights.0[w])
            let w1 = Vector(repeating: weights.1[w])
            let w2 = Vector(repeating: weights.2[w])
            var x = load(rows + even)
            s0a = floatMultiplyAdd(s0a, w0, x)
            s1a = floatMultiplyAdd(s1a, w1, x)
            s2a = floatMultiplyAdd(s2a, w2, x)
            x = load(rows + odd)
            s0b = floatMultiplyAdd(s0b, w0, x)
            s1b = floatMultiplyAdd(s1b, w1, x)
            s2b = floatMultiplyAdd(s2b, w2, x)
            x = load(rows + rowStride + even)
            s0c = floatMultiplyAdd(s0c, w0, x)
            s1c = floatMultiplyAdd(s1c, w1, x)
            s2c = floatMultiplyAdd(s2c, w2, x)
            x = load(rows + rowStride + odd)
            s0d = floatMultiplyAdd(s0d, w0, x)
            s1d = floatMultiplyAdd(s1d, w1, x)
            s2d = floatMultiplyAdd(s2d, w2, x)
            w += DirectConvolution.filterBlock
        }
        @inline(__always) func store(
            _ filter: Int, _ a: Vector, _ b: Vector, _ c: Vector, _ d: Vector, _ offset: Float
        ) {
            guard filter < filters else { return }
            var value = pooledMaximum(pooledMaximum(pooledMaximum(a, b), c), d) + Vector(repeating: offset)
            if rectify { value.replace(with: Vector(), where: value .< Vector()) }
            let pointer = target + filter * targetStride
            if positions == PooledDirectLayout.lanes {
                UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
            } else {
                for lane in 0..<positions { pointer[lane] = value[lane] }
            }
        }
        store(0, s0a, s0b, s0c, s0d, offsets.0)
        store(1, s1a, s1b, s1c, s1d, offsets.1)
        store(2, s2a, s2b, s2c, s2d, offsets.2)
    }

    /// Lane by lane, `value` where it is larger than `best` or is a NaN where `best` is not,
    /// else `best`: the fused pool's rule (`directConvolve`'s `larger`; the first maximum in
    /// the window's row-major order, a NaN wins).
    @inline(__always)
    static func pooledMaximum(_ best: SIMD8<Float>, _ value: SIMD8<Float>) -> SIMD8<Float> {
        best.replacing(with: value, where: poolReplaces(best, with: value))
    }

    /// The lanes where `value` replaces `best` in a max pool: it is larger, or it is a NaN
    /// where `best` is not (the first maximum in the window's row-major order wins; a NaN
    /// wins). The rule of `pooledMaximum` and of the 2×2 pool's `maxPool2x2Octet`.
    @inline(__always)
    static func poolReplaces(_ best: SIMD8<Float>, with value: SIMD8<Float>) -> SIMDMask<SIMD8<Int32>> {
        value .> best .| (value .!= value) .& (best .== best)
    }
}
