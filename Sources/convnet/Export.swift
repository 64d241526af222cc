import ArgumentParser
import ConvNet
import Foundation

/// `convnet export CKPT --onnx model.onnx`: the checkpoint as an ONNX model.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a checkpoint as an ONNX model (opset 17; input 'input' [batch, C, H, W], output 'scores').")

    @Argument(help: "A checkpoint (.safetensors) written by ConvNet.")
    var checkpoint: String

    @Option(help: "Where to write the ONNX model (written atomically).")
    var onnx: String

    func run() throws {
        let model = try ONNXModel.export(checkpoint: URL(fileURLWithPath: checkpoint), to: URL(fileURLWithPath: onnx))
        let shape = { (sample: [Int]) in "[" + (["batch"] + sample.map(String.init)).joined(separator: ", ") + "]" }
        print(
            "wrote \(onnx): ONNX opset \(model.opset) (IR \(model.irVersion)), \(model.graph.nodes.count) nodes, "
                + "\(model.graph.initializers.count) initializers; input \(shape(model.graph.input.sampleShape)) → "
                + "scores \(shape(model.output.sampleShape))")
    }
}
