// The weight gradient of 3×3 stride-1 convolutions by Winograd's minimal filtering run
// backwards: F(2×2, 3×3)'s algorithm, with dY's 2×2 blocks in the place of the filter.
//
//     dW[f, c, u, v] = Σ_n Σ_y Σ_x dY[n, f, y, x] · X̃[n, c, y + u, x + v]      (X̃: X zero-padded)
//
// For the 2×2 block of dY at output (2i, 2j), its share of dW[f, c] (3×3) is a correlation with
// the 4×4 block of X̃ at (2i, 2j), and the 1-D algorithm F(3, 2) with points 0, ±1 and ∞
// computes o[u] = Σ_a g[a]·d[a + u] (u < 3, a < 2) from 4 products:
//
//     o = G'ᵀ [ (Â g) ⊙ (Bᵀ d) ]     Â = [  1    0  ]    Bᵀ = [ 1   0  −1   0 ]    G'ᵀ = [ 1  1   1  0 ]
//                                       [ 1/2  1/2 ]         [ 0   1   1   0 ]          [ 0  1  −1  0 ]
//                                       [ 1/2 −1/2 ]         [ 0  −1   1   0 ]          [ 0  1   1  1 ]
//                                       [  0   −1  ]         [ 0   1   0  −1 ]
//
// (F(2, 3)'s matrices transposed, the halves of its G moved into Â, where they are exact). In
// two dimensions the 16 positions ξ of the 4×4 transformed blocks are independent and the sum
// over blocks (all images, all tiles) runs in the transformed domain:
//
//     M[ξ] (F × C) = Σ_t U[ξ] (F × tiles) · V[ξ] (tiles × C),    dW[f, c] = G'ᵀ M[·][f, c] G'
//
// with U = Â dY_t Âᵀ and V = Bᵀ X̃_t B: 16·F·C multiply-adds per tile of 4 output positions,
// where the direct sum needs 9·F·C per position: 2.25 times fewer. The transforms only add
// (and halve), so the rounding is that of a sum of 4 products per position of each M entry —
// close to the direct sum's (the tests bound it).
//
// The sums M [16, F16, 32·⌈C/32⌉] are the caller's: it zeroes them, adds each group of images
// (`winogradWeightGradientSums`: the micro-kernel accumulates into them, beta 1) and turns them
// into dW once (`winogradWeightGradientFinish`). Layout of one call (one thread, `g.batch`
// images), in `scratch`, 64-byte aligned:
//   V   [16, ⌈C/32⌉, tileBlock, 32]   one block of tiles' transformed input: the GEMM's packed
//                                     B̂ panels of 32 channels, the tiles as the depth
//   U   [16, F16/8, tileBlock, 8]     its transformed dY: packed Â panels of 8 filters
//   X̂   [N, 2·tilesHigh + 2, 2·tilesWide + 2, C16]   X̃ channels-last (one vector per 16
//                                     channels of a position), zeros past C and the image
//   D̂   [N, 2·tilesHigh, 2·tilesWide, F16]           dY channels-last, zeros past F and H', W'
// where C16, F16 round up to 16. The transforms work on 16 channels (or filters) per SIMD vector.

/// Winograd F(2×2, 3×3) for the weight gradient: which convolutions it applies to and how much
/// scratch it needs.
public enum WinogradWeightGradient {
    /// Positions of a transformed 4×4 block.
    static let positions = 16
    /// Tiles per block of the products (the micro-kernel's depth). Fixed, not derived from the
    /// machine: it sets the order of the sums, so results are the same on every CPU.
    static let tileBlock = 64

    /// Whether `winogradWeightGradient` computes this convolution: a 3×3 kernel, stride 1,
    /// dilation 1, one group (`Winograd.applies`).
    public static func applies(to g: WindowGeometry, groups: Int) -> Bool {
        Winograd.applies(to: g, groups: groups)
    }

    /// 2×2 blocks of dY per image: (rows, columns).
    static func tiles(_ g: WindowGeometry) -> (high: Int, wide: Int) {
        ((g.outputHeight + 1) / 2, (g.outputWidth + 1) / 2)
    }

    /// Channels (or filters) rounded up to whole vectors of 16.
    static func padded(_ count: Int) -> Int { (count + 15) / 16 * 16 }

    /// Panels of 32 channels (the micro-kernel's columns).
    static func channelPanels(_ channels: Int) -> Int { (channels + 31) / 32 }

    /// Elements of the sums M for `filters` filters over `channels` channels (zeroed by the
    /// caller before the first `winogradWeightGradientSums`).
    public static func sumsCount(channels: Int, filters: Int) -> Int {
        positions * padded(filters) * channelPanels(channels) * 32
    }

