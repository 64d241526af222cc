// The weight gradient of a stride-1 convolution computed directly, without im2col:
//
//     dW[f, c, i, j] = Σ_n Σ_y Σ_x dY[n, f, y, x] · X[n, c, y + i − p, x + j − p]
//
// Through im2col this is a GEMM dY [F, P] · colsᵀ [P, C·kh·kw] whose depth P (the output
// positions) is the contiguous axis of both operands in NCHW, so the packed GEMM transposes both
// while it packs them; for the 3×3 layers of small images (a few dozen filters, P = 196–1024)
// the unfolding and the two transposing packs took longer than the multiply-adds (about 90 of
// the 230 GFLOP/s the two cores reach, on the MNIST recipe's 32 → 32 layer at 28×28).
//
// Here the sum runs along the output positions themselves, with no unfolding. The input is
// zero-padded into rows of S = W' + kw − 1 = W + 2p columns, so that the input value under tap
// (c, i, j) of output position (y, x) is at y·S + x + c·Px + i·S + j: a fixed offset per tap
// from the position's own offset y·S + x. dY is laid out as a run of SIMD vectors in one of two
// ways (`DirectPlaneLayout`), whichever wastes fewer lanes on zeros: flat, in rows of S (one
// run of ⌈H'·S/16⌉ vectors whose input offsets are those of the run itself; the S − W' zero
// columns of each row wasted), or by rows, each of ⌈W'/16⌉ whole vectors (row y's vectors at
// input offset y·S; W1's 32-wide rows waste nothing, where rows of S = 38 waste 6 lanes in 38).
// One register tile holds 8 filters × 3 taps, any three of the C·kh·kw taps (W1's 147 taps are
// 49 whole tiles, where tiles along one kernel row, 7 = 3 + 3 + 1, computed 9 taps for 7): 24
// accumulators, fed per step by 8 dY vectors and 3 input vectors, summed over the lanes at the
// end of the tile. Without AVX-512 (16 registers of 8 floats) the same sums come from quad
// tiles: 4 filters × 3 taps in two passes, over lanes 0–7 and then 8–15 of every vector
// (`directWeightGradientQuadTile`). A zero of dY may multiply input from the next row (or the
// zeros after the last): finite values that add nothing.
//
// Layout of one call (one thread, `g.batch` images), in `scratch`:
//   input    [N, C, Px]    X zero-padded, padded row r = input row r − p, S columns per row
//                          (input column x at x + p); Px leaves room for the last vector's
//                          reach (its input offset + 16 + (kh − 1)·S + kw − 1), rounded up
//                          to 16
//   gradient [N, F8, L]    dY in the plane layout (zeros where no output position is), L =
//                          16 × its vector count, with zero filters up to F8 = 8·⌈F/8⌉
// Filters past F and taps past C·kh·kw are computed and dropped.

/// One output plane of the direct kernels as a run of SIMD vectors: output position (y, x) at
/// index y·`rowLength` + x of the run, and vector k of the run at input offset
/// (k / `segmentVectors`)·`segmentStride` + 16·(k % `segmentVectors`) from the padded input
/// plane's start (rows of S, `DirectWeightGradient.rowLength`).
struct DirectPlaneLayout: Equatable {
    /// The run's row length: S (flat) or 16·⌈W'/16⌉ (by rows).
    let rowLength: Int
    /// Vectors per segment: the whole run (flat) or one output row (by rows).
    let segmentVectors: Int
    /// Segments in the run: 1 (flat) or H' (by rows).
    let segments: Int
    /// Input offset between segments: 16·`segmentVectors` (flat: so every vector's input offset
    /// is 16·k, past the run too) or S (by rows).
    let segmentStride: Int

    /// Vectors in the run.
    var vectors: Int { segments * segmentVectors }
    /// Input offset of vector `k` (any k ≥ 0, past the run too: padding vectors).
    func inputOffset(vector k: Int) -> Int {
        k / segmentVectors * segmentStride + k % segmentVectors * DirectWeightGradient.lanes
    }
    /// Input elements one padded plane needs so that vectors 0..<`vectorCount` read in bounds
    /// under every tap: the last one's offset + 16 + the largest tap offset (kh − 1)·S + kw − 1.
    func inputPlane(_ g: WindowGeometry, vectorCount: Int) -> Int {
        inputOffset(vector: vectorCount - 1) + DirectWeightGradient.lanes + (g.kernelHeight - 1)
            * DirectWeightGradient.rowLength(g) + g.kernelWidth - 1
    }
}

