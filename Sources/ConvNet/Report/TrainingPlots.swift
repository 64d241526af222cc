import Foundation

/// The training curves: loss per iteration, accuracy per epoch, and both together as the classic
/// two-panel figure (loss above, train/validation accuracy below).
public enum TrainingPlots {
    /// The default smoothing window: about a twentieth of the run, at least 1, at most 500.
    public static func defaultSmoothingWindow(count: Int) -> Int { max(1, min(500, count / 20)) }

    /// The trailing moving average of `values` over `window` entries (shorter windows at the
    /// start). Non-finite values are skipped and yield NaN at their own position.
    public static func movingAverage(_ values: [Double], window: Int) -> [Double] {
        let w = max(1, window)
        var out = [Double](repeating: .nan, count: values.count)
        var sum = 0.0
        var count = 0
        var queue: [Double] = []
        queue.reserveCapacity(values.count)
        var head = 0
        for (i, v) in values.enumerated() {
            if v.isFinite {
                queue.append(v)
                sum += v
                count += 1
            } else {
                queue.append(.nan)
            }
            if queue.count - head > w {
                let old = queue[head]
                head += 1
                if old.isFinite {
                    sum -= old
                    count -= 1
                }
            }
            if v.isFinite && count > 0 { out[i] = sum / Double(count) }
        }
        return out
    }

    /// The loss-per-iteration chart: every mini-batch loss as a thin light line, and its moving
    /// average (`smoothingWindow`, by default `defaultSmoothingWindow`) as a bold line.
    public static func lossChart(_ iterations: [IterationRecord], smoothingWindow: Int? = nil) -> LineChart {
        let xs = iterations.map { Double($0.iteration) }
        let losses = iterations.map(\.loss)
        let window = smoothingWindow ?? defaultSmoothingWindow(count: losses.count)
        let smooth = movingAverage(losses, window: window)
        var series = [
            LineChart.Series(
                name: "loss", points: Array(zip(xs, losses)).map { ($0, $1) },
                color: RGBColor(160, 196, 228), lineWidth: 1)
        ]
        if window > 1 {
            series.append(
                LineChart.Series(
                    name: "moving average (\(window))", points: Array(zip(xs, smooth)).map { ($0, $1) },
                    color: .blue, lineWidth: 2.5))
        }
        return LineChart(title: "Training loss", xLabel: "Iteration", yLabel: "Loss", series: series)
    }

    /// The accuracy-per-epoch chart: train and validation accuracy with markers (whichever exist).
    public static func accuracyChart(_ epochs: [EpochRecord]) -> LineChart {
        var series: [LineChart.Series] = []
        let train = epochs.compactMap { e in e.trainAccuracy.map { (Double(e.epoch), $0) } }
        let validation = epochs.compactMap { e in e.validationAccuracy.map { (Double(e.epoch), $0) } }
        if !train.isEmpty {
            series.append(LineChart.Series(name: "train", points: train.map { ($0, $1) }, color: .blue, markers: true))
        }
        if !validation.isEmpty {
            series.append(
                LineChart.Series(name: "validation", points: validation.map { ($0, $1) }, color: .orange, markers: true)
            )
        }
        let test = epochs.compactMap { e in e.testAccuracy.map { (Double(e.epoch), $0) } }
        if !test.isEmpty {
            series.append(
                LineChart.Series(
                    name: "test", points: test.map { ($0, $1) }, color: RGBColor(44, 160, 44), markers: true))
        }
        return LineChart(
            title: "Classification accuracy", xLabel: "Epoch", yLabel: "Accuracy", series: series,
            legendPosition: .bottomRight)
    }

    /// The learning rate of every step (the schedule as it ran).
    public static func learningRateChart(_ iterations: [IterationRecord]) -> LineChart {
        LineChart(
            title: "Learning rate", xLabel: "Iteration", yLabel: "Learning rate",
            series: [
                LineChart.Series(
                    name: "learning rate", points: iterations.map { (Double($0.iteration), $0.learningRate) },
                    color: .blue, lineWidth: 2)
            ])
    }

    /// The learning-rate figure (800×420).
    public static func learningRateFigure(_ iterations: [IterationRecord]) -> Figure {
        var figure = Figure(width: 800, height: 420)
        learningRateChart(iterations).draw(into: &figure, x: 0, y: 0, width: 800, height: 420)
        return figure
    }

    /// The loss-per-iteration figure (800×420).
    public static func lossFigure(_ iterations: [IterationRecord], smoothingWindow: Int? = nil) -> Figure {
        var figure = Figure(width: 800, height: 420)
        lossChart(iterations, smoothingWindow: smoothingWindow).draw(into: &figure, x: 0, y: 0, width: 800, height: 420)
        return figure
    }

    /// The accuracy-per-epoch figure (800×420).
    public static func accuracyFigure(_ epochs: [EpochRecord]) -> Figure {
        var figure = Figure(width: 800, height: 420)
        accuracyChart(epochs).draw(into: &figure, x: 0, y: 0, width: 800, height: 420)
        return figure
    }

    /// The classic two-panel figure (800×760): loss per iteration above, train and validation
    /// accuracy per epoch below.
    public static func summaryFigure(iterations: [IterationRecord], epochs: [EpochRecord], smoothingWindow: Int? = nil)
        -> Figure
    {
        var figure = Figure(width: 800, height: 760)
        lossChart(iterations, smoothingWindow: smoothingWindow).draw(into: &figure, x: 0, y: 0, width: 800, height: 380)
        accuracyChart(epochs).draw(into: &figure, x: 0, y: 380, width: 800, height: 380)
        return figure
    }
}
