#!/usr/bin/env python3
"""ConvNet vs PyTorch (torch-cpu), measured side by side, alternating runs.

Usage (from the repository root, after `swift build -c release --scratch-path .build-perf`):
  /work/.venv-anchors/bin/python Benchmarks/compare.py --rounds 3 [--quick]
  .venv/bin/python Benchmarks/compare.py --gemm-shapes --rounds 3

With --gemm-shapes it compares only the GEMMs: each round runs `convnet bench --gemm-shapes
--json` (Float.gemm at the im2col products of W1's and W3's convolutions, batch 64) and then
Benchmarks/gemm_shapes.py (torch.mm on the same products and layouts), and prints their ratios.

Each round runs `convnet bench --json --no-studies --profile ''` and then
`anchors.py --only torch-cpu --rounds 1` (which includes torch's malloc-tuned re-runs of
W1:64, W1:256, W3:64; the better torch figure of the two is used, as the anchors README
asks). Prints a markdown table of medians over rounds and the ratios, and writes every raw
record to Benchmarks/results/compare-<date>.jsonl.
"""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {("W1", 64, "train"): 1.5, ("W2", 64, "train"): 1.5, ("W3", 64, "train"): 1.3,
           ("W1", 1, "train"): 2.0, ("W1", 64, "infer"): 1.5, ("W3", 64, "infer"): 1.5}


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    recs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--convnet", default=os.path.join(ROOT, ".build-perf/release/convnet"))
    ap.add_argument("--anchors", default=os.path.join(ROOT, "../shared/bench/anchors.py"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--gemm-shapes", action="store_true")
    args = ap.parse_args()
    if args.gemm_shapes:
        return compare_gemm_shapes(args)
    os.makedirs(os.path.join(ROOT, "Benchmarks/results"), exist_ok=True)
    log_path = os.path.join(ROOT, "Benchmarks/results", time.strftime("compare-%Y%m%d-%H%M%S.jsonl"))
    ours, theirs, raw = {}, {}, []
    peaks, torch_gemm = [], []
    for rnd in range(args.rounds):
        print(f"[round {rnd + 1}/{args.rounds}] convnet", file=sys.stderr, flush=True)
        cmd = [args.convnet, "bench", "--json", "--no-studies", "--profile", ""]
        if args.quick:
            cmd.append("--quick")
        for r in run(cmd):
            raw.append(dict(r, round=rnd, side="convnet"))
            if r["kind"] == "throughput":
                ours.setdefault((r["workload"], r["batch"]), []).append(r)
            if r["kind"] == "peak":
                peaks.append(r["gigaflops"])
        print(f"[round {rnd + 1}/{args.rounds}] torch-cpu", file=sys.stderr, flush=True)
        cmd = [args.python, args.anchors, "--only", "torch-cpu", "--rounds", "1"]
        if args.quick:
            cmd.append("--quick")
        best = {}
        for r in run(cmd):
            raw.append(dict(r, round=rnd, side="torch"))
            if r.get("kind") == "gemm" and r.get("threads") == 2:
                torch_gemm.append(r["gflops"])
            if r.get("kind") != "throughput":
                continue
            key = (r["workload"], r["batch"])
            b = best.setdefault(key, {"train": 0, "infer": 0, "variant": {}})
            if r["train_img_per_s"] > b["train"]:
                b["train"] = r["train_img_per_s"]
                b["variant"]["train"] = r.get("variant")
            if (r["infer_img_per_s"] or 0) > b["infer"]:
                b["infer"] = r["infer_img_per_s"]
                b["variant"]["infer"] = r.get("variant")
        for key, b in best.items():
            theirs.setdefault(key, []).append(b)
    with open(log_path, "w") as f:
        for r in raw:
            f.write(json.dumps(r) + "\n")
    med = statistics.median
    print(f"ConvNet GEMM peak (Float.gemm, 2 threads, median of rounds): {med(peaks):.1f} GFLOP/s"
          + (f"; torch/MKL sgemm 2048^3, 2 threads: {med(torch_gemm):.1f} GFLOP/s" if torch_gemm else ""))
    print()
    print("| workload | batch | ConvNet train img/s | torch train img/s | ratio | ConvNet infer img/s | torch infer img/s | ratio | ConvNet train GFLOP/s | of GEMM peak | allocs/step | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in sorted(ours, key=lambda k: (k[0], k[1])):
        rs = ours[key]
        tr = med([r["train_images_per_second"] for r in rs])
        inf = med([r["infer_images_per_second"] for r in rs])
        gf = med([r["train_gigaflops"] for r in rs])
        frac = med([r.get("fraction_of_gemm_peak") or 0 for r in rs])
        allocs = rs[-1].get("allocations_per_training_step")
        rss = max(r["peak_resident_bytes"] for r in rs) / 1048576
        t = theirs.get(key)
        ttr = med([b["train"] for b in t]) if t else float("nan")
        tinf = med([b["infer"] for b in t]) if t else float("nan")
        def mark(kind, ratio):
            target = TARGETS.get((key[0], key[1], kind))
            return f"{ratio:.2f}x" + (f" ({'met' if ratio >= target else 'NOT met'}, target {target}x)" if target else "")
        print(f"| {key[0]} | {key[1]} | {tr:.0f} | {ttr:.0f} | {mark('train', tr / ttr)} | {inf:.0f} | {tinf:.0f} | "
              f"{mark('infer', inf / tinf)} | {gf:.1f} | {frac:.2f} | {allocs if allocs is not None else 'n/a'} | {rss:.0f} |")
    print(f"\nrounds: {args.rounds}, quick: {args.quick}; raw records: {os.path.relpath(log_path, ROOT)}")


def compare_gemm_shapes(args):
    """ConvNet's Float.gemm against torch.mm on the convolutions' products, alternating rounds."""
    rows, limits = {}, []
    for rnd in range(args.rounds):
        print(f"[round {rnd + 1}/{args.rounds}] convnet, then torch.mm", file=sys.stderr, flush=True)
        cmd = [args.convnet, "bench", "--gemm-shapes", "--json", "--no-count-allocations"]
        if args.quick:
            cmd.append("--quick")
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(p.stderr[-2000:])
        for line in p.stdout.splitlines():
            if line.startswith("{") and json.loads(line)["kind"] == "peak":
                limits.append(json.loads(line)["fma_limit"])
        q = subprocess.run([args.python, os.path.join(ROOT, "Benchmarks/gemm_shapes.py")], input=p.stdout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if q.returncode != 0:
            sys.exit(q.stderr[-2000:])
        for line in q.stdout.splitlines():
            r = json.loads(line)
            key = (r["workload"], r["layer"], r["pass"], r["m"], r["n"], r["k"], r["transpose_a"], r["transpose_b"])
            rows.setdefault(key, []).append((r["gigaflops"], r["torch_gigaflops"]))
    med = statistics.median
    limit = med(limits)
    print(f"FMA limit (2 threads, median of rounds): {limit:.1f} GFLOP/s; rounds: {args.rounds}\n")
    print("| workload | layer | pass | m | n | k | layout | ConvNet GFLOP/s | of FMA limit | torch.mm GFLOP/s | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, values in rows.items():
        ours, theirs = med([v[0] for v in values]), med([v[1] for v in values])
        layout = ("T" if key[6] else "N") + ("T" if key[7] else "N")
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {key[5]} | {layout} | {ours:.1f} | "
              f"{ours / limit:.2f} | {theirs:.1f} | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