extension DirectPlaneLayout {
    /// The layout that covers `g`'s output plane with fewer vectors: by rows when H'·⌈W'/16⌉ <
    /// ⌈H'·S/16⌉, flat otherwise.
    init(_ g: WindowGeometry) {
        let lanes = DirectWeightGradient.lanes
        let inputRow = DirectWeightGradient.rowLength(g)
        let rowVectors = (g.outputWidth + lanes - 1) / lanes
        let flatVectors = (g.outputHeight * inputRow + lanes - 1) / lanes
        if g.outputHeight * rowVectors < flatVectors {
            rowLength = rowVectors * lanes
            segmentVectors = rowVectors
            segments = g.outputHeight
            segmentStride = inputRow
        } else {
            rowLength = inputRow
            segmentVectors = flatVectors
            segments = 1
            segmentStride = flatVectors * lanes
        }
    }
}

/// The direct weight gradient of stride-1 convolutions: which convolutions it applies to and how
/// much scratch it needs.
public enum DirectWeightGradient {
    /// Output columns per SIMD vector.
    static let lanes = 16
    /// Filters per register tile.
    static let filterBlock = 8
    /// Taps per register tile.
    static let tapBlock = 3

    /// Whether `convolutionWeightGradient` computes this convolution: stride 1, dilation 1,
    /// one group, not ceil mode, a non-empty output.
    public static func applies(to g: WindowGeometry, groups: Int) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 && groups == 1
            && !g.ceilMode && g.outputHeight > 0 && g.outputWidth > 0
    }

    /// S: the row length of the padded input.
    static func rowLength(_ g: WindowGeometry) -> Int { g.outputWidth + g.kernelWidth - 1 }
    /// L: dY's plane as a run of whole vectors.
    static func gradientPlane(_ g: WindowGeometry) -> Int { DirectPlaneLayout(g).vectors * lanes }
    /// Px: one padded input plane, with room for every tap's reach past the last vector, a
    /// whole number of vectors (so that dY's planes after the input stay as aligned as the
    /// scratch).
    static func inputPlane(_ g: WindowGeometry) -> Int {
        let layout = DirectPlaneLayout(g)
        return (layout.inputPlane(g, vectorCount: layout.vectors) + lanes - 1) / lanes * lanes
    }
    /// F8: filters rounded up to whole register tiles.
    static func paddedFilters(_ filters: Int) -> Int { (filters + filterBlock - 1) / filterBlock * filterBlock }

    /// Scratch elements one `convolutionWeightGradient` call needs for the `g.batch` images of
    /// `g` and `filters` filters.
    public static func scratchCount(_ g: WindowGeometry, filters: Int) -> Int {
        g.batch * (g.channels * inputPlane(g) + paddedFilters(filters) * gradientPlane(g))
    }
}

