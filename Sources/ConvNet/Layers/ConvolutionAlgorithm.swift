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
    /// The forward pass and the input gradient run Winograd; the weight gradient is summed
    /// directly from X and dY (`DirectWeightGradient.swift`), without im2col.
    case winograd

    /// Below this many input or output channels the transforms cost more than the products
    /// save, so such layers keep im2col (W1's 3-channel input layer, LeNet's 1 → 6).
    public static let winogradMinimumChannels = 16

    /// `CONVNET_CONVOLUTION`: `im2col` (everywhere), `winograd` (wherever it applies, whatever
    /// the channels) or `auto` (the default: `choose`'s rule). Read once.
    public static let setting: String = {
        guard let value = getenv("CONVNET_CONVOLUTION") else { return "auto" }
        let text = String(cString: value).lowercased()
        return ["im2col", "winograd", "auto"].contains(text) ? text : "auto"
    }()

    /// The algorithm for geometry `g` with `filters` outputs in `groups` groups, for an
    /// element type that does (`winogradIsPreferred`: Float) or does not (Double) take Winograd;
    /// `forced` (a layer's `setConvolutionAlgorithm`) wins wherever it applies.
    public static func choose(
        for g: WindowGeometry, filters: Int, groups: Int, winogradIsPreferred: Bool,
        forced: ConvolutionAlgorithm? = nil, setting: String = setting
    ) -> ConvolutionAlgorithm {
        if let forced { return forced == .winograd && Winograd.applies(to: g, groups: groups) ? .winograd : .im2col }
        guard winogradIsPreferred, setting != "im2col", Winograd.applies(to: g, groups: groups) else { return .im2col }
        if setting == "winograd" { return .winograd }
        return g.channels >= winogradMinimumChannels && filters >= winogradMinimumChannels ? .winograd : .im2col
    }

    /// Whether the weight gradient is summed directly from X and dY (`DirectWeightGradient.swift`)
    /// instead of by im2col + GEMM: always under Winograd; under im2col for the element types
    /// that take Winograd (Float) on stride-1 kernels larger than 1×1 (W1's 3 → 32 7×7: backward
    /// 9.9 → 6.5 ms at batch 64), unless im2col was forced (`forced`, or
    /// `CONVNET_CONVOLUTION=im2col`), which keeps the whole layer on im2col. A 1×1 kernel keeps
    /// the GEMM: its dW is a plain product of dY and X.
    public static func weightGradientIsDirect(
        _ algorithm: ConvolutionAlgorithm, for g: WindowGeometry, groups: Int, winogradIsPreferred: Bool,
        forced: ConvolutionAlgorithm? = nil, setting: String = setting
    ) -> Bool {
        guard DirectWeightGradient.applies(to: g, groups: groups) else { return false }
        if algorithm == .winograd { return true }
        return winogradIsPreferred && forced != .im2col && setting != "im2col"
            && g.kernelHeight * g.kernelWidth > 1
    }
}
