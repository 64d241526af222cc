#!/usr/bin/env python3
"""Alpha-beta model of data-parallel training with ring allreduce (BENCHMARKS.md, "Data-parallel
training on MPI"): the scaling efficiency of W3 and resnet20 at 8, 64 and 256 nodes on 10, 25 and
100 Gb/s links, weak scaling (each node keeps its batch of 64, as `--batch-size 64 --distributed`).

Ring allreduce of n bytes over p nodes in k buckets (each bucket a ring of its own):
    T(p) = k · 2(p−1)·α  +  2(p−1)/p · n · (β + γ/2)
α: per-message latency of one hop, β: seconds per byte on the link, γ: seconds per byte to add a
received chunk (memory-bound, (p−1)/p·n bytes added in reduce-scatter). The step's compute t_c is
measured on this machine (one 2-core node); the backward pass is taken as 2/3 of it. Efficiency
    no overlap:     t_c / (t_c + T)
    full overlap:   t_c / (t_c + max(0, T − t_backward))      (buckets sent during the backward pass)
Usage: allreduce_model.py W3_IMAGES_PER_S RESNET20_IMAGES_PER_S
"""
import sys

ALPHA = 25e-6  # s per hop: TCP over a switched Ethernet hop (kernel stack both ends); loopback measured below it
GAMMA = 1 / 10e9  # s per byte added (about 10 GB/s of memory bandwidth for a streaming add)
EFFICIENCY = 0.9  # of the line rate reached by TCP payload
BATCH = 64
BUCKET_BYTES = 1 << 20

w3_rate, resnet_rate = float(sys.argv[1]), float(sys.argv[2])
models = {
    # parameters: conv 3→64, 64→64, 64→128, 128→128 (3×3 + bias), dense 8192→256, 256→10
    "W3": (1728 + 64 + 36864 + 64 + 73728 + 128 + 147456 + 128 + 8192 * 256 + 256 + 2560 + 10, w3_rate),
    # CIFAR ResNet-20 (He et al. 2016, option A shortcuts as the preset): 0.27 M parameters
    "resnet20": (int(sys.argv[3]) if len(sys.argv) > 3 else 272474, resnet_rate),
}
print("| model | parameters (MB) | step compute (ms) | link | nodes | allreduce (ms) | efficiency, no overlap | with overlap |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for name, (parameters, rate) in models.items():
    n = 4 * parameters
    k = max(1, -(-n // BUCKET_BYTES))
    t_c = BATCH / rate
    for gbits in (10, 25, 100):
        beta = 8 / (gbits * 1e9 * EFFICIENCY)
        for p in (8, 64, 256):
            t = k * 2 * (p - 1) * ALPHA + 2 * (p - 1) / p * n * (beta + GAMMA / 2)
            plain = t_c / (t_c + t)
            overlap = t_c / (t_c + max(0.0, t - 2 / 3 * t_c))
            print(f"| {name} | {n / 1e6:.2f} | {1e3 * t_c:.1f} | {gbits} Gb/s | {p} | {1e3 * t:.1f} | "
                  f"{100 * plain:.0f} % | {100 * overlap:.0f} % |")
