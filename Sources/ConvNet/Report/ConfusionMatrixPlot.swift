import Foundation

/// A confusion-matrix heat map: rows are true classes, columns predicted classes, each cell
/// coloured by its share of the row (white → dark blue, like matplotlib's "Blues") and labelled
/// with its count when the count fits in the cell.
public enum ConfusionMatrixPlot {
    /// The heat map figure.
    /// - Parameters:
    ///   - matrix: `matrix[true][predicted]` counts; must be square.
    ///   - classNames: one name per class, or empty for numbers.
    /// - Throws: `ReportError.invalidInput` when the matrix is empty or not square, or the names
    ///   do not match its size.
    public static func figure(_ matrix: [[Int]], classNames: [String] = []) throws -> Figure {
        let k = matrix.count
        guard k > 0 else { throw ReportError.invalidInput("confusion matrix is empty") }
        for (i, row) in matrix.enumerated() where row.count != k {
            throw ReportError.invalidInput(
                "confusion matrix must be square: row \(i) has \(row.count) entries, expected \(k)")
        }
        guard classNames.isEmpty || classNames.count == k else {
            throw ReportError.invalidInput("\(classNames.count) class names for a \(k)×\(k) confusion matrix")
        }
        let names = (0..<k).map { i -> String in
            let name = classNames.isEmpty ? String(i) : classNames[i]
            return name.count > 14 ? String(name.prefix(13)) + "~" : name
        }
        let cell = max(14, min(56, 520 / k))
        let labelWidth = Int(names.map { Figure.textWidth($0, size: 1) }.max() ?? 6)
        let verticalColumnLabels = labelWidth + 4 > cell
        let left = 40 + labelWidth + 10
        let top = 56
        let gridSize = cell * k
        let bottomLabels = verticalColumnLabels ? labelWidth + 12 : 20
        let total = matrix.joined().reduce(0, +)
        let correct = (0..<k).reduce(0) { $0 + matrix[$1][$1] }
        let accuracy = total > 0 ? String(format: "%.2f%%", 100 * Double(correct) / Double(total)) : "n/a"
        let subtitle = "\(total) samples, accuracy \(accuracy); colour = share of the true class"
        let width = max(left + gridSize + 30, Int(Figure.textWidth(subtitle, size: 1)) + 24, 360)
        let height = top + gridSize + bottomLabels + 34

        var figure = Figure(width: width, height: height)
        let centre = Double(left) + Double(gridSize) / 2
        figure.add(
            .text(
                "Confusion matrix", x: Double(width) / 2, y: 22, size: 2, color: .ink, anchor: .middle, vertical: false)
        )
        figure.add(
            .text(
                subtitle,
                x: Double(width) / 2, y: 42, size: 1, color: RGBColor(90, 90, 90), anchor: .middle, vertical: false))

        let light = RGBColor(247, 251, 255)
        let dark = RGBColor(8, 48, 107)
        for i in 0..<k {
            let rowSum = matrix[i].reduce(0, +)
            for j in 0..<k {
                let count = matrix[i][j]
                let share = rowSum > 0 ? Double(count) / Double(rowSum) : 0
                let x = Double(left + j * cell)
                let y = Double(top + i * cell)
                figure.add(
                    .rect(
                        x: x, y: y, width: Double(cell), height: Double(cell), fill: light.mixed(with: dark, share),
                        stroke: nil))
                let label = String(count)
                if Figure.textWidth(label, size: 1) + 4 <= Double(cell) {
                    figure.add(
                        .text(
                            label, x: x + Double(cell) / 2, y: y + Double(cell) / 2 + 4, size: 1,
                            color: share > 0.5 ? .white : .ink, anchor: .middle, vertical: false))
                }
            }
            // Row label (true class), right-aligned left of the grid.
            figure.add(
                .text(
                    names[i], x: Double(left - 6), y: Double(top + i * cell) + Double(cell) / 2 + 4, size: 1,
                    color: .ink, anchor: .end, vertical: false))
            // Column label (predicted class) under the grid.
            let cx = Double(left + i * cell) + Double(cell) / 2
            if verticalColumnLabels {
                figure.add(
                    .text(
                        names[i], x: cx + 4, y: Double(top + gridSize + 6), size: 1, color: .ink, anchor: .end,
                        vertical: true))
            } else {
                figure.add(
                    .text(
                        names[i], x: cx, y: Double(top + gridSize + 14), size: 1, color: .ink, anchor: .middle,
                        vertical: false))
            }
        }
        figure.add(
            .rect(
                x: Double(left), y: Double(top), width: Double(gridSize), height: Double(gridSize), fill: nil,
                stroke: .ink))
        figure.add(
            .text(
                "Predicted class", x: centre, y: Double(top + gridSize + bottomLabels + 14), size: 1, color: .ink,
                anchor: .middle, vertical: false))
        figure.add(
            .text(
                "True class", x: 16, y: Double(top) + Double(gridSize) / 2, size: 1, color: .ink, anchor: .middle,
                vertical: true))
        return figure
    }
}