    /// Scratch elements one `winogradWeightGradientSums` call needs for the `g.batch` images of
    /// `g` and `filters` filters.
    public static func scratchCount(_ g: WindowGeometry, filters: Int) -> Int {
        let (high, wide) = tiles(g)
        let transformedInput = positions * channelPanels(g.channels) * tileBlock * 32
        let transformedGradient = positions * padded(filters) * tileBlock
        let input = g.batch * (2 * high + 2) * (2 * wide + 2) * padded(g.channels)
        let gradient = g.batch * 2 * high * 2 * wide * padded(filters)
        return 16 + transformedInput + transformedGradient + input + gradient
    }
}

/// The Winograd weight gradient (`WinogradWeightGradient.swift`); `naiveConvolutionWeightGradient`
/// is the reference. Requirements of `KernelScalar` with default implementations below
/// (Codable for the same reason as `WinogradKernels`).
public protocol WinogradWeightGradientKernels: BinaryFloatingPoint, SIMDScalar, Codable {
    /// products[8 × columns] (rows `rowStride` apart) += Û · V̂ for one panel of 8 filters
    /// [depth, 8] and a panel of channels [depth, 32], `columns` 32 or 16 (the panel's left
    /// half); both 64-byte aligned. Float: the GEMM's micro-kernel; otherwise a plain triple loop.
    static func winogradPanelAccumulate(
        depth: Int, filters: UnsafePointer<Self>, channels: UnsafePointer<Self>, columns: Int,
        into products: UnsafeMutablePointer<Self>, rowStride: Int)
    /// M += the transformed products of dY [N, F, H', W'] and X [N, C, H, W] over the
    /// `geometry.batch` images, for a convolution `WinogradWeightGradient.applies` to, on the
    /// calling thread; `sums` holds `WinogradWeightGradient.sumsCount` elements, `scratch`
    /// `WinogradWeightGradient.scratchCount(geometry, filters:)`. Call it for each group of
    /// images, then `winogradWeightGradientFinish` once.
    static func winogradWeightGradientSums(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ geometry: WindowGeometry, filters: Int,
        sums: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>)
    /// dW [F, C, 3, 3] += G'ᵀ M[·][f, c] G' for every filter f and channel c.
    static func winogradWeightGradientFinish(
        sums: UnsafePointer<Self>, filters: Int, channels: Int, addingTo weightGradient: UnsafeMutablePointer<Self>)
}

extension Float {
    /// One 8×32 (or 8×16) product of the GEMM's micro-kernels with beta 1 (`floatPanelProduct`:
    /// one call with AVX-512, 4×16 calls on 256-bit vectors).
    @inline(__always)
    public static func winogradPanelAccumulate(
        depth: Int, filters: UnsafePointer<Float>, channels: UnsafePointer<Float>, columns: Int,
        into products: UnsafeMutablePointer<Float>, rowStride: Int
    ) {
        floatPanelProduct(
            depth: depth, packedA: filters, packedB: channels, columns: columns, beta: 1, c: products, ldc: rowStride)
    }
}

extension KernelScalar {
    public static func winogradPanelAccumulate(
        depth: Int, filters: UnsafePointer<Self>, channels: UnsafePointer<Self>, columns: Int,
        into products: UnsafeMutablePointer<Self>, rowStride: Int
    ) {
        for row in 0..<8 {
            for column in 0..<columns {
                var sum: Self = 0
                for p in 0..<depth { sum += filters[p * 8 + row] * channels[p * 32 + column] }
                products[row * rowStride + column] += sum
            }
        }
    }

