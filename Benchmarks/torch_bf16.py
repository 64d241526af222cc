#!/usr/bin/env python3
"""What bfloat16 buys PyTorch on this CPU: an informational row next to the float32 comparison.

Runs the anchors' PyTorch models (the same networks, weights, batches and SGD step as
`anchors.py --only torch-cpu`, imported from it) in float32 and under
`torch.autocast("cpu", dtype=torch.bfloat16)` (which uses AVX512-BF16 / AMX where the CPU has
them), back to back, 2 threads, and prints images per second for both. ConvNet has no bf16
path; these figures are not counted against any target.

    .venv/bin/python Benchmarks/torch_bf16.py [--quick] [--only W1:64,W3:64]
"""
import argparse
import contextlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_anchors(path):
    spec = importlib.util.spec_from_file_location("anchors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--anchors", default=os.path.join(ROOT, "../shared/bench/anchors.py"))
    parser.add_argument("--only", default="W1:64,W3:64", help="workload:batch pairs, comma-separated")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.anchors):
        print(f"error: no anchors script at {args.anchors} (pass --anchors)", file=sys.stderr)
        return 2
    anchors = load_anchors(args.anchors)
    import torch

    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, 2 threads")
    print("| workload | batch | float32 train img/s | bf16 autocast train img/s | ratio "
          "| float32 infer img/s | bf16 autocast infer img/s | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for item in args.only.split(","):
        workload, batch = item.split(":")
        batch = int(batch)
        figures = {}
        for precision in ("float32", "bf16"):
            model = anchors.torch_model(workload, anchors.init_params(workload))
            xn, yn = anchors.make_batch(workload, batch)
            x, y = torch.from_numpy(xn), torch.from_numpy(yn)
            optimizer = torch.optim.SGD(model.parameters(), lr=anchors.LR, momentum=anchors.MOMENTUM)

            def context():
                if precision == "bf16":
                    return torch.autocast("cpu", dtype=torch.bfloat16)
                return contextlib.nullcontext()

            def train():
                optimizer.zero_grad(set_to_none=True)
                with context():
                    loss = anchors.torch_loss(model, x, y)
                loss.backward()
                optimizer.step()

            def infer():
                with torch.inference_mode(), context():
                    model(x)

            train_seconds, _ = anchors.bench(train, args.quick)
            infer_seconds, _ = anchors.bench(infer, args.quick)
            figures[precision] = (batch / train_seconds, batch / infer_seconds)
        (train32, infer32), (train16, infer16) = figures["float32"], figures["bf16"]
        print(f"| {workload} | {batch} | {train32:.0f} | {train16:.0f} | {train16 / train32:.2f}x "
              f"| {infer32:.0f} | {infer16:.0f} | {infer16 / infer32:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
