import Foundation
import Testing

@testable import ConvNet

/// The model-spec language: a table of good specs (canonical text, output shape, parameter
/// names) and a table of bad ones (the error names the token and its position).
struct ModelSpecTests {
    static let good: [(text: String, input: [Int], canonical: String, output: [Int], parameters: [String])] = [
        (
            "conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)", [3, 32, 32],
            "conv(32,k=7,p=3) relu maxpool(2) flatten dense(100) relu dense(10)", [10],
            ["0.weight", "0.bias", "4.weight", "4.bias", "6.weight", "6.bias"]
        ),
        (
            "CONV2D(6, 5, p=2) -> ReLU -> MaxPool(2) ; conv(16,kernel=5) relu pool flatten linear(120) relu fc(n=84) relu dense(10)",
            [1, 28, 28], (try! ModelPreset.lenet5.spec()).description, [10],
            [
                "0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias", "11.weight",
                "11.bias",
            ]
        ),
        (
            "conv(8, 3, 2, 1) tanh avgpool(3,s=2,p=1) sigmoid flatten dense(4)", [2, 9, 9],
            "conv(8,k=3,s=2,p=1) tanh avgpool(3,s=2,p=1) sigmoid flatten dense(4)", [4],
            ["0.weight", "0.bias", "5.weight", "5.bias"]
        ),
        (
            "dense(4), sigmoid, dense(1), sigmoid", [2], "dense(4) sigmoid dense(1) sigmoid", [1],
            ["0.weight", "0.bias", "2.weight", "2.bias"]
        ),
        (
            "flatten dense(100) relu dense(10)", [1, 8, 8], "flatten dense(100) relu dense(10)", [10],
            ["1.weight", "1.bias", "3.weight", "3.bias"]
        ),
        ("conv(4) maxpool(3, s=1)", [1, 6, 6], "conv(4,k=3) maxpool(3,s=1)", [4, 2, 2], ["0.weight", "0.bias"]),
        // PyTorch's floor rule: a stride-2 3×3 convolution with padding 1 on 28×28 gives 14×14.
        (
            "conv(4,k=3,s=2,p=1) maxpool(3,s=2,ceil=1)", [1, 28, 28], "conv(4,k=3,s=2,p=1) maxpool(3,s=2,ceil=true)",
            [4, 7, 7],
            ["0.weight", "0.bias"]
        ),
        (
            "CONV(6, 3, p=2, d=2, g=3, bias=false) BN(momentum=0.2) LeakyReLU(0.2) gap flatten dense(5) bn1d dropout(0.25) identity dense(2)",
            [3, 9, 9],
            "conv(6,k=3,p=2,d=2,g=3,bias=false) bn(momentum=0.2) leakyrelu(0.2) gap flatten dense(5) bn dropout(0.25) identity dense(2)",
            [2], ["0.weight", "1.weight", "1.bias", "5.weight", "5.bias", "6.weight", "6.bias", "9.weight", "9.bias"]
        ),
        (
            "res(conv(4,k=3,p=1) bn relu conv(4,k=3,p=1) bn) relu res(conv(8,k=3,s=2,p=1) | conv(8,k=1,s=2) bn)",
            [4, 6, 6],
            "res(conv(4,k=3,p=1) bn relu conv(4,k=3,p=1) bn) relu res(conv(8,k=3,s=2,p=1) | conv(8,k=1,s=2) bn)",
            [8, 3, 3],
            [
                "0.body.0.weight", "0.body.0.bias", "0.body.1.weight", "0.body.1.bias", "0.body.3.weight",
                "0.body.3.bias",
                "0.body.4.weight", "0.body.4.bias", "2.body.0.weight", "2.body.0.bias", "2.shortcut.0.weight",
                "2.shortcut.0.bias",
                "2.shortcut.1.weight", "2.shortcut.1.bias",
            ]
        ),
        (
            "block(4) basicblock(8, s=2) seq(avgpool(2) flatten)", [4, 8, 8],
            "block(4) block(8,s=2) seq(avgpool(2) flatten)", [32],
            [
                "0.conv1.weight", "0.bn1.weight", "0.bn1.bias", "0.conv2.weight", "0.bn2.weight", "0.bn2.bias",
                "1.conv1.weight", "1.bn1.weight", "1.bn1.bias", "1.conv2.weight", "1.bn2.weight", "1.bn2.bias",
                "1.downsample.0.weight", "1.downsample.1.weight", "1.downsample.1.bias",
            ]
        ),
    ]

    @Test func goodSpecsParseBuildAndPrintCanonically() throws {
        for entry in ModelSpecTests.good {
            let spec = try ModelSpec(parsing: entry.text)
            #expect(spec.description == entry.canonical, "\(entry.text)")
            #expect(try ModelSpec(parsing: spec.description) == spec)
            #expect(try spec.outputShape(forInputShape: entry.input) == entry.output, "\(entry.text)")
            let network: Sequential<Float> = try spec.makeNetwork(inputShape: entry.input)
            #expect(network.namedParameters.map(\.name) == entry.parameters, "\(entry.text)")
            #expect(try network.outputShape(forInputShape: entry.input) == entry.output)
            #expect(try ModelSpec(describing: network) == spec)
        }
    }

