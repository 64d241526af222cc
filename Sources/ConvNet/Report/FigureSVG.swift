import Foundation

extension Figure {
    /// The figure as a standalone SVG document. Text uses a monospaced font sized to match the
    /// raster's bitmap font; images are embedded as base64 PNG data URIs.
    public func svgText() -> String {
        var s = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="\(background.hex)"/>

            """
        for element in elements {
            switch element {
            case .rect(let x, let y, let w, let h, let fill, let stroke):
                var attributes =
                    "x=\"\(svgNumber(x))\" y=\"\(svgNumber(y))\" width=\"\(svgNumber(w))\" height=\"\(svgNumber(h))\""
                attributes += " fill=\"\(fill?.hex ?? "none")\""
                if let stroke {
                    // The raster draws the border inside the rectangle; so does a stroke inset by half a pixel.
                    attributes =
                        "x=\"\(svgNumber(x + 0.5))\" y=\"\(svgNumber(y + 0.5))\" width=\"\(svgNumber(max(0, w - 1)))\" height=\"\(svgNumber(max(0, h - 1)))\""
                    attributes += " fill=\"\(fill?.hex ?? "none")\" stroke=\"\(stroke.hex)\" stroke-width=\"1\""
                }
                s += "<rect \(attributes)/>\n"
            case .polyline(let points, let color, let lineWidth):
                // Non-finite points break the line into separate runs.
                var runs: [[Point]] = [[]]
                for p in points {
                    if p.x.isFinite && p.y.isFinite {
                        runs[runs.count - 1].append(p)
                    } else if !runs[runs.count - 1].isEmpty {
                        runs.append([])
                    }
                }
                for run in runs where !run.isEmpty {
                    let list = run.map { "\(svgNumber($0.x)),\(svgNumber($0.y))" }.joined(separator: " ")
                    s +=
                        "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(svgNumber(lineWidth))\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
                }
            case .circle(let x, let y, let radius, let fill):
                s +=
                    "<circle cx=\"\(svgNumber(x))\" cy=\"\(svgNumber(y))\" r=\"\(svgNumber(radius))\" fill=\"\(fill.hex)\"/>\n"
            case .text(let text, let x, let y, let size, let color, let anchor, let vertical):
                let fontSize = 10 * max(1, size)
                let rotation = vertical ? " transform=\"rotate(-90 \(svgNumber(x)) \(svgNumber(y)))\"" : ""
                s +=
                    "<text x=\"\(svgNumber(x))\" y=\"\(svgNumber(y))\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"\(fontSize)\" fill=\"\(color.hex)\" text-anchor=\"\(anchor.rawValue)\"\(rotation)>\(escapeXML(text))</text>\n"
            case .image(let image, let x, let y, let scale):
                let base64 = Data(PNGEncoder.encode(image)).base64EncodedString()
                s +=
                    "<image x=\"\(x)\" y=\"\(y)\" width=\"\(image.width * scale)\" height=\"\(image.height * scale)\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,\(base64)\"/>\n"
            }
        }
        s += "</svg>\n"
        return s
    }
}

/// A number for SVG attributes: at most two decimals, no trailing zeros, never NaN.
func svgNumber(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    return String(format: "%.2f", rounded).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
}

/// Escapes `&`, `<`, `>`, `"` and `'` for use in XML/HTML text and attribute values.
func escapeXML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}
