/// The element types that ConvNet's kernels run on: `Float` (the fast path) and `Double`
/// (gradient checks).
///
/// Every requirement has a default implementation in this module, written once for any
/// `BinaryFloatingPoint`. Because the conformances of `Float` and `Double` live here too, the
/// compiler specialises each default for both types, so callers that are generic over
/// `KernelScalar` (the layers) reach a specialised loop through one witness-table call per
/// batch operation, never per element.
///
/// All pointers are raw row-major buffers; sizes are element counts. Callers guarantee that
/// buffers are large enough: these are internal contracts, checked at the library's boundary.
public protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, LosslessStringConvertible {
    /// Converts to `Double` exactly (`Float` widens losslessly).
    var doubleValue: Double { get }
    /// e^x.
    static func exponential(_ x: Self) -> Self
    /// ln x.
    static func logarithm(_ x: Self) -> Self
    /// tanh x.
    static func hyperbolicTangent(_ x: Self) -> Self

    // MARK: Matrix product (Gemm.swift)

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is m×k, op(B) is k×n.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    // MARK: Convolution layout (Im2col.swift)

    /// Unfolds input [N, C, H, W] into columns [C·kh·kw, N·H'·W'] (zero padding).
    static func im2col(
        _ input: UnsafePointer<Self>, _ columns: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// Folds columns [C·kh·kw, N·H'·W'] back into input [N, C, H, W], summing overlaps
    /// (the adjoint of `im2col`). The input buffer is overwritten.
    static func col2im(
        _ columns: UnsafePointer<Self>, _ input: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// [F, N·P] + bias[F] → [N, F, P].
    static func scatterChannelsAddingBias(
        _ source: UnsafePointer<Self>, bias: UnsafePointer<Self>?,
        _ destination: UnsafeMutablePointer<Self>, batch: Int, channels: Int, planeSize: Int)
    /// [N, F, P] → [F, N·P].
    static func gatherChannels(
        _ source: UnsafePointer<Self>, _ destination: UnsafeMutablePointer<Self>,
        batch: Int, channels: Int, planeSize: Int)

    // MARK: Pooling (Pooling.swift)

    /// Max over each window of [N, C, H, W] → [N, C, H', W']; `argmax` gets each winner's
    /// offset inside its H×W plane.
    static func maxPoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        argmax: UnsafeMutablePointer<Int32>, _ geometry: WindowGeometry)
    /// Routes each output gradient to its window's winner; inputGradient is overwritten.
    static func maxPoolBackward(
        _ outputGradient: UnsafePointer<Self>, argmax: UnsafePointer<Int32>,
        _ inputGradient: UnsafeMutablePointer<Self>, _ geometry: WindowGeometry)
    /// Mean over each window (padding counts as zeros, divided by kh·kw).
    static func averagePoolForward(
        _ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)
    /// Spreads each output gradient evenly over its window; inputGradient is overwritten.
    static func averagePoolBackward(
        _ outputGradient: UnsafePointer<Self>, _ inputGradient: UnsafeMutablePointer<Self>,
        _ geometry: WindowGeometry)

    // MARK: Element-wise (Elementwise.swift)

    /// y = max(x, 0).
    static func reluForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy where x > 0, else 0.
    static func reluBackward(
        input x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y = 1 / (1 + e^−x), computed without overflow for large |x|.
    static func sigmoidForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy · y · (1 − y).
    static func sigmoidBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y = tanh x.
    static func tanhForward(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// dx = dy · (1 − y²).
    static func tanhBackward(
        output y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
        count: Int)
    /// y[r, c] += bias[c] for a rows×columns matrix.
    static func addRowBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int)
    /// sums[c] = Σ_r x[r, c] (overwrites sums).
    static func sumRows(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// sums[r] = Σ_c x[r, c] (overwrites sums).
    static func sumColumns(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// y[r, c] += bias[r] for a rows×columns matrix (one image's [F, H'·W'] convolution output).
    static func addColumnBias(
        _ y: UnsafeMutablePointer<Self>, bias: UnsafePointer<Self>, rows: Int, columns: Int)
    /// sums[r] += Σ_c x[r, c] (accumulates).
    static func accumulateRowSums(
        _ x: UnsafePointer<Self>, _ sums: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// y += alpha · x.
    static func axpy(alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// Σ x², accumulated in Double.
    static func sumOfSquares(_ x: UnsafePointer<Self>, count: Int) -> Double

    // MARK: Optimizer updates (OptimizerKernels.swift)

    /// w −= lr · g.
    static func sgdStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>, count: Int, learningRate: Self)
    /// v = μ·v + g; w −= lr · (nesterov ? g + μ·v : v)  (PyTorch's formulation).
    static func momentumStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        velocity v: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, momentum: Self,
        nesterov: Bool)
    /// s = ρ·s + (1−ρ)·g²; w −= lr · g / (√s + ε).
    static func rmspropStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        squareAverage s: UnsafeMutablePointer<Self>, count: Int, learningRate: Self,
        decayRate: Self, epsilon: Self)
    /// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= lr · m̂ / (√v̂ + ε), with
    /// m̂ = m / correction1, v̂ = v / correction2.
    static func adamStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        firstMoment m: UnsafeMutablePointer<Self>, secondMoment v: UnsafeMutablePointer<Self>,
        count: Int, learningRate: Self, beta1: Self, beta2: Self, epsilon: Self,
        correction1: Self, correction2: Self)
    /// s += g²; w −= lr · g / (√s + ε).
    static func adagradStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        sumOfSquares s: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, epsilon: Self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Float: KernelScalar {
    @inlinable public var doubleValue: Double { Double(self) }
    @inlinable public static func exponential(_ x: Float) -> Float { expf(x) }
    @inlinable public static func logarithm(_ x: Float) -> Float { logf(x) }
    @inlinable public static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }
}

extension Double: KernelScalar {
    @inlinable public var doubleValue: Double { self }
    @inlinable public static func exponential(_ x: Double) -> Double { exp(x) }
    @inlinable public static func logarithm(_ x: Double) -> Double { log(x) }
    @inlinable public static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
}
