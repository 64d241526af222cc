#!/usr/bin/env python3
"""torch.mm (MKL sgemm on x86) on the products `convnet bench --gemm-shapes --json` measured.

Reads that command's JSON lines on stdin; for each record of kind "gemm_shape" it stores A and B
the way ConvNet's `gemm` call does (A as k x m when transpose_a, B as n x k when transpose_b),
multiplies the transposed views with torch.mm into a preallocated C (so MKL sees the same
transpose flags), takes the median of the same number of timed calls after two warm-up calls,
and prints the record back with "torch_gigaflops" added. Threads: --threads (default 2, the
convnet bench default on a 2-core machine).
"""
import argparse, json, statistics, sys, time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    for line in sys.stdin:
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("kind") != "gemm_shape":
            continue
        m, n, k = record["m"], record["n"], record["k"]
        a = torch.rand(k, m, generator=generator) if record["transpose_a"] else torch.rand(m, k, generator=generator)
        b = torch.rand(n, k, generator=generator) if record["transpose_b"] else torch.rand(k, n, generator=generator)
        a_view = a.t() if record["transpose_a"] else a
        b_view = b.t() if record["transpose_b"] else b
        c = torch.empty(m, n)
        for _ in range(2):
            torch.mm(a_view, b_view, out=c)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            torch.mm(a_view, b_view, out=c)
            times.append(time.perf_counter() - start)
        record["torch_gigaflops"] = 2 * m * n * k / statistics.median(times) / 1e9
        record["torch_threads"] = args.threads
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
