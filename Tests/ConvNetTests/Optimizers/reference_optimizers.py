"""Independent reference for OptimizerTests.swift.

Five steps of each optimizer on the quadratic loss L(w) = 0.5 * sum(a * w**2), whose gradient
is a * w, written from PyTorch's documented update rules (torch.optim.SGD, RMSprop, Adam,
Adagrad), in float64 numpy. When PyTorch is importable it also runs torch.optim and asserts
that both agree. Run: python3 reference_optimizers.py
"""
import numpy as np

w0 = np.linspace(-0.4, 0.6, 12)
a = np.linspace(0.5, 2.0, 12)

def run(step, state):
    w = w0.copy()
    for t in range(1, 6):
        g = a * w
        w = step(w, g, state, t)
    return w

def sgd(lr):
    return lambda w, g, s, t: w - lr * g

def momentum(lr, mu, nesterov):
    def step(w, g, s, t):
        s["v"] = mu * s.get("v", np.zeros_like(w)) + g if "v" in s else g.copy()
        return w - lr * (g + mu * s["v"] if nesterov else s["v"])
    return step

def rmsprop(lr, rho, eps):
    def step(w, g, s, t):
        s["s"] = rho * s.get("s", np.zeros_like(w)) + (1 - rho) * g * g
        return w - lr * g / (np.sqrt(s["s"]) + eps)
    return step

def adam(lr, b1, b2, eps):
    def step(w, g, s, t):
        s["m"] = b1 * s.get("m", np.zeros_like(w)) + (1 - b1) * g
        s["v"] = b2 * s.get("v", np.zeros_like(w)) + (1 - b2) * g * g
        mhat = s["m"] / (1 - b1 ** t)
        vhat = s["v"] / (1 - b2 ** t)
        return w - lr * mhat / (np.sqrt(vhat) + eps)
    return step

def adagrad(lr, eps):
    def step(w, g, s, t):
        s["s"] = s.get("s", np.zeros_like(w)) + g * g
        return w - lr * g / (np.sqrt(s["s"]) + eps)
    return step

cases = {
    "sgd": (sgd(0.1), ("SGD", dict(lr=0.1))),
    "sgd_momentum": (momentum(0.1, 0.9, False), ("SGD", dict(lr=0.1, momentum=0.9))),
    "nesterov": (momentum(0.1, 0.9, True), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))),
    "rmsprop": (rmsprop(0.01, 0.99, 1e-8), ("RMSprop", dict(lr=0.01, alpha=0.99, eps=1e-8))),
    "adam": (adam(0.01, 0.9, 0.999, 1e-8), ("Adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8))),
    "adagrad": (adagrad(0.1, 1e-10), ("Adagrad", dict(lr=0.1, eps=1e-10))),
}
results = {name: run(step, {}) for name, (step, _) in cases.items()}
try:
    import torch
    for name, (_, (cls, kwargs)) in cases.items():
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        opt = getattr(torch.optim, cls)([w], **kwargs)
        for _ in range(5):
            opt.zero_grad()
            (0.5 * (torch.tensor(a) * w * w).sum()).backward()
            opt.step()
        assert np.allclose(w.detach().numpy(), results[name], rtol=1e-12, atol=1e-15), name
    print("// checked against torch", torch.__version__)
except ImportError:
    print("// torch not importable: numpy reference only")
for name, w in results.items():
    print(f'"{name}": [' + ", ".join(repr(float(v)) for v in w) + "],")
