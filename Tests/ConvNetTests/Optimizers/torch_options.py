"""PyTorch's side of RecipeOptionsTests.swift: prints one JSON object with, in float64,

- "optimizers": w after each of 6 steps of torch.optim on L(w) = 0.5 * sum(a * w**2), for
  weight decay with every rule and for AdamW;
- "schedules": the learning rate of every step of torch.optim.lr_scheduler schedules, 5 epochs
  of 7 iterations, base rate 0.1;
- "label_smoothing": F.cross_entropy(label_smoothing=0.1) and its gradient on fixed scores;
- "clip": torch.nn.utils.clip_grad_norm_ on two fixed gradients (the norm, the clipped values).
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
out = {}

w0 = torch.linspace(-0.4, 0.6, 12)
a = torch.linspace(0.5, 2.0, 12)
cases = {
    "sgd_wd": lambda p: torch.optim.SGD([p], lr=0.1, weight_decay=0.05),
    "sgd_momentum_wd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.05),
    "nesterov_wd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
    "rmsprop_wd": lambda p: torch.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.05),
    "adam_wd": lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.05),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.01),
    "adamw_wd": lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.3),
    "adagrad_wd": lambda p: torch.optim.Adagrad([p], lr=0.1, eps=1e-10, weight_decay=0.05),
}
out["optimizers"] = {}
for name, make in cases.items():
    p = w0.clone().requires_grad_(True)
    opt = make(p)
    steps = []
    for _ in range(6):
        opt.zero_grad()
        (0.5 * (a * p * p).sum()).backward()
        opt.step()
        steps.append(p.detach().tolist())
    out["optimizers"][name] = steps

epochs, per_epoch, base = 5, 7, 0.1
def lrs(make, per_iteration):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    scheduler = make(opt)
    rates = []
    for _ in range(epochs):
        for _ in range(per_epoch):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_iteration:
                scheduler.step()
        if not per_iteration:
            scheduler.step()
    return rates
S = torch.optim.lr_scheduler
out["schedules"] = {
    "step": lrs(lambda o: S.StepLR(o, step_size=2, gamma=0.5), False),
    "multistep": lrs(lambda o: S.MultiStepLR(o, milestones=[1, 3], gamma=0.3), False),
    "exponential": lrs(lambda o: S.ExponentialLR(o, gamma=0.8), False),
    "cosine": lrs(lambda o: S.CosineAnnealingLR(o, T_max=epochs, eta_min=0.001), False),
    "cosine_iteration_warmup": lrs(lambda o: S.ChainedScheduler([
        S.LinearLR(o, start_factor=0.2, total_iters=6), S.CosineAnnealingLR(o, T_max=epochs * per_epoch)]), True),
    "onecycle": lrs(lambda o: S.OneCycleLR(o, max_lr=base, total_steps=epochs * per_epoch, pct_start=0.3,
                                            div_factor=25, final_div_factor=1e4), True),
}

scores = torch.linspace(-2, 3, 20).reshape(4, 5).sin() * 3
scores.requires_grad_(True)
labels = torch.tensor([0, 3, 4, 1])
loss = F.cross_entropy(scores, labels, label_smoothing=0.1)
loss.backward()
out["label_smoothing"] = {"scores": scores.detach().tolist(), "labels": labels.tolist(), "loss": loss.item(),
                          "gradient": scores.grad.tolist()}

g1 = torch.linspace(-1, 2, 6)
g2 = torch.linspace(0.5, -3, 4)
clipped = []
for max_norm in [1.0, 100.0]:
    p1, p2 = torch.zeros(6, requires_grad=True), torch.zeros(4, requires_grad=True)
    p1.grad, p2.grad = g1.clone(), g2.clone()
    norm = torch.nn.utils.clip_grad_norm_([p1, p2], max_norm)
    clipped.append({"max_norm": max_norm, "norm": norm.item(), "g1": p1.grad.tolist(), "g2": p2.grad.tolist()})
out["clip"] = clipped
print(json.dumps(out))
