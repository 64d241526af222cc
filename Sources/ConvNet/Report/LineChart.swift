import Foundation

/// A line chart panel (axes, ticks, grid, labels, legend) drawn into a region of a `Figure`.
/// The training plots are made of one or two of these.
public struct LineChart: Sendable {
    /// One line on the chart.
    public struct Series: Sendable {
        /// Legend label.
        public var name: String
        /// The data; points with a non-finite coordinate break the line.
        public var points: [(x: Double, y: Double)]
        /// Line colour.
        public var color: RGBColor
        /// Line width in pixels.
        public var lineWidth: Double
        /// Whether each point also gets a round marker (matplotlib's `'-o'`).
        public var markers: Bool

        /// Creates a series.
        public init(
            name: String, points: [(x: Double, y: Double)], color: RGBColor,
            lineWidth: Double = 2, markers: Bool = false
        ) {
            self.name = name
            self.points = points
            self.color = color
            self.lineWidth = lineWidth
            self.markers = markers
        }
    }

    /// Title drawn above the plot area.
    public var title: String
    /// Label under the x axis.
    public var xLabel: String
    /// Label left of the y axis (drawn vertically).
    public var yLabel: String
    /// The lines, drawn in order; the legend lists them when there are two or more.
    public var series: [Series]
    /// Fixed y range, or nil to fit the data with round tick values.
    public var yRange: ClosedRange<Double>?
    /// Whether x tick labels must be integers (iterations, epochs).
    public var integerX: Bool
    /// Where the legend goes inside the plot area.
    public var legendPosition: LegendPosition

    /// A corner of the plot area for the legend.
    public enum LegendPosition: Sendable {
        /// Top right (for falling curves such as loss).
        case topRight
        /// Bottom right (for rising curves such as accuracy).
        case bottomRight
    }

    /// Creates a chart.
    public init(
        title: String, xLabel: String, yLabel: String, series: [Series],
        yRange: ClosedRange<Double>? = nil, integerX: Bool = true, legendPosition: LegendPosition = .topRight
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
        self.integerX = integerX
        self.legendPosition = legendPosition
    }

    /// Draws the chart into `figure` inside the rectangle with top-left (`x`, `y`).
    public func draw(into figure: inout Figure, x: Double, y: Double, width: Double, height: Double) {
        let left = x + 62
        let right = x + width - 16
        let top = y + 30
        let bottom = y + height - 44
        let plotWidth = max(1, right - left)
        let plotHeight = max(1, bottom - top)
        figure.add(
            .text(title, x: (left + right) / 2, y: y + 20, size: 2, color: .ink, anchor: .middle, vertical: false))

        let finite = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
        guard !finite.isEmpty else {
            figure.add(.rect(x: left, y: top, width: plotWidth, height: plotHeight, fill: nil, stroke: .ink))
            figure.add(
                .text(
                    "no data", x: (left + right) / 2, y: (top + bottom) / 2, size: 1, color: .ink, anchor: .middle,
                    vertical: false))
            return
        }
        var xMin = finite.map(\.x).min()!
        var xMax = finite.map(\.x).max()!
        if xMax == xMin {
            xMin -= 1
            xMax += 1
        }
        if series.contains(where: \.markers) {
            // Keep the end markers inside the frame (matplotlib's axes margins).
            let margin = (xMax - xMin) * 0.03
            xMin -= margin
            xMax += margin
        }
        let xTicks = niceTicks(xMin, xMax, targetCount: max(2, Int(plotWidth / 90)), integer: integerX)

        var yMin: Double
        var yMax: Double
        var yTicks: [Double]
        if let yRange {
            yMin = yRange.lowerBound
            yMax = yRange.upperBound
            yTicks = niceTicks(yMin, yMax, targetCount: max(2, Int(plotHeight / 50)), integer: false)
        } else {
            yMin = finite.map(\.y).min()!
            yMax = finite.map(\.y).max()!
            if yMax == yMin {
                yMin -= yMin == 0 ? 1 : abs(yMin) * 0.1
                yMax += yMax == 0 ? 1 : abs(yMax) * 0.1
            }
            yTicks = niceTicks(yMin, yMax, targetCount: max(2, Int(plotHeight / 50)), integer: false)
            let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : (yMax - yMin)
            // Extend the axis to the next tick (matplotlib's 'round_numbers'); a little margin otherwise.
            yMin = min(yMin, (yMin / step).rounded(.down) * step)
            yMax = max(yMax, (yMax / step).rounded(.up) * step)
            yTicks = niceTicks(yMin, yMax, targetCount: max(2, Int(plotHeight / 50)), integer: false)
        }
        func px(_ v: Double) -> Double { left + (v - xMin) / (xMax - xMin) * plotWidth }
        func py(_ v: Double) -> Double { bottom - (v - yMin) / (yMax - yMin) * plotHeight }

        // Grid and tick labels.
        let xDecimals = decimals(for: xTicks)
        let yDecimals = decimals(for: yTicks)
        let yLabels = formatTicks(yTicks, decimals: yDecimals)
        let xLabels = formatTicks(xTicks, decimals: xDecimals)
        for (t, label) in zip(yTicks, yLabels) {
            let yy = py(t).rounded()
            figure.add(.rect(x: left, y: yy, width: plotWidth, height: 1, fill: .grid, stroke: nil))
            figure.add(.rect(x: left - 5, y: yy, width: 5, height: 1, fill: .ink, stroke: nil))
            figure.add(.text(label, x: left - 8, y: yy + 4, size: 1, color: .ink, anchor: .end, vertical: false))
        }
        for (t, label) in zip(xTicks, xLabels) {
            let xx = px(t).rounded()
            figure.add(.rect(x: xx, y: top, width: 1, height: plotHeight, fill: .grid, stroke: nil))
            figure.add(.rect(x: xx, y: bottom, width: 1, height: 5, fill: .ink, stroke: nil))
            figure.add(.text(label, x: xx, y: bottom + 17, size: 1, color: .ink, anchor: .middle, vertical: false))
        }
        figure.add(.rect(x: left, y: top, width: plotWidth + 1, height: plotHeight + 1, fill: nil, stroke: .ink))
        figure.add(
            .text(xLabel, x: (left + right) / 2, y: bottom + 36, size: 1, color: .ink, anchor: .middle, vertical: false)
        )
        figure.add(
            .text(yLabel, x: x + 16, y: (top + bottom) / 2, size: 1, color: .ink, anchor: .middle, vertical: true))

        // Lines and markers.
        for s in series {
            let points = s.points.map { p -> Figure.Point in
                (p.x.isFinite && p.y.isFinite) ? Figure.Point(x: px(p.x), y: py(p.y)) : Figure.Point(x: .nan, y: .nan)
            }
            figure.add(.polyline(points: points, color: s.color, width: s.lineWidth))
            if s.markers {
                for p in points where p.x.isFinite { figure.add(.circle(x: p.x, y: p.y, radius: 3.5, fill: s.color)) }
            }
        }

        // Legend, top-right inside the plot.
        let named = series.filter { !$0.name.isEmpty }
        if named.count >= 2 {
            let textWidth = named.map { Figure.textWidth($0.name, size: 1) }.max() ?? 0
            let boxWidth = textWidth + 44
            let boxHeight = Double(named.count) * 16 + 8
            let bx = right - boxWidth - 8
            let by = legendPosition == .topRight ? top + 8 : bottom - boxHeight - 8
            figure.add(
                .rect(x: bx, y: by, width: boxWidth, height: boxHeight, fill: .white, stroke: RGBColor(180, 180, 180)))
            for (i, s) in named.enumerated() {
                let ly = by + 12 + Double(i) * 16
                figure.add(
                    .polyline(
                        points: [Figure.Point(x: bx + 8, y: ly), Figure.Point(x: bx + 30, y: ly)], color: s.color,
                        width: max(2, s.lineWidth)))
                if s.markers { figure.add(.circle(x: bx + 19, y: ly, radius: 3.5, fill: s.color)) }
                figure.add(.text(s.name, x: bx + 36, y: ly + 4, size: 1, color: .ink, anchor: .start, vertical: false))
            }
        }
    }
}

