extension KernelScalar {
    public static func sgdStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>, count: Int, learningRate: Self
    ) {
        for i in 0..<count { w[i] -= learningRate * g[i] }
    }

    public static func momentumStep(
        _ w: UnsafeMutablePointer<Self>, _ g: UnsafePointer<Self>,
        velocity v: UnsafeMutablePointer<Self>, count: Int, learningRate: Self, momentum: Self,
        nesterov: Bool
    ) {
        for i in 0..<count {
            v[i] = momentum * v[i] + g[i]
            w[i] -= learningRate * (nesterov ? g[i] + momentum * v[i] : v[i])
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