    public static func winogradWeightGradientSums(
        input: UnsafePointer<Self>, outputGradient: UnsafePointer<Self>, _ g: WindowGeometry, filters: Int,
        sums: UnsafeMutablePointer<Self>, scratch: UnsafeMutablePointer<Self>
    ) {
        typealias Vector = SIMD16<Self>
        let channels = g.channels
        let (tilesHigh, tilesWide) = WinogradWeightGradient.tiles(g)
        let paddedChannels = WinogradWeightGradient.padded(channels)
        let paddedFilters = WinogradWeightGradient.padded(filters)
        let channelPanels = WinogradWeightGradient.channelPanels(channels)
        let filterPanels = paddedFilters / 8
        let sumRow = channelPanels * 32
        let block = WinogradWeightGradient.tileBlock
        let positions = WinogradWeightGradient.positions
        let (inputHeight, inputWidth) = (2 * tilesHigh + 2, 2 * tilesWide + 2)
        let (gradientHeight, gradientWidth) = (2 * tilesHigh, 2 * tilesWide)
        let transformedInput = UnsafeMutableRawPointer(scratch).alignedUp(toMultipleOf: 64)
            .assumingMemoryBound(to: Self.self)
        let transformedGradient = transformedInput + positions * channelPanels * block * 32
        let channelsLast = transformedGradient + positions * filterPanels * block * 8
        let gradientChannelsLast = channelsLast + g.batch * inputHeight * inputWidth * paddedChannels

        // X̃ and dY channels-last, zero-padded: 16×16 transposes of (16 planes × 16 columns),
        // the columns past the last whole 16 one by one.
        func channelsLastCopy(
            _ source: UnsafePointer<Self>, planes: Int, height: Int, width: Int,
            into target: UnsafeMutablePointer<Self>,
            targetHeight: Int, targetWidth: Int, targetPlanes: Int, top: Int, left: Int
        ) {
            target.update(repeating: 0, count: g.batch * targetHeight * targetWidth * targetPlanes)
            let plane = height * width
            let wholeColumns = width / 16 * 16
            for n in 0..<g.batch {
                for y in 0..<height {
                    let row = target + ((n * targetHeight + y + top) * targetWidth + left) * targetPlanes
                    for first in stride(from: 0, to: planes, by: 16) {
                        let sourceRow = source + ((n * planes + first) * height + y) * width
                        for x in stride(from: 0, to: wholeColumns, by: 16) {
                            Self.transpose16x16(
                                source: sourceRow + x, sourceStride: plane, rows: min(16, planes - first),
                                target: row + x * targetPlanes + first, targetStride: targetPlanes, lanes: 16)
                        }
                        for x in wholeColumns..<width {
                            for p in first..<min(first + 16, planes) {
                                row[x * targetPlanes + p] = sourceRow[(p - first) * plane + x]
                            }
                        }
                    }
                }
            }
        }
        channelsLastCopy(
            input, planes: channels, height: g.height, width: g.width, into: channelsLast, targetHeight: inputHeight,
            targetWidth: inputWidth, targetPlanes: paddedChannels, top: g.paddingHeight, left: g.paddingWidth)
        channelsLastCopy(
            outputGradient, planes: filters, height: g.outputHeight, width: g.outputWidth, into: gradientChannelsLast,
            targetHeight: gradientHeight, targetWidth: gradientWidth, targetPlanes: paddedFilters, top: 0, left: 0)

        let tilesPerImage = tilesHigh * tilesWide
        let tileCount = g.batch * tilesPerImage
        var first = 0
        while first < tileCount {
            let count = min(block, tileCount - first)
            for t in 0..<count {
                let tile = first + t
                let image = tile / tilesPerImage
                let within = tile - image * tilesPerImage
                let tileRow = within / tilesWide
                let tileColumn = within - tileRow * tilesWide
                // V = Bᵀ d B for 16 channels at a time: columns first (Bᵀ d), then rows.
                let corner =
                    channelsLast + ((image * inputHeight + 2 * tileRow) * inputWidth + 2 * tileColumn)
                    * paddedChannels
                let inputStride = channelPanels * block * 32
                for vector in 0..<(paddedChannels / 16) {
                    let d = corner + vector * 16
                    // Column b of Bᵀ d: (d0 − d2, d1 + d2, d2 − d1, d1 − d3) down the block's rows.
                    @inline(__always) func column(_ b: Int) -> (Vector, Vector, Vector, Vector) {
                        let d0 = loadVector(d + b * paddedChannels)
                        let d1 = loadVector(d + (inputWidth + b) * paddedChannels)
                        let d2 = loadVector(d + (2 * inputWidth + b) * paddedChannels)
                        let d3 = loadVector(d + (3 * inputWidth + b) * paddedChannels)
                        return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    }
                    let (c0, c1, c2, c3) = (column(0), column(1), column(2), column(3))
                    let target = transformedInput + ((vector / 2) * block + t) * 32 + (vector % 2) * 16
                    // Row i of (Bᵀ d) B: the same combination along the row.
                    @inline(__always) func row(_ i: Int, _ r0: Vector, _ r1: Vector, _ r2: Vector, _ r3: Vector) {
                        let base = UnsafeMutableRawPointer(target + 4 * i * inputStride)
                        let step = inputStride * MemoryLayout<Self>.stride
                        base.storeBytes(of: r0 - r2, as: Vector.self)
                        (base + step).storeBytes(of: r1 + r2, as: Vector.self)
                        (base + 2 * step).storeBytes(of: r2 - r1, as: Vector.self)
                        (base + 3 * step).storeBytes(of: r1 - r3, as: Vector.self)
                    }
                    row(0, c0.0, c1.0, c2.0, c3.0)
                    row(1, c0.1, c1.1, c2.1, c3.1)
                    row(2, c0.2, c1.2, c2.2, c3.2)
                    row(3, c0.3, c1.3, c2.3, c3.3)
                }
                // U = Â g Âᵀ for 16 filters at a time, each vector's halves into two panels of 8.
                let gradientCorner =
                    gradientChannelsLast + ((image * gradientHeight + 2 * tileRow) * gradientWidth + 2 * tileColumn)
                    * paddedFilters
                let half = Vector(repeating: 1 / 2)
                let positionStride = filterPanels * block * 8
                for vector in 0..<(paddedFilters / 16) {
                    let q = gradientCorner + vector * 16
                    let g00 = loadVector(q)
                    let g01 = loadVector(q + paddedFilters)
                    let g10 = loadVector(q + gradientWidth * paddedFilters)
                    let g11 = loadVector(q + (gradientWidth + 1) * paddedFilters)
                    // Columns: h[i][b] = (Â g)[i][b].
                    let h = (
                        (g00, g01), ((g00 + g10) * half, (g01 + g11) * half), ((g00 - g10) * half, (g01 - g11) * half),
                        (-g10, -g11)
                    )
                    let target = transformedGradient + (2 * vector * block + t) * 8
                    @inline(__always) func store(_ position: Int, _ value: Vector) {
                        let low = UnsafeMutableRawPointer(target + position * positionStride)
                        low.storeBytes(of: value.lowHalf, as: SIMD8<Self>.self)
                        (low + block * 8 * MemoryLayout<Self>.stride).storeBytes(
                            of: value.highHalf, as: SIMD8<Self>.self)
                    }
                    @inline(__always) func row(_ i: Int, _ pair: (Vector, Vector)) {
                        store(i * 4 + 0, pair.0)
                        store(i * 4 + 1, (pair.0 + pair.1) * half)
                        store(i * 4 + 2, (pair.0 - pair.1) * half)
                        store(i * 4 + 3, -pair.1)
                    }
                    row(0, h.0)
                    row(1, h.1)
                    row(2, h.2)
                    row(3, h.3)
                }
            }
            // M[ξ] += U[ξ] · V[ξ]: one micro-kernel call per 8 filters × 32 channels.
            for position in 0..<positions {
                for filterPanel in 0..<filterPanels {
                    for channelPanel in 0..<channelPanels {
                        let columns = paddedChannels - channelPanel * 32 > 16 ? 32 : 16
                        Self.winogradPanelAccumulate(
                            depth: count,
                            filters: transformedGradient + (position * filterPanels + filterPanel) * block * 8,
                            channels: transformedInput + (position * channelPanels + channelPanel) * block * 32,
                            columns: columns,
                            into: sums + (position * paddedFilters + filterPanel * 8) * sumRow + channelPanel * 32,
                            rowStride: sumRow)
                    }
                }
            }
            first += count
        }
    }