    static let bad: [(text: String, input: [Int], fragments: [String])] = [
        ("conv(8) bn relu frobnicate", [1, 8, 8], ["unknown layer", "position 17", "'frobnicate'"]),
        ("conv(32,k=7,p=3) relu maxpol(2)", [3, 32, 32], ["unknown layer", "position 23", "'maxpol'"]),
        ("conv(32,k=7,q=3)", [3, 32, 32], ["unknown argument", "position 13", "'q'"]),
        ("conv(32,k=0)", [3, 32, 32], ["kernel must be positive", "position 11"]),
        ("conv(k=3)", [3, 32, 32], ["needs a filter count", "position 1"]),
        ("dense()", [10], ["needs a unit count", "position 1"]),
        ("dense(10", [10], ["expected ',' or ')'", "end of spec"]),
        ("dense(10,20)", [10], ["too many arguments", "'20'"]),
        ("relu(2)", [10], ["takes no arguments", "position 5"]),
        ("conv(8) dense(10)", [1, 8, 8], ["put 'flatten' before dense", "layer 1", "position 9"]),
        ("conv(8,k=5)", [1, 3, 3], ["smaller than the 5×5 window", "position 1"]),
        ("conv(8,k=3,g=3)", [2, 8, 8], ["divisible by 3", "position 1"]),
        ("bn(eps=0)", [4], ["eps must be in"]),
        ("dropout(1.5)", [4], ["p must be in [0.0, 1.0]", "position 9"]),
        ("res()", [1, 8, 8], ["res needs at least one layer"]),
        ("res(conv(4,p=1) | conv(4,k=3))", [1, 8, 8], ["residual branches disagree"]),
        ("res(conv(4,p=1) bogus)", [1, 8, 8], ["unknown layer", "position 17"]),
        ("block(16,s=2) dense(3)", [3, 8, 8], ["put 'flatten' before dense", "layer 1"]),
        ("gap", [10], ["needs input [C, H, W]"]),
        ("maxpool(2,ceil=2)", [1, 8, 8], ["ceil takes true or false"]),
        ("maxpool(2)", [10], ["needs input [C, H, W]"]),
        ("maxpool(2,p=2)", [1, 8, 8], ["exceeds half the kernel"]),
        ("dense(10) $", [10], ["unexpected character '$'", "position 11"]),
        ("", [10], ["has no layers"]),
        ("dense(k=3, 4)", [10], ["unknown argument"]),
        ("dense(n=3, 4)", [10], ["positional argument after a keyword"]),
        ("dense(3, n=4)", [10], ["units given twice"]),
    ]

    @Test func badSpecsPointAtTheToken() throws {
        for entry in ModelSpecTests.bad {
            let message = thrownMessage {
                let spec = try ModelSpec(parsing: entry.text)
                _ = try spec.makeNetwork(inputShape: entry.input, scalar: Float.self)
            }
            for fragment in entry.fragments {
                #expect(message?.contains(fragment) == true, "\(entry.text): \(message ?? "no error")")
            }
        }
    }

    /// Every preset's spec builds the same parameter names and shapes as the preset itself.
    @Test func presetSpecsMatchThePresets() throws {
        let cases: [(ModelPreset, [Int])] = [
            (.digitsCNN, [1, 8, 8]), (.threeLayerConvNet, [3, 32, 32]), (.lenet5, [1, 28, 28]), (.mlp, [1, 8, 8]),
            (.xor, [2]),
        ]
        for (preset, input) in cases {
            let model = try preset.makeModel(inputShape: input, classes: 10, hiddenSizes: [50, 30], scalar: Float.self)
            let classes = preset == .xor ? 1 : 10
            let fromSpec: Sequential<Float> = try preset.spec(classes: classes, hiddenSizes: [50, 30]).makeNetwork(
                inputShape: input)
            let shapes = { (n: Sequential<Float>) in n.namedParameters.map { "\($0.name) \($0.parameter.value.shape)" }
            }
            #expect(shapes(fromSpec) == shapes(model.network), "\(preset)")
            #expect(
                try ModelSpec(describing: model.network) == (try preset.spec(classes: classes, hiddenSizes: [50, 30])),
                "\(preset)")
        }
    }

    @Test func pytorchSourceNamesEveryModule() throws {
        let spec = try ModelPreset.lenet5.spec()
        #expect(
            try spec.pytorchSource(inputShape: [1, 28, 28])
                == "nn.Sequential(nn.Conv2d(1, 6, 5, stride=1, padding=2), nn.ReLU(), "
                + "nn.MaxPool2d(2, stride=2, padding=0), nn.Conv2d(6, 16, 5, stride=1, padding=0), nn.ReLU(), "
                + "nn.MaxPool2d(2, stride=2, padding=0), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), "
                + "nn.ReLU(), nn.Linear(84, 10))")
    }
}