/// Round tick values ("1, 2, 5 × 10^k" steps) covering [lo, hi] with about `targetCount` ticks.
func niceTicks(_ lo: Double, _ hi: Double, targetCount: Int, integer: Bool) -> [Double] {
    guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
    let rough = (hi - lo) / Double(max(1, targetCount))
    let magnitude = pow(10, (log10(rough)).rounded(.down))
    let normalized = rough / magnitude
    var step = (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude
    if integer { step = max(1, step.rounded()) }
    var ticks: [Double] = []
    var t = (lo / step).rounded(.up) * step
    while t <= hi + step * 1e-9 && ticks.count < 100 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return ticks
}

/// Decimals needed to tell the ticks apart.
func decimals(for ticks: [Double]) -> Int {
    guard ticks.count > 1 else { return 2 }
    let step = ticks[1] - ticks[0]
    return max(0, min(6, Int((-log10(step)).rounded(.up))))
}

/// Tick labels for one axis: fixed decimals; when the largest tick reaches 10,000 every round
/// label is shortened with k / M, so the axis reads 0, 5k, 10k rather than 5000, 10k.
func formatTicks(_ ticks: [Double], decimals: Int) -> [String] {
    let large = decimals == 0 && (ticks.map { abs($0) }.max() ?? 0) >= 10_000
    return ticks.map { large ? formatTick($0, decimals: 0, shorten: true) : String(format: "%.\(decimals)f", $0) }
}

/// A tick label: fixed decimals; large round numbers shortened with k / M.
func formatTick(_ value: Double, decimals: Int, shorten: Bool = false) -> String {
    if value == 0 { return String(format: "%.\(decimals)f", 0.0) }
    if decimals == 0 && (abs(value) >= 10_000 || shorten) {
        if abs(value) >= 1_000_000, value.truncatingRemainder(dividingBy: 100_000) == 0 {
            return formatTick(
                value / 1_000_000, decimals: value.truncatingRemainder(dividingBy: 1_000_000) == 0 ? 0 : 1) + "M"
        }
        if value.truncatingRemainder(dividingBy: 100) == 0 {
            return formatTick(value / 1000, decimals: value.truncatingRemainder(dividingBy: 1000) == 0 ? 0 : 1) + "k"
        }
    }
    return String(format: "%.\(decimals)f", value)
}
