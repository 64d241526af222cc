/// One optimizer step over a parameter's values (PyTorch's update formulas).
///
/// Requirements of `KernelScalar`, with default implementations below (specialised for
/// Float and Double); pointers are raw row-major buffers, sizes element counts.
public protocol OptimizerKernels: BinaryFloatingPoint {
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

extension KernelScalar {
    public static func sgdStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>, count: Int, learningRate: Self
    ) {
        splitBetweenCores(count: count, SGDStep(w: w, g: g, learningRate: learningRate))
    }

    public static func momentumStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        velocity v: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, momentum: Self,
        nesterov: Bool
    ) {
        splitBetweenCores(
            count: count,
            MomentumStep(w: w, g: g, v: v, learningRate: learningRate, momentum: momentum, nesterov: nesterov))
    }
}

/// `sgdStep` over one range of the parameter (the fields are its arguments).
private struct SGDStep<Scalar: KernelScalar>: ParallelRangeWork {
    let w: UnsafeMutablePointer<Scalar>
    let g: UnsafePointer<Scalar>
    let learningRate: Scalar

    func run(_ range: Range<Int>) {
        for i in range { w[i] -= learningRate * g[i] }
    }
}

/// `momentumStep` over one range of the parameter (the fields are its arguments).
private struct MomentumStep<Scalar: KernelScalar>: ParallelRangeWork {
    let w: UnsafeMutablePointer<Scalar>
    let g: UnsafePointer<Scalar>
    let v: UnsafeMutablePointer<Scalar>
    let learningRate: Scalar
    let momentum: Scalar
    let nesterov: Bool

    func run(_ range: Range<Int>) {
        if nesterov {
            for i in range {
                v[i] = momentum * v[i] + g[i]
                w[i] -= learningRate * (g[i] + momentum * v[i])
            }
        } else {
            for i in range {
                v[i] = momentum * v[i] + g[i]
                w[i] -= learningRate * v[i]
            }
        }
    }
}

extension KernelScalar {
    public static func rmspropStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        squareAverage s: UnsafeMutablePointer<Self>, count: Int, learningRate: Self,
        decayRate: Self, epsilon: Self
    ) {
        for i in 0..<count {
            s[i] = decayRate * s[i] + (1 - decayRate) * g[i] * g[i]
            w[i] -= learningRate * g[i] / (s[i].squareRoot() + epsilon)
        }
    }

    public static func adamStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        firstMoment m: UnsafeMutablePointer<Self>, secondMoment v: UnsafeMutablePointer<Self>,
        count: Int, learningRate: Self, beta1: Self, beta2: Self, epsilon: Self,
        correction1: Self, correction2: Self
    ) {
        for i in 0..<count {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let mHat = m[i] / correction1
            let vHat = v[i] / correction2
            w[i] -= learningRate * mHat / (vHat.squareRoot() + epsilon)
        }
    }

    public static func adagradStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        sumOfSquares s: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, epsilon: Self
    ) {
        for i in 0..<count {
            s[i] += g[i] * g[i]
            w[i] -= learningRate * g[i] / (s[i].squareRoot() + epsilon)
        }
    }
}

/// Runs `body.run(start..<end)` over 0..<count, split between the cores when the range is long
/// enough for memory bandwidth to matter (parts start on multiples of 16 elements).
@inline(__always)
func splitBetweenCores<Body: ParallelRangeWork>(count: Int, minimum: Int = 1 << 16, _ body: Body) {
    let parts = count >= minimum ? ThreadPool.coreCount : 1
    if parts == 1 {
        body.run(0..<count)
        return
    }
    ThreadPool.run(parts: parts, CoreSplit(body: body, count: count, parts: parts))
}

/// `splitBetweenCores`'s parts: part p runs `body` over its blocks of 16 elements.
private struct CoreSplit<Body: ParallelRangeWork>: ParallelWork {
    let body: Body
    /// The length of the whole range and the number of parts it is split into.
    let count: Int
    let parts: Int

    func run(part: Int) {
        let blocks = (count + 15) / 16
        body.run(min(count, part * blocks / parts * 16)..<min(count, (part + 1) * blocks / parts * 16))
    }
}
