#!/usr/bin/env python3
"""Writes the seed corpora, Fuzz/Corpus/<harness>/: small valid files of every format.

    .venv/bin/python Fuzz/make_corpus.py [path/to/convnet]

Needs numpy and safetensors (the project's .venv has both) and a built `convnet` (default
.build/release/convnet), whose training runs give real checkpoints and training-state files.
IDX, CIFAR, gzip/zlib/deflate and spec seeds are made here by hand; .npy/.npz/pickle seeds by
NumPy and pickle, the reference writers. The files are committed; run this again only when a
format changes (FuzzRegressionTests checks that every seed still reads). Existing seed folders
are replaced.
"""
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import safetensors.numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")
CONVNET = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "convnet")

seeds = {}


def seed(harness, name, data):
    seeds.setdefault(harness, {})[name] = bytes(data)


def idx(shape, values):
    return bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape) + bytes(values)


def gz(data, name=None):
    out = io.BytesIO()
    with gzip.GzipFile(filename=name or "", mode="wb", fileobj=out, mtime=0) as f:
        f.write(data)
    return out.getvalue()


def deflate(data, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# IDX, raw and gzip-compressed (the harness gunzips by magic, as IDXFile(contentsOf:) does).
labels = idx([5], [0, 3, 9, 1, 7])
images = idx([2, 4, 4], range(32))
with open(os.path.join(ROOT, "Sources", "ConvNet", "Resources", "digits", "digits-images-idx3-ubyte"), "rb") as f:
    digits = f.read()
digits3 = idx([3, 8, 8], digits[16:16 + 3 * 64])
for name, data in [("labels.idx1", labels), ("images.idx3", images), ("digits.idx3", digits3)]:
    seed("idx", name, data)
    seed("idx", name + ".gz", gz(data, name))

# gzip, zlib, raw DEFLATE: stored, fixed and dynamic Huffman blocks.
text = b"the quick brown fox jumps over the lazy dog; " * 6
noise = bytes((i * 7919 + 13) % 251 for i in range(300))
seed("gzip", "text.gz", gz(text))
seed("gzip", "short.gz", gz(b"hello, world\n", "hello.txt"))
seed("gzip", "stored.gz", gzip.compress(noise, compresslevel=0, mtime=0))
seed("gzip", "empty.gz", gz(b""))
seed("gzip", "two-members.gz", gz(b"first\n") + gz(b"second member\n"))
# Every optional header field: FEXTRA, FNAME, FCOMMENT, FHCRC.
body = deflate(b"header fields\n")
header = b"\x1f\x8b\x08\x1e\x00\x00\x00\x00\x00\x03" + b"\x04\x00AB\x01\x00" + b"name\x00" + b"comment\x00"
header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
seed("gzip", "all-fields.gz", header + body + struct.pack("<II", zlib.crc32(b"header fields\n"), 14))
for level in (0, 1, 9):
    seed("zlib", f"text-{level}.zlib", zlib.compress(text, level))
seed("zlib", "noise.zlib", zlib.compress(noise, 6))
seed("zlib", "empty.zlib", zlib.compress(b""))
for level in (0, 1, 9):
    seed("inflate", f"text-{level}.deflate", deflate(text, level))
seed("inflate", "noise.deflate", deflate(noise))

# CIFAR-10 binary records: label byte, 3,072 pixel bytes.
record = lambda label, start: bytes([label]) + bytes((start + i) % 256 for i in range(3072))
seed("cifar", "one.bin", record(3, 0))
seed("cifar", "two.bin", record(0, 10) + record(9, 99))

# Pickles as CIFAR-10's python batches and batches.meta are written (Python 3 and the
# Python 2 style with bytes keys), plus containers, memo references and every number type.
batch = {"data": np.arange(3072, dtype=np.uint8).reshape(1, 3072), "labels": [7], "batch_label": "fuzz batch 1 of 1"}
batch2 = {b"data": np.zeros((1, 3072), dtype=np.uint8), b"labels": [2], b"batch_label": b"python 2 style"}
meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        "num_cases_per_batch": 1, "num_vis": 3072}
shared = [1, 2, -3]
misc = {"shared": (shared, shared, 2.5), "nested": ((((1,),),),), "none": None, "bool": True, "big": 2**40, "neg": -(2**33),
        "text": "ünïcode", "bytes": b"\x00\x01", "floats": np.array([1.5, -2.0], dtype="<f4"), "f8": np.array([[1.0]], dtype=">f8")}
for protocol in (0, 2, 4, 5):
    seed("pickle", f"batch-p{protocol}.pickle", pickle.dumps(batch, protocol=protocol))
seed("pickle", "batch-py2-style.pickle", pickle.dumps(batch2, protocol=2))
seed("pickle", "meta-p2.pickle", pickle.dumps(meta, protocol=2))
for protocol in (0, 2, 5):
    seed("pickle", f"misc-p{protocol}.pickle", pickle.dumps(misc, protocol=protocol))
# Protocol 0 (text opcodes), and a Python 2 str as STRING writes it (a quoted repr with escapes).
seed("pickle", "text-p0.pickle", pickle.dumps({1: [shared, shared, (3, 4)], 2: None, 3: True, 4: [[], {}]}, protocol=0))
seed("pickle", "string-py2.pickle", b"(dp0\nS'k'\np1\nS'a\\x00\\\\\\'\\n\\101\\7z'\np2\nsS'f'\nF-1.5e-07\ns.")


def npy(array, version=None):
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


