#!/usr/bin/env python3
"""ConvNet's training recipes and their PyTorch twins, measured in one run.

    .venv/bin/python Benchmarks/recipes_torch.py --recipe mnist --data-dir ../shared/data/mnist \
        --convnet .build/release/convnet [--seed 0] [--only torch|convnet] [--channels-last] [--out runs/recipes]

For each side it prints one JSON line per epoch (elapsed wall seconds since training started,
validation and test accuracy) and a summary: the final test accuracy (of the weights with the
best validation accuracy, as ConvNet keeps), the total time, and the time at which test accuracy
first reached the recipe's threshold (99.0 % MNIST, 91.0 % Fashion-MNIST; evaluated after every
epoch by both sides).

The twin reads the recipe from ConvNet (`convnet train --recipe NAME --print-config`) and
trains it with PyTorch 2.13 (2 threads):
- data: the IDX files; the last 1,000 training images are the validation split; uint8 / 255,
  minus the per-channel mean and divided by the per-channel (population) standard deviation of
  the 59,000 training images; the test split with the same statistics;
- network: the `nn.Sequential` that `convnet summary recipe:NAME` prints for the recipe's spec, with
  PyTorch's default initialisation (ConvNet's `pytorch` scheme draws from the same distributions);
- SGD with the recipe's Nesterov momentum and weight decay, `OneCycleLR(max_lr, total_steps,
  pct_start, div_factor, final_div_factor, cycle_momentum=False)` stepped every iteration,
  `CrossEntropyLoss(label_smoothing)`, the recipe's batch size with the last partial batch kept;
- augmentation as ConvNet's `Augmentation`: per sample a shift uniform in −P…P (crop with zero
  padding P) plus −round(f·28)…round(f·28) (translate f), then a horizontal flip with
  probability ½, applied to the normalised batch with zeros outside the image;
- after every epoch, in eval mode: accuracy on 1,000 random training images, the validation and
  the test split (ConvNet does the same work per epoch).
`--stop-at-threshold` ends each side after the first epoch whose test accuracy reaches the
threshold (ConvNet by SIGTERM, which it answers by saving and exiting): the time-to-accuracy race
alone, a few minutes per seed and side, without the final accuracies.
`--channels-last` also trains PyTorch's twin a second time in `torch.channels_last` memory format
(network and batches; oneDNN's preferred layout on CPU), reported as the side `torch_channels_last`.
Random numbers differ between the two (their own generators), so accuracies agree in
distribution, not bit for bit.
"""
import argparse
import copy
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

THRESHOLDS = {"mnist": 0.99, "fashion-mnist": 0.91}


def recipe_configuration(convnet, recipe):
    """The recipe as ConvNet resolves it (`convnet train --recipe NAME --print-config`)."""
    out = subprocess.run([convnet, "train", "--recipe", recipe, "--print-config"], capture_output=True, text=True, check=True)
    c = json.loads(out.stdout)
    supported = (c["updateRule"] == "nesterov" and "oneCycle" in c["schedule"]["kind"] and c["mean"] == "channel"
                 and c["standardize"] and c["initScheme"] == "pytorch" and c["validationCount"] == 1000)
    if not supported:
        raise SystemExit("error: this twin implements SGD-Nesterov + one-cycle + per-channel standardisation recipes only")
    return c


def read_idx(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            data = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            dims = data[3]
            shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    raise SystemExit(f"error: {stem}[.gz] not found in {folder}")


def load(folder):
    x = read_idx(folder, "train-images-idx3-ubyte").astype(np.float32)[:, None] / 255
    y = read_idx(folder, "train-labels-idx1-ubyte").astype(np.int64)
    xt = read_idx(folder, "t10k-images-idx3-ubyte").astype(np.float32)[:, None] / 255
    yt = read_idx(folder, "t10k-labels-idx1-ubyte").astype(np.int64)
    train, val = slice(0, len(x) - 1000), slice(len(x) - 1000, len(x))
    mean = x[train].mean(dtype=np.float64)
    std = np.sqrt(((x[train].astype(np.float64) - mean) ** 2).mean())
    norm = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32))
    return (norm(x[train]), torch.from_numpy(y[train])), (norm(x[val]), torch.from_numpy(y[val])), (norm(xt), torch.from_numpy(yt))


def augment(batch, crop, translate, flip, generator):
    n, c, h, w = batch.shape
    shift_y = torch.zeros(n, dtype=torch.long)
    shift_x = torch.zeros(n, dtype=torch.long)
    if crop:
        shift_y += torch.randint(-crop, crop + 1, (n,), generator=generator)
        shift_x += torch.randint(-crop, crop + 1, (n,), generator=generator)
    t = round(translate * h)
    if t:
        shift_y += torch.randint(-t, t + 1, (n,), generator=generator)
        shift_x += torch.randint(-t, t + 1, (n,), generator=generator)
    flipped = torch.randint(0, 2, (n,), generator=generator).bool() if flip else torch.zeros(n, dtype=torch.bool)
    pad = crop + t
    padded = nn.functional.pad(batch, (pad, pad, pad, pad))
    columns = torch.arange(w)[None, :].expand(n, w)
    columns = torch.where(flipped[:, None], w - 1 - columns, columns)
    iy = (torch.arange(h)[None, :] + pad + shift_y[:, None])[:, :, None]        # [n, h, 1]
    ix = (columns + pad + shift_x[:, None])[:, None, :]                          # [n, 1, w]
    out = padded[torch.arange(n)[:, None, None], :, iy, ix]                      # [n, h, w, c]
    return out.permute(0, 3, 1, 2).contiguous()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 256]).argmax(1) == y[i:i + 256]).sum().item() for i in range(0, len(x), 256))
    model.train()
    return correct / len(x)


