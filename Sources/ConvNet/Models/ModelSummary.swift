import Foundation

/// One row of a model summary.
public struct LayerSummary: Sendable, Equatable {
    /// The layer's index in the Sequential (its state_dict prefix).
    public var index: Int
    /// The layer's description, e.g. `Conv2D(3 → 32, kernel 7, stride 1, padding 3)`.
    public var layer: String
    /// Output shape of one sample.
    public var outputShape: [Int]
    /// Learnable scalars.
    public var parameters: Int
    /// Multiply–adds of the forward pass for one sample.
    public var multiplyAdds: Int
    /// Bytes of the layer's output for one sample, as Float.
    public var activationBytes: Int
}

/// A per-layer table of output shapes, parameters, FLOPs and activation memory, with totals
/// (like Keras's `summary()` or torchinfo).
public struct ModelSummary: Sendable, Equatable {
    /// The shape of one input sample.
    public var inputShape: [Int]
    /// One row per layer.
    public var layers: [LayerSummary]

    /// Summarises `network` for samples of `inputShape`.
    public init<Scalar: KernelScalar>(_ network: Sequential<Scalar>, inputShape: [Int]) throws {
        self.inputShape = inputShape
        var shape = inputShape
        var rows: [LayerSummary] = []
        for (index, layer) in network.layers.enumerated() {
            let flops = try layer.forwardFlops(forInputShape: shape)
            shape = try layer.outputShape(forInputShape: shape)
            rows.append(
                LayerSummary(
                    index: index, layer: layer.description, outputShape: shape,
                    parameters: layer.parameters.reduce(0) { $0 + $1.value.count }, multiplyAdds: flops,
                    activationBytes: shape.reduce(1, *) * MemoryLayout<Float>.size))
        }
        layers = rows
    }

    /// Total learnable scalars.
    public var totalParameters: Int { layers.reduce(0) { $0 + $1.parameters } }
    /// Forward multiply–adds per sample.
    public var totalMultiplyAdds: Int { layers.reduce(0) { $0 + $1.multiplyAdds } }
    /// FLOPs per sample for inference (2 per multiply–add).
    public var forwardFlops: Int { 2 * totalMultiplyAdds }
    /// Activation bytes per sample (all layer outputs, Float).
    public var totalActivationBytes: Int { layers.reduce(0) { $0 + $1.activationBytes } }

    /// A fixed-width text table with totals.
    public var text: String {
        let header = ["#", "layer", "output", "params", "mult-adds", "activations"]
        let rows = layers.map {
            [
                String($0.index), $0.layer, describe($0.outputShape), String($0.parameters), String($0.multiplyAdds),
                byteText($0.activationBytes),
            ]
        }
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                column == 1
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        var lines = ["input: \(describe(inputShape))", line(header)]
        lines.append(String(repeating: "-", count: lines[1].count))
        lines += rows.map(line)
        lines.append(String(repeating: "-", count: lines[1].count))
        lines.append("total parameters: \(totalParameters) (\(byteText(totalParameters * 4)) as Float)")
        lines.append(
            "forward: \(totalMultiplyAdds) multiply-adds = \(forwardFlops) FLOPs per sample; "
                + "training ≈ 3× forward = \(3 * forwardFlops) FLOPs")
        lines.append("activations: \(byteText(totalActivationBytes)) per sample (forward outputs, Float)")
        return lines.joined(separator: "\n")
    }
}

/// "1.5 KiB", "3.2 MiB".
func byteText(_ bytes: Int) -> String {
    let value = Double(bytes)
    if value < 1024 { return "\(bytes) B" }
    if value < 1024 * 1024 { return format(value / 1024, 1) + " KiB" }
    return format(value / 1024 / 1024, 1) + " MiB"
}