/// Stride-1 convolutions summed directly: the weight gradient (`DirectWeightGradient.swift`;
/// `naiveConvolutionWeightGradient` is the reference) and the forward pass of few-channel
/// layers (`DirectConvolution.swift`; `naiveConvolution` is the reference).
///
/// Requirements of `KernelScalar` with default implementations, specialised for Float and
/// Double.
public protocol DirectConvolutionKernels: BinaryFloatingPoint {
    /// Packs Wᵀ [patch, F] into the direct forward's [F8/8, patch, 8] (`DirectConvolution.swift`).
    static func directConvolutionPackWeights(
        _ transposed: UnsafePointer<Self>, filters: Int, patch: Int, into packed: UnsafeMutablePointer<Self>)
    /// y [N, F, H', W'] = conv(x) (+ bias) (then ReLU when `rectify`) — or, when `pool`, its 2×2,
    /// stride-2 max pool [N, F, ⌊H'/2⌋, ⌊W'/2⌋] — on the calling thread, for a convolution
    /// `DirectConvolution.applies` to; `scratch` holds `DirectConvolution.scratchCount(geometry,
    /// filters:)` elements.
    /// `family` picks the register tiles (the same bits for every family; `directConvolve`
    /// without it takes `KernelFamily.current`).
    static func directConvolve(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, pool: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>, family: KernelFamily)
    /// `directConvolve` with `pool` on 256-bit vectors (`DirectConvolutionPooled.swift`),
    /// where this scalar type has it (Float) and the geometry fits it; returns false (having
    /// done nothing) otherwise. `directConvolve` takes it for the `.avx2` family.
    static func pooledDirectConvolve256(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>
    ) -> Bool
    /// dW [F, C, kh, kw] += Σ over the `geometry.batch` images of dY [N, F, H', W'] ⋆ X [N, C,
    /// H, W], for a convolution that `DirectWeightGradient.applies` to, on the calling thread.
    /// `scratch` holds `DirectWeightGradient.scratchCount(geometry, filters:)` elements.
    /// `family` picks the register tiles (the same bits for every family;
    /// `convolutionWeightGradient` without it takes `KernelFamily.current`).
    static func convolutionWeightGradient(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        addingTo weightGradient: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>,
        family: KernelFamily)
}

extension DirectConvolutionKernels {
    /// No pooled kernel (Double: its pool stays the unpooled forward's fused one).
    public static func pooledDirectConvolve256(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>
    ) -> Bool {
        false
    }

    /// `directConvolve` with the register tiles of the CPU the program runs on.
    @inline(__always)
    public static func directConvolve(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, pool: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>
    ) {
        directConvolve(
            input, geometry, filters: filters, packedWeights: packedWeights, bias: bias, rectify: rectify, pool: pool,
            output: output, scratch: scratch, family: .current)
    }

    /// `convolutionWeightGradient` with the register tiles of the CPU the program runs on.
    @inline(__always)
    public static func convolutionWeightGradient(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        addingTo weightGradient: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>
    ) {
        convolutionWeightGradient(
            input: input, outputGradient: outputGradient, geometry, filters: filters, addingTo: weightGradient,
            scratch: scratch, family: .current)
    }
}

