import Foundation

extension Figure {
    /// Draws the figure into an RGB raster image.
    public func rasterize() -> RasterImage {
        var canvas = Canvas(width: width, height: height, background: background)
        for element in elements {
            switch element {
            case .rect(let x, let y, let w, let h, let fill, let stroke):
                canvas.rect(x: x, y: y, width: w, height: h, fill: fill, stroke: stroke)
            case .polyline(let points, let color, let lineWidth):
                canvas.polyline(points, color: color, width: lineWidth)
            case .circle(let x, let y, let radius, let fill):
                canvas.disc(x: x, y: y, radius: radius, color: fill)
            case .text(let text, let x, let y, let size, let color, let anchor, let vertical):
                canvas.text(text, x: x, y: y, size: size, color: color, anchor: anchor, vertical: vertical)
            case .image(let image, let x, let y, let scale):
                canvas.blit(image, x: x, y: y, scale: scale)
            }
        }
        return canvas.image
    }
}

/// An RGB pixel buffer with the few drawing operations the plots need.
struct Canvas {
    var image: RasterImage

    init(width: Int, height: Int, background: RGBColor) {
        image = RasterImage(
            unchecked: width, height, 3,
            [UInt8](repeating: 0, count: width * height * 3))
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            image.pixels[i] = background.red
            image.pixels[i + 1] = background.green
            image.pixels[i + 2] = background.blue
        }
    }

    /// Blends `color` into pixel (x, y) with opacity `alpha` (0...1); outside pixels are ignored.
    @inline(__always)
    mutating func blend(_ x: Int, _ y: Int, _ color: RGBColor, _ alpha: Double) {
        guard x >= 0, y >= 0, x < image.width, y < image.height, alpha > 0 else { return }
        let i = (y * image.width + x) * 3
        if alpha >= 1 {
            image.pixels[i] = color.red
            image.pixels[i + 1] = color.green
            image.pixels[i + 2] = color.blue
            return
        }
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8((Double(old) * (1 - alpha) + Double(new) * alpha).rounded())
        }
        image.pixels[i] = mix(image.pixels[i], color.red)
        image.pixels[i + 1] = mix(image.pixels[i + 1], color.green)
        image.pixels[i + 2] = mix(image.pixels[i + 2], color.blue)
    }

    /// Fills the pixels whose centres lie inside the rectangle; the stroke is the 1-pixel border
    /// just inside it.
    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: RGBColor?, stroke: RGBColor?) {
        let x0 = Int(x.rounded())
        let y0 = Int(y.rounded())
        let x1 = Int((x + width).rounded())
        let y1 = Int((y + height).rounded())
        guard x1 > x0, y1 > y0 else { return }
        if let fill {
            let cx0 = max(0, x0)
            let cx1 = min(image.width, x1)
            let cy0 = max(0, y0)
            let cy1 = min(image.height, y1)
            if cx1 > cx0 && cy1 > cy0 {
                for py in cy0..<cy1 {
                    for px in cx0..<cx1 { blend(px, py, fill, 1) }
                }
            }
        }
        if let stroke {
            for px in x0..<x1 {
                blend(px, y0, stroke, 1)
                blend(px, y1 - 1, stroke, 1)
            }
            for py in y0..<y1 {
                blend(x0, py, stroke, 1)
                blend(x1 - 1, py, stroke, 1)
            }
        }
    }

    /// Anti-aliased thick line segments: each pixel's coverage falls off linearly with its
    /// distance from the segment beyond half the line width.
    mutating func polyline(_ points: [Figure.Point], color: RGBColor, width: Double) {
        let half = max(0.5, width / 2)
        if points.count == 1 {
            disc(x: points[0].x, y: points[0].y, radius: half, color: color)
            return
        }
        guard points.count > 1 else { return }
        // A coverage buffer per polyline keeps joints from being blended twice.
        var coverage: [Int: Double] = [:]
        for k in 1..<points.count {
            let a = points[k - 1]
            let b = points[k]
            guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite else { continue }
            let minX = max(0, Int((min(a.x, b.x) - half - 1).rounded(.down)))
            let maxX = min(image.width - 1, Int((max(a.x, b.x) + half + 1).rounded(.up)))
            let minY = max(0, Int((min(a.y, b.y) - half - 1).rounded(.down)))
            let maxY = min(image.height - 1, Int((max(a.y, b.y) + half + 1).rounded(.up)))
            guard minX <= maxX, minY <= maxY else { continue }
            let dx = b.x - a.x
            let dy = b.y - a.y
            let lengthSquared = dx * dx + dy * dy
            for py in minY...maxY {
                for px in minX...maxX {
                    let cx = Double(px) + 0.5
                    let cy = Double(py) + 0.5
                    var t = lengthSquared > 0 ? ((cx - a.x) * dx + (cy - a.y) * dy) / lengthSquared : 0
                    t = min(1, max(0, t))
                    let ex = a.x + t * dx - cx
                    let ey = a.y + t * dy - cy
                    let distance = (ex * ex + ey * ey).squareRoot()
                    let c = min(1, max(0, half + 0.5 - distance))
                    if c > 0 {
                        let key = py * image.width + px
                        if c > coverage[key, default: 0] { coverage[key] = c }
                    }
                }
            }
        }
        for (key, c) in coverage { blend(key % image.width, key / image.width, color, c) }
    }

    /// An anti-aliased filled circle.
    mutating func disc(x: Double, y: Double, radius: Double, color: RGBColor) {
        guard x.isFinite, y.isFinite else { return }
        let minX = Int((x - radius - 1).rounded(.down))
        let maxX = Int((x + radius + 1).rounded(.up))
        let minY = Int((y - radius - 1).rounded(.down))
        let maxY = Int((y + radius + 1).rounded(.up))
        for py in minY...maxY {
            for px in minX...maxX {
                let dx = Double(px) + 0.5 - x
                let dy = Double(py) + 0.5 - y
                let c = min(1, max(0, radius + 0.5 - (dx * dx + dy * dy).squareRoot()))
                blend(px, py, color, c)
            }
        }
    }

    /// Bitmap-font text; see `Figure.Element.text` for the meaning of the anchor.
    mutating func text(
        _ text: String, x: Double, y: Double, size: Int, color: RGBColor,
        anchor: Figure.TextAnchor, vertical: Bool
    ) {
        let s = max(1, size)
        let bytes = BitmapFont.codes(text)
        let total = Figure.textWidth(text, size: s)
        var offset: Double
        switch anchor {
        case .start: offset = 0
        case .middle: offset = -total / 2
        case .end: offset = -total
        }
        offset = offset.rounded()
        let ax = Int(x.rounded())
        let ay = Int(y.rounded())
        for (i, ch) in bytes.enumerated() {
            for column in 0..<5 {
                for row in 0..<BitmapFont.rows where BitmapFont.isSet(ch, column: column, row: row) {
                    let u = Int(offset) + (i * BitmapFont.cellWidth + column) * s  // along the reading direction
                    let v = (BitmapFont.glyphHeight - row) * s  // above the baseline
                    for dy in 0..<s {
                        for dx in 0..<s {
                            if vertical {
                                blend(ax - v + dy, ay - u - dx - 1, color, 1)
                            } else {
                                blend(ax + u + dx, ay - v + dy, color, 1)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Copies `source` (gray, RGB or RGBA over the background) with nearest-neighbour enlargement.
    mutating func blit(_ source: RasterImage, x: Int, y: Int, scale: Int) {
        let s = max(1, scale)
        for sy in 0..<source.height {
            for sx in 0..<source.width {
                let i = (sy * source.width + sx) * source.channels
                let color: RGBColor
                var alpha = 1.0
                switch source.channels {
                case 1: color = RGBColor(source.pixels[i], source.pixels[i], source.pixels[i])
                case 4:
                    color = RGBColor(source.pixels[i], source.pixels[i + 1], source.pixels[i + 2])
                    alpha = Double(source.pixels[i + 3]) / 255
                default: color = RGBColor(source.pixels[i], source.pixels[i + 1], source.pixels[i + 2])
                }
                for dy in 0..<s {
                    for dx in 0..<s { blend(x + sx * s + dx, y + sy * s + dy, color, alpha) }
                }
            }
        }
    }
}
