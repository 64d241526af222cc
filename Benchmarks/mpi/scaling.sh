#!/usr/bin/env bash
# 1 rank × 2 threads against 2 ranks × 1 thread on this machine, at the same global batch:
# training images/s (rank 0's epoch times in history.json, evaluation excluded) and the time
# rank 0 waited for gradient sums after its backward pass. Random 3×32×32 uint8 images (the
# timing does not depend on the pixels), W3's network (small VGG) and LeNet-5 on 1×28×28.
# Needs a CONVNET_MPI=1 release build, mpirun and python3 with numpy.
#     Benchmarks/mpi/scaling.sh [IMAGES]        (default 2048 training images, 2 epochs)
set -euo pipefail
cd "$(dirname "$0")/../.."
convnet=.build/release/convnet
images="${1:-2048}"
work="$(mktemp -d /tmp/convnet-scaling.XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$images" <<'PY'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for name, shape in (("rgb32", (3, 32, 32)), ("gray28", (1, 28, 28))):
    import os
    os.makedirs(f"{work}/{name}", exist_ok=True)
    np.save(f"{work}/{name}/x_train.npy", rng.integers(0, 256, (n,) + shape, dtype=np.uint8))
    np.save(f"{work}/{name}/y_train.npy", rng.integers(0, 10, n).astype(np.int64))
PY
w3="conv(64,k=3,p=1) relu conv(64,k=3,p=1) relu maxpool(2) conv(128,k=3,p=1) relu conv(128,k=3,p=1) relu maxpool(2) flatten dense(256) relu dense(10)"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
run() {  # NAME DATA MODEL-ARGUMENTS... ; prints images/s for 1×2 and 2×1
    local name="$1" data="$2"
    shift 2
    local common=(--dataset npy --data-dir "$work/$data" --num-validation 64 --epochs 2 --optimizer sgd_momentum)
    rm -rf "$work/one" "$work/two"
    local one two
    one=$("$convnet" train "${common[@]}" "$@" --batch-size 64 --threads 2 --out "$work/one" --quiet)
    two=$("${mpirun[@]}" -np 2 "$convnet" train --distributed "${common[@]}" "$@" --batch-size 32 --threads 1 \
        --out "$work/two")
    python3 - "$name" "$work/one/history.json" "$work/two/history.json" "$images" "$two" <<'PY'
import json, re, sys
name, one, two, images, output = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
def rate(path):  # the last epoch (the first includes warm-up)
    epochs = json.load(open(path))
    epochs = epochs["epochs"] if isinstance(epochs, dict) else epochs
    trained = images - 64
    return trained / epochs[-1]["seconds"]
waited = re.search(r"data-parallel: ([0-9.]+) s of ([0-9.]+) s waiting", output)
share = float(waited.group(1)) / float(waited.group(2)) if waited else float("nan")
a, b = rate(one), rate(two)
print(f"{name}: 1 rank x 2 threads {a:.0f} img/s, 2 ranks x 1 thread {b:.0f} img/s ({b / a:.2f}x); "
      f"rank 0 waited for sums {100 * share:.0f} % of its training time")
PY
}
run "W3 (small VGG, 3x32x32)" rgb32 --spec "$w3" --mean none
run "LeNet-5 (1x28x28)" gray28 --model lenet5 --mean none