def spec_module(convnet, spec):
    out = subprocess.run([convnet, "summary", spec, "--input-shape", "1,28,28"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("\n")[-1]


def run_torch(c, spec_source, data, seed, channels_last=False, side="torch", stop_at=None):
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    (x, y), (xv, yv), (xt, yt) = data
    model = eval(spec_source, {"nn": nn})
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    batch, epochs, lr = c["batchSize"], c["epochs"], c["learningRate"]
    steps = (len(x) + batch - 1) // batch
    cycle = c["schedule"]["kind"]["oneCycle"]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=c["momentum"], nesterov=True,
                                weight_decay=c.get("weightDecay") or 0)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps, pct_start=cycle["pctStart"], div_factor=cycle["divFactor"],
        final_div_factor=cycle["finalDivFactor"], cycle_momentum=False)
    loss_function = nn.CrossEntropyLoss(label_smoothing=c.get("labelSmoothing") or 0)
    a = c.get("augmentation") or {"cropPadding": 0, "horizontalFlip": False, "translate": 0}
    generator = torch.Generator().manual_seed(seed)
    best, best_state, records = -1.0, None, []
    started = time.time()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=generator)
        model.train()
        for i in range(steps):
            index = order[i * batch:(i + 1) * batch]
            inputs = augment(x[index], a["cropPadding"], a["translate"], a["horizontalFlip"], generator).contiguous(memory_format=memory_format)
            optimizer.zero_grad(set_to_none=True)
            loss_function(model(inputs), y[index]).backward()
            optimizer.step()
            scheduler.step()
        sample = torch.randperm(len(x), generator=generator)[:1000]
        train_acc = accuracy(model, x[sample], y[sample])
        val_acc = accuracy(model, xv, yv)
        test_acc = accuracy(model, xt, yt)
        if val_acc > best:
            best, best_state = val_acc, copy.deepcopy(model.state_dict())
        records.append({"side": side, "epoch": epoch, "elapsed_seconds": time.time() - started, "train_accuracy": train_acc,
                        "validation_accuracy": val_acc, "test_accuracy": test_acc})
        print(json.dumps(records[-1]), flush=True)
        if stop_at is not None and test_acc >= stop_at:
            return records, None, time.time() - started
    model.load_state_dict(best_state)
    return records, accuracy(model, xt, yt), time.time() - started


def read_history(directory):
    try:
        with open(os.path.join(directory, "history.json")) as file:
            return json.load(file)
    except (OSError, ValueError):  # not written yet, or being replaced
        return {"epochs": []}


def run_convnet(convnet, recipe, data_dir, seed, out, stop_at=None):
    directory = out or tempfile.mkdtemp(prefix="convnet-recipe-")
    started = time.time()
    process = subprocess.Popen([convnet, "train", "--recipe", recipe, "--data-dir", data_dir, "--seed", str(seed),
                                "--out", directory, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    while stop_at is not None and process.poll() is None:
        epochs = read_history(directory)["epochs"]
        if epochs and (epochs[-1].get("test_accuracy") or 0) >= stop_at:
            process.send_signal(signal.SIGTERM)
            stopped = True
            break
        time.sleep(1)
    stdout, stderr = process.communicate()
    wall = time.time() - started
    if process.returncode != 0 and not stopped:
        raise SystemExit(stderr)
    history = read_history(directory)
    records = [{"side": "convnet", "epoch": e["epoch"], "elapsed_seconds": e.get("elapsed_seconds"),
                "train_accuracy": e.get("train_accuracy"), "validation_accuracy": e.get("validation_accuracy"),
                "test_accuracy": e.get("test_accuracy")} for e in history["epochs"]]
    for record in records:
        print(json.dumps(record), flush=True)
    final = None if stopped else float(stdout.split("test accuracy ")[1].split()[0])
    return records, final, records[-1]["elapsed_seconds"], wall


def time_to(records, threshold):
    for record in records:
        if record["test_accuracy"] is not None and record["test_accuracy"] >= threshold:
            return record["elapsed_seconds"], record["epoch"]
    return None, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", choices=sorted(THRESHOLDS), required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--convnet", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "convnet"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["torch", "convnet"])
    parser.add_argument("--channels-last", action="store_true", help="also run the twin in channels_last memory format")
    parser.add_argument("--out", help="ConvNet's run directory (default: a temporary one)")
    parser.add_argument("--stop-at-threshold", action="store_true",
                        help="end each side after the first epoch at the recipe's test-accuracy threshold")
    args = parser.parse_args()
    c = recipe_configuration(args.convnet, args.recipe)
    threshold = THRESHOLDS[args.recipe]
    summary = {}
    if args.only != "torch":
        stop_at = threshold if args.stop_at_threshold else None
        records, final, train_seconds, wall = run_convnet(
            args.convnet, args.recipe, args.data_dir, args.seed, args.out, stop_at)
        summary["convnet"] = {"test_accuracy": final, "training_seconds": train_seconds, "wall_seconds": wall,
                              "time_to_threshold": time_to(records, threshold)}
    if args.only != "convnet":
        data = load(args.data_dir)
        source = spec_module(args.convnet, "recipe:" + args.recipe)
        for side, channels_last in [("torch", False), ("torch_channels_last", True)][:2 if args.channels_last else 1]:
            records, final, seconds = run_torch(c, source, data, args.seed, channels_last, side,
                                                threshold if args.stop_at_threshold else None)
            summary[side] = {"test_accuracy": final, "training_seconds": seconds,
                             "time_to_threshold": time_to(records, threshold)}
    print(json.dumps({"summary": summary, "recipe": args.recipe, "threshold": threshold, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