seed("npy", "images-u1.npy", npy(np.arange(8, dtype=np.uint8).reshape(2, 1, 2, 2)))
seed("npy", "labels-i8.npy", npy(np.array([0, 1, 2], dtype="<i8")))
seed("npy", "labels-i4.npy", npy(np.array([3, 1], dtype="<i4")))
seed("npy", "floats-f4.npy", npy(np.array([0.5, -1.0, 2.0], dtype="<f4")))
seed("npy", "big-endian-f8.npy", npy(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=">f8")))
seed("npy", "scalar.npy", npy(np.float32(1.5)))
seed("npy", "empty.npy", npy(np.zeros((0, 3), dtype=np.float32)))
seed("npy", "version2.npy", npy(np.array([1, 2], dtype=np.uint8), version=(2, 0)))
v3 = bytearray(npy(np.array([9], dtype=np.uint8), version=(2, 0)))
v3[6] = 3
seed("npy", "version3.npy", bytes(v3))


def npz(arrays, compressed):
    out = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(out, **arrays)
    return out.getvalue()


x = np.arange(8, dtype=np.uint8).reshape(2, 1, 2, 2)
y = np.array([0, 1], dtype=np.int64)
seed("npz", "stored.npz", npz({"x_train": x, "y_train": y}, False))
seed("npz", "deflated.npz", npz({"x_train": x, "y_train": y, "x_test": x[:1], "y_test": y[:1]}, True))
seed("npz", "nhwc-float.npz", npz({"x_train": np.ones((2, 2, 2, 1), dtype=np.float32), "y_train": np.array([1.0, 0.0])}, True))

seed("safetensors", "dtypes.safetensors", safetensors.numpy.save({
    "f32": np.array([1.0, 2.0], dtype=np.float32), "f64": np.array([[3.0]], dtype=np.float64),
    "f16": np.array([0.5, -0.5], dtype=np.float16), "i64": np.array([7], dtype=np.int64),
    "i32": np.array([1, 2, 3], dtype=np.int32), "u8": np.array([255], dtype=np.uint8),
    "bool": np.array([True, False]), "scalar": np.array(2.0, dtype=np.float32),
}, metadata={"format": "pt"}))
seed("safetensors", "empty.safetensors", safetensors.numpy.save({}))

# Real checkpoints and training-state files, written by ConvNet's own training runs.
runs = [
    ["--spec", "conv(2,k=3,p=1) bn relu maxpool(2) flatten dropout(0.1) dense(10)", "--optimizer", "adam"],
    ["--model", "mlp", "--hidden", "3", "--mean", "channel", "--standardize", "--optimizer", "sgd_momentum"],
    ["--spec", "conv(2,k=3,p=1,bias=false) bn relu block(2) res(conv(3,k=3,s=2,p=1) relu conv(3,k=3,p=1) | conv(3,k=1,s=2)) "
               "leakyrelu avgpool(2) gap flatten dense(10) tanh", "--optimizer", "rmsprop"],
]


def wrapped(path):
    """The checkpoint harness's input: 2-byte data length, the JSON header, the data."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return struct.pack("<H", len(data) - 8 - n) + data[8:]


with tempfile.TemporaryDirectory() as scratch:
    for i, options in enumerate(runs):
        out = os.path.join(scratch, f"run{i}")
        subprocess.run([CONVNET, "train", *options, "--epochs", "2", "--num-training", "40", "--num-validation", "10",
                        "--num-test", "10", "--quiet", "--out", out], check=True, stdout=subprocess.DEVNULL)
        checkpoint = os.path.join(out, "last.safetensors")
        state = os.path.join(out, "last.state.safetensors")
        with open(checkpoint, "rb") as f:
            seed("safetensors", f"checkpoint-{i}.safetensors", f.read())
        seed("checkpoint", f"run-{i}", wrapped(checkpoint))
        with open(state, "rb") as f:
            data = f.read()
        seed("training-state", f"run-{i}.state.safetensors", data)
        n = struct.unpack("<Q", data[:8])[0]
        seed("training-state-json", f"run-{i}.json", json.loads(data[8:8 + n])["__metadata__"]["training_state"].encode())

# Model specs: every preset, every layer kind with its arguments and aliases.
specs = [
    "conv(16,k=3,p=1) relu maxpool(2) conv(32,k=3,p=1) relu maxpool(2) flatten dense(64) relu dense(10)",
    "conv(6,k=5,p=2) relu maxpool(2) conv(16,k=5) relu maxpool(2) flatten dense(120) relu dense(84) relu dense(10)",
    "conv(16,k=3,p=1,bias=false) bn relu block(16) block(32,s=2) block(64,s=2) gap flatten dense(10)",
    "conv(64,k=3,p=1) bn relu maxpool(2) flatten dense(256) relu dense(10)",
    "flatten dense(100) relu dense(10)",
    "dense(4) sigmoid dense(1) sigmoid",
    "conv2d(f=4,kernel_size=3,stride=1,pad=1,dilation=1,groups=1,bias=false) batchnorm(eps=0.001,momentum=0.2,affine=false)",
    "conv(2,k=1) conv(4,k=3,s=2,p=2,d=2,g=2) maxpool(k=3,s=2,p=1,ceil=true) avgpool2d(2,ceil=true)",
    "dropout(0.25) leakyrelu(slope=0.2) lrelu tanh identity flatten linear(10) -> fc(5); dense(out_features=2)",
    "res(conv(3,k=3,s=2,p=1) relu conv(3,k=3,p=1) | conv(3,k=1,s=2)) relu",
    "residual(conv(2,k=3,p=1) relu conv(2,k=3,p=1))",
    "seq(conv(2) relu) sequential(gap) flatten",
    "basicblock(planes=4,s=2) globalavgpool adaptiveavgpool bn2d bn1d",
]
for i, text in enumerate(specs):
    seed("spec", f"spec-{i:02d}", text.encode())

for harness, files in sorted(seeds.items()):
    folder = os.path.join(CORPUS, harness)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in sorted(files.items()):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{harness}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")
