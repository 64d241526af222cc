import ConvNetKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a `Conv2D` computes, chosen per layer from its input shape (`choose(for:...)`), and
/// printed in `convnet bench`'s per-layer profile.
public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
    /// Unfold each image (`im2col`), one GEMM per group: every shape.
    case im2col
    /// Winograd F(4×4, 3×3) (`Winograd.swift`): 3×3, stride 1, dilation 1, one group; a
    /// quarter of the multiply-adds, with float32 rounding a few times larger than im2col's.
    /// The forward pass and the input gradient run Winograd F(4×4, 3×3); the weight gradient
    /// runs Winograd F(2×2, 3×3) backwards (`WinogradWeightGradient.swift`), without im2col.
    case winograd
    /// The forward pass summed directly over the taps, with the input read in place
    /// (`DirectConvolution.swift`), and the weight gradient too: stride 1, dilation 1, one
    /// group, for layers with at most `DirectConvolution.maximumChannels` input channels (W1's
    /// 3 → 32 7×7, the MNIST recipe's 1 → 32, LeNet's 1 → 6), whose GEMM depth C·kh·kw is too
    /// short for im2col + GEMM to run at speed. The input gradient, where wanted, by col2im.
    case direct

    /// Below this many input or output channels the transforms cost more than the products
    /// save, so such layers take the direct forward or im2col (W1's 3-channel input layer,
    /// LeNet's 1 → 6).
    public static let winogradMinimumChannels = 16

    /// Below this many input or output channels a Winograd layer sums its weight gradient
    /// directly (`DirectWeightGradient.swift`) instead of by Winograd: measured at batch 128 on
    /// the MNIST recipe's 32 → 32 (28×28) and 32 → 64 (14×14) layers, the transforms and the
    /// channels-last copies cost about what the multiply-adds save (backward 21.2–22.5 ms
    /// direct, 21.1–21.5 Winograd), where W3's 64- and 128-channel layers gain a quarter to a
    /// third. Its sums also cancel more (the transforms pair neighbouring values), so where it
    /// does not pay the direct sum's rounding is kept.
    public static let winogradWeightGradientMinimumChannels = 64

    /// Whether a layer of `algorithm` sums its weight gradient by Winograd F(2×2, 3×3)
    /// (`WinogradWeightGradient.swift`): Winograd layers with at least
    /// `winogradWeightGradientMinimumChannels` input and output channels.
    public static func weightGradientIsWinograd(
        _ algorithm: ConvolutionAlgorithm, for g: WindowGeometry, filters: Int, groups: Int
    ) -> Bool {
        algorithm == .winograd && WinogradWeightGradient.applies(to: g, groups: groups)
            && g.channels >= winogradWeightGradientMinimumChannels && filters >= winogradWeightGradientMinimumChannels
    }

    /// `CONVNET_CONVOLUTION`: `im2col` (everywhere), `winograd` (wherever it applies, whatever
    /// the channels; `choose`'s rule elsewhere) or `auto` (the default: `choose`'s rule). Read
    /// once.
    public static let setting: String = {
        guard let value = getenv("CONVNET_CONVOLUTION") else { return "auto" }
        let text = String(cString: value).lowercased()
        return ["im2col", "winograd", "auto"].contains(text) ? text : "auto"
    }()

    /// The algorithm for geometry `g` with `filters` outputs in `groups` groups, for an
    /// element type that does (`winogradIsPreferred`: Float) or does not (Double: im2col
    /// everywhere) take the fast algorithms; `forced` (a layer's `setConvolutionAlgorithm`) wins
    /// wherever it applies. Float: Winograd for wide 3×3 stride-1 layers, the direct forward for
    /// few-channel stride-1 layers, im2col for the rest.
    public static func choose(
        for g: WindowGeometry, filters: Int, groups: Int, winogradIsPreferred: Bool,
        forced: ConvolutionAlgorithm? = nil, setting: String = setting
    ) -> ConvolutionAlgorithm {
        if let forced {
            switch forced {
            case .winograd: return Winograd.applies(to: g, groups: groups) ? .winograd : .im2col
            case .direct: return DirectConvolution.applies(to: g, groups: groups) ? .direct : .im2col
            case .im2col: return .im2col
            }
        }
        guard winogradIsPreferred, setting != "im2col" else { return .im2col }
        if Winograd.applies(to: g, groups: groups)
            && (setting == "winograd"
                || g.channels >= winogradMinimumChannels && filters >= winogradMinimumChannels)
        {
            return .winograd
        }
        if DirectConvolution.applies(to: g, groups: groups) && g.channels <= DirectConvolution.maximumChannels {
            return .direct
        }
        return .im2col
    }

    /// Whether the weight gradient is summed from X and dY without im2col instead of by
    /// im2col + GEMM: always under Winograd (in its transformed domain where
    /// `weightGradientIsWinograd`, directly otherwise) and under the direct forward; under
    /// im2col, directly (`DirectWeightGradient.swift`), for the element types that take Winograd
    /// (Float) on stride-1 kernels larger than 1×1 (W1's 3 → 32 7×7: backward 9.9 → 6.5 ms at
    /// batch 64), unless im2col was forced (`forced`, or `CONVNET_CONVOLUTION=im2col`), which
    /// keeps the whole layer on im2col. A 1×1
    /// kernel keeps the GEMM: its dW is a plain product of dY and X.
    public static func weightGradientIsDirect(
        _ algorithm: ConvolutionAlgorithm, for g: WindowGeometry, groups: Int, winogradIsPreferred: Bool,
        forced: ConvolutionAlgorithm? = nil, setting: String = setting
    ) -> Bool {
        guard DirectWeightGradient.applies(to: g, groups: groups) else { return false }
        if algorithm != .im2col { return true }
        return winogradIsPreferred && forced != .im2col && setting != "im2col"
            && g.kernelHeight * g.kernelWidth > 1
    }
}
