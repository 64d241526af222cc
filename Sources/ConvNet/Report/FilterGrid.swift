import Foundation

/// A grid of convolution filters, as cs231n's `visualize_grid` draws them: ⌈√F⌉ tiles per row,
/// each filter min–max scaled to 0–255 on its own, `padding` pixels of background between tiles.
///
/// Channels: C == 3 draws RGB; C == 1 draws grayscale; any other C draws the mean over the channels
/// as grayscale (`channelNote` says so, and the figure title repeats it).
public enum FilterGrid {
    /// How the channels of a filter bank are shown.
    public static func channelNote(channels: Int) -> String {
        switch channels {
        case 3: return "RGB"
        case 1: return "grayscale"
        default: return "grayscale, mean of \(channels) channels"
        }
    }

    /// The grid at one pixel per weight (3 channels when C == 3, 1 otherwise).
    /// - Parameters:
    ///   - filters: weights [F][C][kh][kw].
    ///   - padding: background pixels between tiles and around the grid (cs231n uses 1).
    ///   - background: the padding value, 0–255 (0 = black).
    public static func image(_ filters: FilterBank, padding: Int = 1, background: UInt8 = 0) -> RasterImage {
        let f = filters.count
        let kh = filters.height
        let kw = filters.width
        let outChannels = filters.channels == 3 ? 3 : 1
        let perRow = Int(Double(f).squareRoot().rounded(.up))
        let rows = (f + perRow - 1) / perRow
        let pad = max(0, padding)
        let width = perRow * kw + (perRow + 1) * pad
        let height = rows * kh + (rows + 1) * pad
        var pixels = [UInt8](repeating: background, count: width * height * outChannels)
        for index in 0..<f {
            // The tile in [kh][kw][outChannels] order, before scaling.
            var tile = [Double](repeating: 0, count: kh * kw * outChannels)
            for y in 0..<kh {
                for x in 0..<kw {
                    if outChannels == 3 {
                        for c in 0..<3 { tile[(y * kw + x) * 3 + c] = Double(filters[index, c, y, x]) }
                    } else {
                        var sum = 0.0
                        for c in 0..<filters.channels { sum += Double(filters[index, c, y, x]) }
                        tile[y * kw + x] = sum / Double(filters.channels)
                    }
                }
            }
            let finite = tile.filter(\.isFinite)
            let low = finite.min() ?? 0
            let high = finite.max() ?? 0
            let range = high - low
            let gridX = index % perRow
            let gridY = index / perRow
            let x0 = pad + gridX * (kw + pad)
            let y0 = pad + gridY * (kh + pad)
            for y in 0..<kh {
                for x in 0..<kw {
                    for c in 0..<outChannels {
                        let v = tile[(y * kw + x) * outChannels + c]
                        let scaled = (range > 0 && v.isFinite) ? 255 * (v - low) / range : (v.isFinite ? 127.5 : 0)
                        pixels[((y0 + y) * width + x0 + x) * outChannels + c] = UInt8(
                            max(0, min(255, scaled.rounded())))
                    }
                }
            }
        }
        return RasterImage(unchecked: width, height, outChannels, pixels)
    }

    /// A titled figure of the grid, enlarged with crisp pixels to about `targetSize` pixels across.
    public static func figure(_ filters: FilterBank, padding: Int = 1, targetSize: Int = 480) -> Figure {
        let grid = image(filters, padding: padding)
        let scale = max(1, targetSize / max(grid.width, grid.height))
        let title = "First-layer filters"
        let subtitle =
            "\(filters.count) × \(filters.channels)×\(filters.height)×\(filters.width), \(channelNote(channels: filters.channels)), each scaled to 0-255"
        let contentWidth = grid.width * scale
        let width = max(contentWidth + 40, Int(Figure.textWidth(subtitle, size: 1)) + 40, 360)
        var figure = Figure(width: width, height: grid.height * scale + 74)
        figure.add(.text(title, x: Double(width) / 2, y: 22, size: 2, color: .ink, anchor: .middle, vertical: false))
        figure.add(
            .text(
                subtitle, x: Double(width) / 2, y: 42, size: 1, color: RGBColor(90, 90, 90), anchor: .middle,
                vertical: false))
        figure.add(.image(grid, x: (width - contentWidth) / 2, y: 56, scale: scale))
        return figure
    }
}