    public static func winogradWeightGradientFinish(
        sums: UnsafePointer<Self>, filters: Int, channels: Int, addingTo weightGradient: UnsafeMutablePointer<Self>
    ) {
        let sumRow = WinogradWeightGradient.channelPanels(channels) * 32
        let positionStride = WinogradWeightGradient.padded(filters) * sumRow
        for f in 0..<filters {
            for c in 0..<channels {
                let m = sums + f * sumRow + c
                func value(_ i: Int, _ j: Int) -> Self { m[(i * 4 + j) * positionStride] }
                let target = weightGradient + (f * channels + c) * 9
                // Columns: s_i[j] = (G'ᵀ M)[i][j], i < 3; then rows: dW[i][·] += s_i G'.
                @inline(__always) func addRow(_ i: Int, _ r0: Self, _ r1: Self, _ r2: Self, _ r3: Self) {
                    target[i * 3] += r0 + r1 + r2
                    target[i * 3 + 1] += r1 - r2
                    target[i * 3 + 2] += r1 + r2 + r3
                }
                let (m0, m1, m2, m3) = (
                    (value(0, 0), value(0, 1), value(0, 2), value(0, 3)),
                    (value(1, 0), value(1, 1), value(1, 2), value(1, 3)),
                    (value(2, 0), value(2, 1), value(2, 2), value(2, 3)),
                    (value(3, 0), value(3, 1), value(3, 2), value(3, 3))
                )
                addRow(0, m0.0 + m1.0 + m2.0, m0.1 + m1.1 + m2.1, m0.2 + m1.2 + m2.2, m0.3 + m1.3 + m2.3)
                addRow(1, m1.0 - m2.0, m1.1 - m2.1, m1.2 - m2.2, m1.3 - m2.3)
                addRow(2, m1.0 + m2.0 + m3.0, m1.1 + m2.1 + m3.1, m1.2 + m2.2 + m3.2, m1.3 + m2.3 + m3.3)
            }
        }
    }
}
