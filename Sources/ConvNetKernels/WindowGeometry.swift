/// The shape of a sliding-window operation (convolution or pooling) over a batch
/// [N, C, H, W]: window kh×kw moved by (strideHeight, strideWidth) over the input padded with
/// (paddingHeight, paddingWidth) zeros on each side.
///
/// H' = (H + 2·paddingHeight − kh) / strideHeight + 1, and likewise for W'.
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

    public init(
        batch: Int, channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
        strideHeight: Int, strideWidth: Int, paddingHeight: Int, paddingWidth: Int
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
    }

    /// H' = (H + 2·paddingHeight − kernelHeight) / strideHeight + 1 (floor division).
    public var outputHeight: Int { (height + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    /// W' = (W + 2·paddingWidth − kernelWidth) / strideWidth + 1 (floor division).
    public var outputWidth: Int { (width + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// C·kh·kw: the rows of the im2col matrix.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// H'·W'.
    public var outputPlane: Int { outputHeight * outputWidth }
    /// N·C·H·W.
    public var inputCount: Int { batch * channels * height * width }
}
