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
public protocol KernelScalar:
    BinaryFloatingPoint, SIMDScalar, Sendable, Codable, LosslessStringConvertible,
    MatrixKernels, ConvolutionLayoutKernels, PoolingKernels, ElementwiseKernels, NormalizationKernels,
    OptimizerKernels, WinogradKernels, DirectConvolutionKernels, WinogradWeightGradientKernels
{
    /// Converts to `Double` exactly (`Float` widens losslessly).
    var doubleValue: Double { get }
    /// e^x.
    static func exponential(_ x: Self) -> Self
    /// ln x.
    static func logarithm(_ x: Self) -> Self
    /// tanh x.
    static func hyperbolicTangent(_ x: Self) -> Self
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
