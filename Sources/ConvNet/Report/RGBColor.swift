/// An opaque 8-bit sRGB colour.
public struct RGBColor: Sendable, Equatable, Hashable, Codable {
    /// Red, 0–255.
    public var red: UInt8
    /// Green, 0–255.
    public var green: UInt8
    /// Blue, 0–255.
    public var blue: UInt8

    /// Creates a colour from its three 8-bit components.
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// `#rrggbb`, as SVG and CSS write it.
    public var hex: String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for v in [red, green, blue] {
            s.append(digits[Int(v >> 4)])
            s.append(digits[Int(v & 0xF)])
        }
        return s
    }

    /// The colour `t` of the way from `self` to `other` (`t` clamped to 0...1).
    public func mixed(with other: RGBColor, _ t: Double) -> RGBColor {
        let u = min(1, max(0, t.isFinite ? t : 0))
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - u) + Double(b) * u).rounded()) }
        return RGBColor(mix(red, other.red), mix(green, other.green), mix(blue, other.blue))
    }

    /// White.
    public static let white = RGBColor(255, 255, 255)
    /// Black.
    public static let black = RGBColor(0, 0, 0)
    /// Dark gray for text and axes.
    public static let ink = RGBColor(34, 34, 34)
    /// Light gray for grid lines.
    public static let grid = RGBColor(225, 225, 225)
    /// Matplotlib's "tab:blue".
    public static let blue = RGBColor(31, 119, 180)
    /// Matplotlib's "tab:orange".
    public static let orange = RGBColor(255, 127, 14)
    /// Matplotlib's "tab:green".
    public static let green = RGBColor(44, 160, 44)
    /// Matplotlib's "tab:red".
    public static let red = RGBColor(214, 39, 40)
}
