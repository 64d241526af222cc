import Foundation

/// A picture described once as a list of drawing elements in pixel coordinates, rendered both to a
/// raster (for PNG) and to SVG text, so the two files always show the same plot.
///
/// Coordinates: x to the right, y down, origin at the top-left corner, units are output pixels.
public struct Figure: Sendable {
    /// Horizontal alignment of a text element relative to its anchor point.
    public enum TextAnchor: String, Sendable {
        /// The text starts at the anchor.
        case start
        /// The text is centred on the anchor.
        case middle
        /// The text ends at the anchor.
        case end
    }

    /// One drawing element.
    public enum Element: Sendable {
        /// An axis-aligned rectangle, optionally filled and/or outlined with a 1-pixel line.
        case rect(x: Double, y: Double, width: Double, height: Double, fill: RGBColor?, stroke: RGBColor?)
        /// A connected line through `points` (anti-aliased in the raster).
        case polyline(points: [Point], color: RGBColor, width: Double)
        /// A filled circle (a plot marker).
        case circle(x: Double, y: Double, radius: Double, fill: RGBColor)
        /// Text whose baseline passes through (x, y). `size` is the bitmap-font scale (1 = 7 px tall
        /// capitals, 6 px per character). `vertical` text reads bottom to top, rotated −90° about (x, y).
        case text(String, x: Double, y: Double, size: Int, color: RGBColor, anchor: TextAnchor, vertical: Bool)
        /// An image drawn with its top-left corner at (x, y), enlarged `scale` times without smoothing.
        case image(RasterImage, x: Int, y: Int, scale: Int)
    }

    /// A point in figure coordinates.
    public struct Point: Sendable, Equatable {
        /// Horizontal position in pixels from the left edge.
        public var x: Double
        /// Vertical position in pixels from the top edge.
        public var y: Double
        /// Creates a point.
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Background colour.
    public var background: RGBColor
    /// The elements, drawn in order.
    public var elements: [Element] = []

    /// Creates an empty figure.
    public init(width: Int, height: Int, background: RGBColor = .white) {
        self.width = max(1, width)
        self.height = max(1, height)
        self.background = background
    }

    /// Appends an element.
    public mutating func add(_ element: Element) { elements.append(element) }

    /// The width in pixels of `text` drawn at `size` (same in PNG and, nearly, in SVG).
    public static func textWidth(_ text: String, size: Int) -> Double {
        let n = text.unicodeScalars.count
        return n == 0 ? 0 : Double(n * BitmapFont.cellWidth * size - size)
    }

    // MARK: Output

    /// The PNG file bytes of this figure.
    public func pngData() -> [UInt8] { PNGEncoder.encode(rasterize()) }

    /// Writes the figure as PNG to `png` and, when given, as SVG to `svg`.
    /// - Throws: `ReportError.io` when a file cannot be written.
    public func write(png: URL, svg: URL? = nil) throws {
        try writeFile(Data(pngData()), to: png)
        if let svg { try writeFile(svgText(), to: svg) }
    }
}