extension KernelScalar {
    /// 16 values from `pointer`, at any alignment (the direct kernels' register tiles).
    @inline(__always)
    static func loadVector(_ pointer: UnsafePointer<Self>) -> SIMD16<Self> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Self>.self)
    }

    /// The sum of the 16 lanes as a tree (SIMD's `sum()` adds them one after another): the
    /// register tiles' reduction of their accumulators (`DirectWeightGradient.swift`,
    /// `FloatSkinnyGemm.dotBlockTile`).
    @inline(__always)
    static func laneSum(_ v: SIMD16<Self>) -> Self { laneSum(v.lowHalf, v.highHalf) }

    /// `laneSum` of the vector whose lanes 0–7 are `low` and 8–15 are `high` (the quad tile's
    /// two half passes).
    @inline(__always)
    static func laneSum(_ low: SIMD8<Self>, _ high: SIMD8<Self>) -> Self {
        let eight = low + high
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// accumulator + x · y lane by lane: one fused multiply-add, except in a portable x86-64
    /// build, which has none (see `floatMultiplyAdd`).
    @inline(__always)
    static func multiplyAdd(_ accumulator: SIMD16<Self>, _ x: SIMD16<Self>, _ y: SIMD16<Self>) -> SIMD16<Self> {
        #if CONVNET_PORTABLE && arch(x86_64)
        return accumulator + x * y
        #else
        return accumulator.addingProduct(x, y)
        #endif
    }

    /// 8 values from `pointer`, at any alignment (the quad tile's half passes).
    @inline(__always)
    static func loadHalfVector(_ pointer: UnsafePointer<Self>) -> SIMD8<Self> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Self>.self)
    }

    /// `multiplyAdd` on 8 lanes.
    @inline(__always)
    static func multiplyAdd(_ accumulator: SIMD8<Self>, _ x: SIMD8<Self>, _ y: SIMD8<Self>) -> SIMD8<Self> {
        #if CONVNET_PORTABLE && arch(x86_64)
        return accumulator + x * y
        #else
        return accumulator.addingProduct(x, y)
        #endif
    }

    /// Copies `planes` consecutive H×W planes from `input` into zero-filled planes of
    /// `planeStride` elements at `target`, in rows of S = W + 2p (`DirectWeightGradient.rowLength`):
    /// input row y lands in padded row y + p, column x in column x + p (both fit: stride 1 makes
    /// H' + kh − 1 = H + 2p and S = W' + kw − 1 = W + 2p). The direct kernels' input layout.
    static func padInputPlanes(
        _ input: UnsafePointer<Self>, planes: Int, _ g: WindowGeometry, into target: UnsafeMutablePointer<Self>,
        planeStride: Int
    ) {
        let rowLength = DirectWeightGradient.rowLength(g)
        target.update(repeating: 0, count: planes * planeStride)
        for plane in 0..<planes {
            let source = input + plane * g.height * g.width
            let corner = target + plane * planeStride + g.paddingHeight * rowLength + g.paddingWidth
            for y in 0..<g.height {
                (corner + y * rowLength).update(from: source + y * g.width, count: g.width)
            }
        }
    }

    public static func convolutionWeightGradient(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ g: WindowGeometry, filters: Int,
        addingTo weightGradient: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>,
        family: KernelFamily
    ) {
        let channels = g.channels
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let layout = DirectPlaneLayout(g)
        let rowLength = DirectWeightGradient.rowLength(g)
        let inputPlane = DirectWeightGradient.inputPlane(g)
        let gradientPlane = DirectWeightGradient.gradientPlane(g)
        let paddedFilters = DirectWeightGradient.paddedFilters(filters)
        let paddedInput = scratch
        padInputPlanes(input, planes: g.batch * channels, g, into: paddedInput, planeStride: inputPlane)
        // dY in the plane layout's rows, zero-filled; dY itself where it is already that run
        // (rows of whole vectors and whole register tiles of filters, as W1's 32 × 32 planes
        // of 32 filters are).
        let gradient: UnsafePointer<Self>
        if layout.rowLength == outputWidth && gradientPlane == outputHeight * outputWidth && paddedFilters == filters {
            gradient = outputGradient
        } else {
            let paddedGradient = scratch + g.batch * channels * inputPlane
            paddedGradient.update(repeating: 0, count: g.batch * paddedFilters * gradientPlane)
            for n in 0..<g.batch {
                for f in 0..<filters {
                    let source = outputGradient + (n * filters + f) * outputHeight * outputWidth
                    let target = paddedGradient + (n * paddedFilters + f) * gradientPlane
                    for y in 0..<outputHeight {
                        (target + y * layout.rowLength).update(from: source + y * outputWidth, count: outputWidth)
                    }
                }
            }
            gradient = UnsafePointer(paddedGradient)
        }

        // Images per pass: the dY of one filter block (8 planes per image) stays in L1 while
        // every tap block runs over it.
        let blockBytes = DirectWeightGradient.filterBlock * gradientPlane * MemoryLayout<Self>.stride
        let imagesPerPass = max(1, min(g.batch, (32 * 1024) / max(blockBytes, 1)))
        let kernelPlane = g.kernelHeight * g.kernelWidth
        let patch = channels * kernelPlane
        // Tap t = (c, i, j) of the patch reads the padded input at c·Px + i·S + j from a
        // position's offset; taps are walked in order (no division per tile), and taps past
        // the patch repeat the last one's offset (their sums are dropped).
        var walk = (offset: 0, j: 0, i: 0, tap: 0)
        @inline(__always) func nextTapOffset() -> Int {
            let offset = walk.offset
            guard walk.tap < patch - 1 else { return offset }
            walk.tap += 1
            walk.j += 1
            walk.offset += 1
            if walk.j == g.kernelWidth {
                walk.j = 0
                walk.i += 1
                walk.offset += rowLength - g.kernelWidth
                if walk.i == g.kernelHeight {
                    walk.i = 0
                    walk.offset += inputPlane - g.kernelHeight * rowLength
                }
            }
            return offset
        }
        var first = 0
        while first < g.batch {
            let end = min(g.batch, first + imagesPerPass)
            // Filters per pass over the taps: the whole register tile's 8 with AVX-512; without it
            // the 4 of a quad tile, so that their dY planes stay near L1 while every tap block
            // runs over them (the 8 planes of a block did not fit a Zen 3's 32 KiB with the input).
            let filterStep = family == .avx2 ? 4 : DirectWeightGradient.filterBlock
            var filter = 0
            while filter < filters {
                walk = (offset: 0, j: 0, i: 0, tap: 0)
                let gradientStart = gradient + (first * paddedFilters + filter) * gradientPlane
                var tap = 0
                while tap < patch {
                    let offsets = (nextTapOffset(), nextTapOffset(), nextTapOffset())
                    if family == .avx2 {
                        directWeightGradientQuadTile(
                            input: paddedInput + first * channels * inputPlane, tapOffsets: offsets,
                            inputImageStride: channels * inputPlane, layout: layout, gradient: gradientStart,
                            gradientImageStride: paddedFilters * gradientPlane, gradientPlane: gradientPlane,
                            images: end - first, addingTo: weightGradient + filter * patch + tap, filterStride: patch,
                            filters: filters - filter, taps: min(DirectWeightGradient.tapBlock, patch - tap))
                    } else {
                        directWeightGradientTile(
                            input: paddedInput + first * channels * inputPlane, tapOffsets: offsets,
                            inputImageStride: channels * inputPlane, layout: layout, gradient: gradientStart,
                            gradientImageStride: paddedFilters * gradientPlane, gradientPlane: gradientPlane,
                            images: end - first, addingTo: weightGradient + filter * patch + tap, filterStride: patch,
                            filters: min(DirectWeightGradient.filterBlock, filters - filter),
                            taps: min(DirectWeightGradient.tapBlock, patch - tap))
                    }
                    tap += DirectWeightGradient.tapBlock
                }
                filter += filterStep
            }
            first = end
        }
    }

    /// One register tile: for 8 filters (planes `gradientPlane` apart from `gradient`) and 3
    /// taps (input offsets `tapOffsets` from a position's), Σ over `images` images and the
    /// vectors of dY's plane (in `layout`) of dY · X, added to `target` (tap t of filter f at
    /// f · `filterStride` + t) for the first `filters` filters and `taps` taps.
    @inline(__always)
    static func directWeightGradientTile(
        input: UnsafePointer<Self>, tapOffsets: (Int, Int, Int), inputImageStride: Int, layout: DirectPlaneLayout,
        gradient: UnsafePointer<Self>, gradientImageStride: Int, gradientPlane: Int, images: Int,
        addingTo target: UnsafeMutablePointer<Self>, filterStride: Int, filters: Int, taps: Int
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
        let segmentLength = layout.segmentVectors * DirectWeightGradient.lanes
        for image in 0..<images {
            var d = gradient + image * gradientImageStride
            var segmentStart = input + image * inputImageStride
            for _ in 0..<layout.segments {
                let xa = segmentStart + tapOffsets.0
                let xb = segmentStart + tapOffsets.1
                let xc = segmentStart + tapOffsets.2
                var column = 0
                while column < segmentLength {
                    let x0 = Self.loadVector(xa + column)
                    let x1 = Self.loadVector(xb + column)
                    let x2 = Self.loadVector(xc + column)
                    let d0 = Self.loadVector(d + column)
                    s00 = Self.multiplyAdd(s00, d0, x0)
                    s01 = Self.multiplyAdd(s01, d0, x1)
                    s02 = Self.multiplyAdd(s02, d0, x2)
                    let d1 = Self.loadVector(d + gradientPlane + column)
                    s10 = Self.multiplyAdd(s10, d1, x0)
                    s11 = Self.multiplyAdd(s11, d1, x1)
                    s12 = Self.multiplyAdd(s12, d1, x2)
                    let d2 = Self.loadVector(d + 2 * gradientPlane + column)
                    s20 = Self.multiplyAdd(s20, d2, x0)
                    s21 = Self.multiplyAdd(s21, d2, x1)
                    s22 = Self.multiplyAdd(s22, d2, x2)
                    let d3 = Self.loadVector(d + 3 * gradientPlane + column)
                    s30 = Self.multiplyAdd(s30, d3, x0)
                    s31 = Self.multiplyAdd(s31, d3, x1)
                    s32 = Self.multiplyAdd(s32, d3, x2)
                    let d4 = Self.loadVector(d + 4 * gradientPlane + column)
                    s40 = Self.multiplyAdd(s40, d4, x0)
                    s41 = Self.multiplyAdd(s41, d4, x1)
                    s42 = Self.multiplyAdd(s42, d4, x2)
                    let d5 = Self.loadVector(d + 5 * gradientPlane + column)
                    s50 = Self.multiplyAdd(s50, d5, x0)
                    s51 = Self.multiplyAdd(s51, d5, x1)
                    s52 = Self.multiplyAdd(s52, d5, x2)
                    let d6 = Self.loadVector(d + 6 * gradientPlane + column)
                    s60 = Self.multiplyAdd(s60, d6, x0)
                    s61 = Self.multiplyAdd(s61, d6, x1)
                    s62 = Self.multiplyAdd(s62, d6, x2)
                    let d7 = Self.loadVector(d + 7 * gradientPlane + column)
                    s70 = Self.multiplyAdd(s70, d7, x0)
                    s71 = Self.multiplyAdd(s71, d7, x1)
                    s72 = Self.multiplyAdd(s72, d7, x2)
                    column += DirectWeightGradient.lanes
                }
                d += segmentLength
                segmentStart += layout.segmentStride
            }
        }
        @inline(__always) func add(_ filter: Int, _ t0: Vector, _ t1: Vector, _ t2: Vector) {
            guard filter < filters else { return }
            let row = target + filter * filterStride
            row[0] += Self.laneSum(t0)
            if taps > 1 { row[1] += Self.laneSum(t1) }
            if taps > 2 { row[2] += Self.laneSum(t2) }
        }
        add(0, s00, s01, s02)
        add(1, s10, s11, s12)
        add(2, s20, s21, s22)
        add(3, s30, s31, s32)
        add(4, s40, s41, s42)
        add(5, s50, s51, s52)
        add(6, s60, s61, s62)
        add(7, s70, s71, s72)
    }

    /// `directWeightGradientTile` for CPUs without AVX-512 (`KernelFamily.avx2`): 4 filters (dY
    /// planes `gradientPlane` apart from `gradient`) × 3 taps, Σ over `images` images and the
    /// vectors of dY's plane of dY · X, added to `target + f · filterStride + t` for f <
    /// min(4, `filters`), t < `taps`. It runs twice over the plane (`directWeightGradientHalfPass`):
    /// once for lanes 0–7 of every vector, once for lanes 8–15, each in 12 of the 16 256-bit
    /// registers, fed per step by 4 dY loads and 3 input loads (7 loads per 12 multiply-adds,
    /// where 2 filters × 3 taps on whole vectors needed 10). Each lane sums the same products in
    /// the same order as the 8 × 3 tile's, and the two halves meet in the same tree (`laneSum`):
    /// the same bits. (W1's 3 → 32 7×7 layer on a Zen 3, one thread: 78 GFLOP/s of the 89 an FMA
    /// loop reaches, against 66 for the whole-vector pairs; passes of 4 filters × 1 tap load 10
    /// vectors per 8 multiply-adds and ran at 45.)
    @inline(never)
    static func directWeightGradientQuadTile(
        input: UnsafePointer<Self>, tapOffsets: (Int, Int, Int), inputImageStride: Int, layout: DirectPlaneLayout,
        gradient: UnsafePointer<Self>, gradientImageStride: Int, gradientPlane: Int, images: Int,
        addingTo target: UnsafeMutablePointer<Self>, filterStride: Int, filters: Int, taps: Int
    ) {
        let half = DirectWeightGradient.lanes / 2
        let low = directWeightGradientHalfPass(
            input: input, tapOffsets: tapOffsets, inputImageStride: inputImageStride, layout: layout,
            gradient: gradient, gradientImageStride: gradientImageStride, gradientPlane: gradientPlane,
            images: images)
        let high = directWeightGradientHalfPass(
            input: input + half, tapOffsets: tapOffsets, inputImageStride: inputImageStride, layout: layout,
            gradient: gradient + half, gradientImageStride: gradientImageStride, gradientPlane: gradientPlane,
            images: images)
        typealias Half = SIMD8<Self>
        @inline(__always) func add(_ filter: Int, _ low: (Half, Half, Half), _ high: (Half, Half, Half)) {
            guard filter < filters else { return }
            let row = target + filter * filterStride
            row[0] += Self.laneSum(low.0, high.0)
            if taps > 1 { row[1] += Self.laneSum(low.1, high.1) }
            if taps > 2 { row[2] += Self.laneSum(low.2, high.2) }
        }
        add(0, (low.0, low.1, low.2), (high.0, high.1, high.2))
        add(1, (low.3, low.4, low.5), (high.3, high.4, high.5))
        add(2, (low.6, low.7, low.8), (high.6, high.7, high.8))
        add(3, (low.9, low.10, low.11), (high.9, high.10, high.11))
    }

    /// One pass of `directWeightGradientQuadTile` over 8 lanes of every vector of dY's plane
    /// (lanes 0–7 from `input` and `gradient`; lanes 8–15 when both are advanced by 8): the sums
    /// of 4 filters × 3 taps, filter f and tap t at index 3f + t.
    @inline(__always)
    static func directWeightGradientHalfPass(
        input: UnsafePointer<Self>, tapOffsets: (Int, Int, Int), inputImageStride: Int, layout: DirectPlaneLayout,
        gradient: UnsafePointer<Self>, gradientImageStride: Int, gradientPlane: Int, images: Int
    ) -> (
        SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>,
        SIMD8<Self>, SIMD8<Self>, SIMD8<Self>, SIMD8<Self>
    ) {
        typealias Half = SIMD8<Self>
        @inline(__always) func load(_ pointer: UnsafePointer<Self>) -> Half { Self.loadHalfVector(pointer) }
        var s00 = Half()
        var s01 = Half()
        var s02 = Half()
        var s10 = Half()
        var s11 = Half()
        var s12 = Half()
        var s20 = Half()
        var s21 = Half()
        var s22 = Half()
        var s30 = Half()
        var s31 = Half()
        var s32 = Half()
        // One loop over the run's vectors (segment by segment), the input offset stepped
        // along: with a loop per segment, W1's segments of 2 vectors spent as much on the
        // loops as on the multiply-adds.
        let lanes = DirectWeightGradient.lanes
        let segmentLength = layout.segmentVectors * lanes
        let vectors = layout.segments * layout.segmentVectors
        for image in 0..<images {
            let d = gradient + image * gradientImageStride
            let x = input + image * inputImageStride
            let (xa, xb, xc) = (x + tapOffsets.0, x + tapOffsets.1, x + tapOffsets.2)
            var offset = 0
            var column = 0
            for vector in 0..<vectors {
                let x0 = load(xa + offset)
                let x1 = load(xb + offset)
                let x2 = load(xc + offset)
                let d0 = load(d + vector * lanes)
                s00 = Self.multiplyAdd(s00, d0, x0)
                s01 = Self.multiplyAdd(s01, d0, x1)
                s02 = Self.multiplyAdd(s02, d0, x2)
                let d1 = load(d + gradientPlane + vector * lanes)
                s10 = Self.multiplyAdd(s10, d1, x0)
                s11 = Self.multiplyAdd(s11, d1, x1)
                s12 = Self.multiplyAdd(s12, d1, x2)
                let d2 = load(d + 2 * gradientPlane + vector * lanes)
                s20 = Self.multiplyAdd(s20, d2, x0)
                s21 = Self.multiplyAdd(s21, d2, x1)
                s22 = Self.multiplyAdd(s22, d2, x2)
                let d3 = load(d + 3 * gradientPlane + vector * lanes)
                s30 = Self.multiplyAdd(s30, d3, x0)
                s31 = Self.multiplyAdd(s31, d3, x1)
                s32 = Self.multiplyAdd(s32, d3, x2)
                offset += lanes
                column += lanes
                if column == segmentLength {
                    column = 0
                    offset += layout.segmentStride - segmentLength
                }
            }
        }
        return (s00, s01, s02, s10, s11, s12, s20, s21, s22, s30, s31, s32)
    }
}
