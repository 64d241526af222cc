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
        splitBetweenCores(count: count) { start, end in
            for i in start..<end { w[i] -= learningRate * g[i] }
        }
    }

    public static func momentumStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        velocity v: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, momentum: Self,
        nesterov: Bool
    ) {
        splitBetweenCores(count: count) { start, end in
            if nesterov {
                for i in start..<end {
                    v[i] = momentum * v[i] + g[i]
                    w[i] -= learningRate * (g[i] + momentum * v[i])
                }
            } else {
                for i in start..<end {
                    v[i] = momentum * v[i] + g[i]
                    w[i] -= learningRate * v[i]
                }
            }
        }
    }

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

/// Runs `body(start, end)` over 0..<count, split between the cores when the range is long
/// enough for memory bandwidth to matter (parts start on multiples of 16 elements).
@inline(__always)
func splitBetweenCores(count: Int, minimum: Int = 1 << 16, _ body: (Int, Int) -> Void) {
    let parts = count >= minimum ? ThreadPool.coreCount : 1
    if parts == 1 {
        body(0, count)
        return
    }
    let blocks = (count + 15) / 16
    ThreadPool.run(parts: parts) { part in
        body(min(count, part * blocks / parts * 16), min(count, (part + 1) * blocks / parts * 16))
    }
}
