#!/usr/bin/env python3
"""Alpha-beta model of data-parallel training with ring allreduce (BENCHMARKS.md, "Data-parallel
training on MPI"): the scaling efficiency of W3 and resnet20 at 8, 64 and 256 nodes on 10, 25 and
100 Gb/s links, weak scaling (each node keeps its batch of 64, as `--batch-size 64 --distributed`).

Ring allreduce of n bytes over p nodes in k buckets (each bucket a ring of its own):
    T(p) = Σ over buckets j of [ 2(p−1)·α  +  2(p−1)/p · n_j · (β + γ/2) ]
α: per-message latency of one hop, β: seconds per byte on the link, γ: seconds per byte to add a
received chunk (memory-bound, (p−1)/p·n bytes added in reduce-scatter). The step's compute t_c is
measured on this machine (one 2-core node); the backward pass is taken as 2/3 of it. Efficiency
    no overlap:     t_c / (t_c + T)
    with overlap:   t_c / (t_c + T_last + max(0, T − T_last − t_backward))
                    (every bucket but the last, the first layers', sent during the backward pass)
Usage: allreduce_model.py W3_IMAGES_PER_S RESNET20_IMAGES_PER_S
"""
import sys

ALPHA = 25e-6  # s per hop: TCP over a switched Ethernet hop (kernel stack both ends); loopback measured below it
GAMMA = 1 / 10e9  # s per byte added (about 10 GB/s of memory bandwidth for a streaming add)
EFFICIENCY = 0.9  # of the line rate reached by TCP payload
BATCH = 64

w3_rate, resnet_rate = float(sys.argv[1]), float(sys.argv[2])
# (bucket sizes in floats in launch order, images/s of one node): the buckets as
# `convnet train --distributed` makes them with the default 1 MiB (it prints the count; a parameter
# is never split, so W3's 8.4 MB dense weight is a bucket of its own).
models = {
    # W3: [dense 256→10 + dense 8192→256's bias], [dense 8192→256's weight], [the four convolutions]
    "W3": ([2560 + 10 + 256, 8192 * 256, 1728 + 64 + 36864 + 64 + 73728 + 128 + 147456 + 128], w3_rate),
    # CIFAR ResNet-20 as the preset (`convnet summary resnet20`): 272,474 parameters; the first
    # bucket fills to 1 MiB (262,144 floats) from the last layer back, the second holds the rest
    "resnet20": ([262144, 272474 - 262144], resnet_rate),
}
print("| model | parameters (MB) | buckets | step compute (ms) | link | nodes | allreduce (ms) "
      "| efficiency, no overlap | with overlap |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name, (buckets, rate) in models.items():
    n = 4 * sum(buckets)
    t_c = BATCH / rate
    for gbits in (10, 25, 100):
        beta = 8 / (gbits * 1e9 * EFFICIENCY)
        for p in (8, 64, 256):
            each = [2 * (p - 1) * ALPHA + 2 * (p - 1) / p * 4 * b * (beta + GAMMA / 2) for b in buckets]
            t = sum(each)
            # Overlap: every bucket but the last (the first layers) can hide behind the backward pass.
            exposed = each[-1] + max(0.0, sum(each[:-1]) - 2 / 3 * t_c)
            print(f"| {name} | {n / 1e6:.2f} | {len(buckets)} | {1e3 * t_c:.1f} | {gbits} Gb/s | {p} | {1e3 * t:.1f} | "
                  f"{100 * t_c / (t_c + t):.0f} % | {100 * t_c / (t_c + exposed):.0f} % |")
