import Foundation
import Testing

@testable import ConvNet

/// The plots: filter grid values, smoothing, ticks, and that large runs render quickly.
@Suite struct ReportPlotTests {
    @Test func filterGridScalesEachFilterToTheFullRangeWithPadding() throws {
        // Two 1×2×2 filters; expected pixels worked out by hand as in cs231n's visualize_grid:
        // (x - min) / (max - min) * 255 per filter, one pixel of padding (0) around and between.
        let bank = try FilterBank(count: 2, channels: 1, height: 2, width: 2, values: [0, 1, 2, 3, -5, -5, 5, 0])
        let image = FilterGrid.image(bank, padding: 1)
        // ⌈√2⌉ = 2 tiles per row, one row: 7 × 4 pixels.
        #expect(image.width == 7 && image.height == 4 && image.channels == 1)
        let expected: [UInt8] = [
            0, 0, 0, 0, 0, 0, 0,
            0, 0, 85, 0, 0, 0, 0,
            0, 170, 255, 0, 255, 128, 0,
            0, 0, 0, 0, 0, 0, 0,
        ]
        #expect(image.pixels == expected)
    }

    @Test func filterGridIsRGBForThreeChannelsAndAveragesOtherwise() throws {
        let rgb = try FilterBank(count: 4, channels: 3, height: 1, width: 1, values: (0..<12).map { Float($0) })
        #expect(FilterGrid.image(rgb).channels == 3)
        // Mean over 4 channels: filter 0 → [1.5, 5.5]... one value per 1×2 filter here.
        let many = try FilterBank(count: 1, channels: 4, height: 1, width: 2, values: [0, 10, 0, 10, 0, 10, 4, 10])
        let gray = FilterGrid.image(many, padding: 0)
        #expect(gray.channels == 1)
        #expect(gray.pixels == [0, 255])
        #expect(FilterGrid.channelNote(channels: 4) == "grayscale, mean of 4 channels")
    }

    @Test func movingAverageIsTrailingAndSkipsNonFiniteValues() {
        let averaged = TrainingPlots.movingAverage([1, 3, 5, .nan, 7], window: 2)
        #expect(averaged[0] == 1 && averaged[1] == 2 && averaged[2] == 4)
        #expect(averaged[3].isNaN)
        #expect(averaged[4] == 7)  // the window holds NaN and 7
    }

    @Test func ticksAreRoundNumbers() {
        let unit = niceTicks(0, 1, targetCount: 5, integer: false)
        #expect(unit.count == 6 && unit.first == 0 && abs(unit[5] - 1) < 1e-12 && abs(unit[1] - 0.2) < 1e-12)
        #expect(niceTicks(1, 300, targetCount: 7, integer: true) == [50, 100, 150, 200, 250, 300])
        #expect(formatTick(20000, decimals: 0) == "20k")
        #expect(formatTick(2_500_000, decimals: 0) == "2.5M")
        #expect(formatTick(0.25, decimals: 2) == "0.25")
    }

    @Test func largeRunsRenderQuickly() throws {
        var iterations: [IterationRecord] = []
        var generator = SplitMix64(seed: 1)
        for i in 1...20_000 {
            iterations.append(
                IterationRecord(
                    iteration: i, epoch: 1 + i / 2000, loss: 2.3 * exp(-Double(i) / 5000) + 0.3 * generator.nextUnit(),
                    learningRate: 1e-3))
        }
        iterations[500].loss = .infinity  // a diverged step leaves a gap, not a broken axis
        let start = Date()
        let figure = TrainingPlots.lossFigure(iterations)
        let png = figure.pngData()
        let svg = figure.svgText()
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < 20, "rendering 20,000 iterations took \(seconds) s")
        #expect(png.count > 1000)
        #expect(svg.contains("<polyline"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        if let sample = ProcessInfo.processInfo.environment["CONVNET_REPORT_SAMPLE_DIR"] {
            let directory = URL(fileURLWithPath: sample)
            try figure.write(
                png: directory.appendingPathComponent("large-loss.png"),
                svg: directory.appendingPathComponent("large-loss.svg"))
            let mnist = try FilterBank(
                count: 20, channels: 1, height: 5, width: 5, values: (0..<500).map { _ in Float(generator.nextUnit()) })
            try FilterGrid.figure(mnist).write(png: directory.appendingPathComponent("gray-filters.png"))
            let matrix = (0..<3).map { i in (0..<3).map { j in i == j ? 1234 : 3 * j } }
            try ConfusionMatrixPlot.figure(matrix).write(png: directory.appendingPathComponent("small-confusion.png"))
        }
    }

    @Test func confusionMatrixRejectsBadShapes() {
        #expect(throws: ReportError.self) { try ConfusionMatrixPlot.figure([]) }
        #expect(throws: ReportError.self) { try ConfusionMatrixPlot.figure([[1, 2], [3]]) }
        #expect(throws: ReportError.self) { try ConfusionMatrixPlot.figure([[1, 2], [3, 4]], classNames: ["a"]) }
    }

    @Test func svgEscapesTextAndMatchesTheFigureSize() throws {
        var figure = Figure(width: 120, height: 40)
        figure.add(.text("a<b & \"c\"", x: 10, y: 20, size: 1, color: .ink, anchor: .start, vertical: false))
        let svg = figure.svgText()
        #expect(svg.contains("a&lt;b &amp; &quot;c&quot;"))
        #expect(svg.contains("width=\"120\" height=\"40\""))
        let raster = figure.rasterize()
        #expect(raster.width == 120 && raster.height == 40)
        #expect(raster.pixels.contains(34))  // the text was drawn in ink
    }
}
