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
// zero-padded into rows of S = W' + kw − 1 = W + 2p columns, and dY is laid out in rows of the
// same length S (zeros in its columns W'..<S), so that output position (y, x) is flat index
// q = y·S + x in both, and the input value under tap (i, j) is at flat index q + i·S + j. One
// plane is then a single run of ⌈H'·S/16⌉ SIMD vectors for every tap: no per-row loop, and
// only the (S − W')/S lanes of dY's zero columns wasted. One register tile holds 8 filters ×
// 3 taps (j, j+1, j+2) of one channel c and kernel row i: 24 accumulators, fed per step by 8
// dY vectors and 3 overlapping input vectors, summed over the lanes at the end of the tile.
// A zero of dY may multiply input from the next row (or the zeros after the last): finite
// values that add nothing.
//
// Layout of one call (one thread, `g.batch` images), in `scratch`:
//   input    [N, C, Px]    X zero-padded, padded row r = input row r − p, S columns per row
//                          (input column x at x + p); Px leaves room for the last vector's
//                          reach: L + (kh − 1)·S + 3·⌈kw/3⌉
//   gradient [N, F8, L]    dY in rows of S columns, zero-padded to L = 16·⌈H'·S/16⌉ and with
//                          zero filters up to F8 = 8·⌈F/8⌉
// Filters past F and taps past kw are computed and dropped.

/// The direct weight gradient of stride-1 convolutions: which convolutions it applies to and how
/// much scratch it needs.
public enum DirectWeightGradient {
    /// Output columns per SIMD vector.
    static let lanes = 16
    /// Filters per register tile.
    static let filterBlock = 8
    /// Kernel columns (taps) per register tile.
    static let tapBlock = 3

    /// Whether `convolutionWeightGradient` computes this convolution's dW: stride 1, dilation 1,
    /// one group, not ceil mode, a non-empty output.
    public static func applies(to g: WindowGeometry, groups: Int) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 && groups == 1
            && !g.ceilMode && g.outputHeight > 0 && g.outputWidth > 0
    }

    /// S: the row length of the padded input and of dY's rows.
    static func rowLength(_ g: WindowGeometry) -> Int { g.outputWidth + g.kernelWidth - 1 }
    /// L: dY's plane as a flat run of whole vectors.
    static func gradientPlane(_ g: WindowGeometry) -> Int {
        (g.outputHeight * rowLength(g) + lanes - 1) / lanes * lanes
    }
    /// Px: one padded input plane, with room for every tap's reach past the last vector.
    static func inputPlane(_ g: WindowGeometry) -> Int {
        gradientPlane(g) + (g.kernelHeight - 1) * rowLength(g) + (g.kernelWidth + tapBlock - 1) / tapBlock * tapBlock
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
    /// y [N, F, H', W'] = conv(x) (+ bias) (then ReLU when `rectify`), on the calling thread, for
    /// a convolution `DirectConvolution.applies` to; `scratch` holds
    /// `DirectConvolution.scratchCount(geometry, filters:)` elements.
    static func directConvolve(
        _ input: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int, packedWeights: UnsafePointer<Self>,
        bias: UnsafePointer<Self>?, rectify: Bool, output: UnsafeMutablePointer<Self>,
        scratch: UnsafeMutablePointer<Self>)
    /// dW [F, C, kh, kw] += Σ over the `geometry.batch` images of dY [N, F, H', W'] ⋆ X [N, C,
    /// H, W], for a convolution that `DirectWeightGradient.applies` to, on the calling thread.
    /// `scratch` holds `DirectWeightGradient.scratchCount(geometry, filters:)` elements.
    static func convolutionWeightGradient(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        addingTo weightGradient: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>)
}

