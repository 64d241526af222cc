/// The shape of a sliding-window operation (convolution or pooling) over a batch
/// [N, C, H, W]: a kh×kw window whose taps are `dilation` apart, moved by `stride` over the
/// input padded with `padding` zeros on each side.
///
/// H' = ⌊(H + 2·ph − dh·(kh − 1) − 1) / sh⌋ + 1 (PyTorch's floor rule: a last partial window
/// is dropped), and likewise for W'. With `ceilMode` (pooling's `ceil_mode=True`) the division
/// rounds up instead, except that a window starting in the right padding is dropped.
public struct WindowGeometry: Sendable, Equatable {
    public var batch: Int
    public var channels: Int
    public var height: Int
    public var width: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    /// The distance between kernel taps (1: adjacent).
    public var dilationHeight: Int
    public var dilationWidth: Int
    /// Round the output size up (pooling's `ceil_mode`).
    public var ceilMode: Bool

    public init(
        batch: Int, channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
        strideHeight: Int, strideWidth: Int, paddingHeight: Int, paddingWidth: Int,
        dilationHeight: Int = 1, dilationWidth: Int = 1, ceilMode: Bool = false
    ) {
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.ceilMode = ceilMode
    }

    /// PyTorch's output size along one axis (`pooling_output_shape` / the convolution rule).
    @inlinable
    public static func outputSize(
        input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int = 1, ceilMode: Bool = false
    ) -> Int {
        let span = input + 2 * padding - dilation * (kernel - 1) - 1
        if span < 0 { return 0 }
        var size = (span + (ceilMode ? stride - 1 : 0)) / stride + 1
        if ceilMode && (size - 1) * stride >= input + padding { size -= 1 }
        return size
    }

    /// H'.
    public var outputHeight: Int {
        WindowGeometry.outputSize(
            input: height, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight,
            dilation: dilationHeight, ceilMode: ceilMode)
    }
    /// W'.
    public var outputWidth: Int {
        WindowGeometry.outputSize(
            input: width, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth,
            dilation: dilationWidth, ceilMode: ceilMode)
    }
    /// C·kh·kw: the rows of the im2col matrix.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// H'·W'.
    public var outputPlane: Int { outputHeight * outputWidth }
    /// N·C·H·W.
    public var inputCount: Int { batch * channels * height * width }
}