extension KernelScalar {
    /// 16 values from `pointer`, at any alignment (the direct kernels' register tiles).
    @inline(__always)
    static func loadVector(_ pointer: UnsafePointer<Self>) -> SIMD16<Self> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Self>.self)
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
        addingTo weightGradient: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>
    ) {
        let channels = g.channels
        let outputHeight = g.outputHeight
        let outputWidth = g.outputWidth
        let rowLength = DirectWeightGradient.rowLength(g)
        let inputPlane = DirectWeightGradient.inputPlane(g)
        let gradientPlane = DirectWeightGradient.gradientPlane(g)
        let paddedFilters = DirectWeightGradient.paddedFilters(filters)
        let paddedInput = scratch
        let paddedGradient = scratch + g.batch * channels * inputPlane

        padInputPlanes(input, planes: g.batch * channels, g, into: paddedInput, planeStride: inputPlane)
        // dY in rows of S, zero-filled.
        paddedGradient.update(repeating: 0, count: g.batch * paddedFilters * gradientPlane)
        for n in 0..<g.batch {
            for f in 0..<filters {
                let source = outputGradient + (n * filters + f) * outputHeight * outputWidth
                let target = paddedGradient + (n * paddedFilters + f) * gradientPlane
                for y in 0..<outputHeight {
                    (target + y * rowLength).update(from: source + y * outputWidth, count: outputWidth)
                }
            }
        }

        // Images per pass: the dY of one filter block (8 planes per image) stays in L1 while
        // every channel's tap blocks run over it.
        let blockBytes = DirectWeightGradient.filterBlock * gradientPlane * MemoryLayout<Self>.stride
        let imagesPerPass = max(1, min(g.batch, (32 * 1024) / max(blockBytes, 1)))
        let kernelPlane = g.kernelHeight * g.kernelWidth
        var first = 0
        while first < g.batch {
            let end = min(g.batch, first + imagesPerPass)
            var filter = 0
            while filter < paddedFilters {
                for c in 0..<channels {
                    for i in 0..<g.kernelHeight {
                        var j = 0
                        while j < g.kernelWidth {
                            directWeightGradientTile(
                                input: paddedInput + (first * channels + c) * inputPlane + i * rowLength + j,
                                inputImageStride: channels * inputPlane,
                                gradient: paddedGradient + (first * paddedFilters + filter) * gradientPlane,
                                gradientImageStride: paddedFilters * gradientPlane, gradientPlane: gradientPlane,
                                images: end - first,
                                addingTo: weightGradient + (filter * channels + c) * kernelPlane + i * g.kernelWidth
                                    + j,
                                filterStride: channels * kernelPlane,
                                filters: min(DirectWeightGradient.filterBlock, filters - filter),
                                taps: min(DirectWeightGradient.tapBlock, g.kernelWidth - j))
                            j += DirectWeightGradient.tapBlock
                        }
                    }
                }
                filter += DirectWeightGradient.filterBlock
            }
            first = end
        }
    }

    /// One register tile: for 8 filters (planes `gradientPlane` apart from `gradient`) and 3
    /// taps (input offsets 0, 1, 2 from `input`), Σ over `images` images and the
    /// `gradientPlane` flat positions of dY · X, added to `target` (tap t of filter f at
    /// f · `filterStride` + t) for the first `filters` filters and `taps` taps.
    @inline(__always)
    static func directWeightGradientTile(
        input: UnsafePointer<Self>, inputImageStride: Int,
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
        for image in 0..<images {
            let x = input + image * inputImageStride
            let d = gradient + image * gradientImageStride
            var column = 0
            while column < gradientPlane {
                let x0 = Self.loadVector(x + column)
                let x1 = Self.loadVector(x + column + 1)
                let x2 = Self.loadVector(x + column + 2)
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
                column += 16
            }
        }
        // The lanes' sum as a tree (SIMD's `sum()` adds the 16 lanes one after another).
        @inline(__always) func laneSum(_ v: Vector) -> Self {
            let eight = v.lowHalf + v.highHalf
            let four = eight.lowHalf + eight.highHalf
            let two = four.lowHalf + four.highHalf
            return two[0] + two[1]
        }
        @inline(__always) func add(_ filter: Int, _ t0: Vector, _ t1: Vector, _ t2: Vector) {
            guard filter < filters else { return }
            let row = target + filter * filterStride
            row[0] += laneSum(t0)
            if taps > 1 { row[1] += laneSum(t1) }
            if taps > 2 { row[2] += laneSum(t2) }
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
}
