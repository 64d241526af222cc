"""Checks a ConvNet ONNX export for ONNXExportTests.swift, given a folder holding model.onnx and
raw.npy (raw images, float32 [N, C, H, W]):

1. onnx.checker.check_model(full_check=True) (the structure, then shape inference);
2. the raw images are prepared from the model's metadata_props alone, as a deployer would:
   x = (raw / scale - mean) / std, mean per element of a sample or per channel, std per channel
   (no 'preprocessing' entry: the images are used as they are);
3. onnxruntime (CPU) runs the model on the whole batch and on the first image alone (the batch
   dimension is dynamic); the scores go to scores.npy, and what the model declares to
   summary.json (operators in order, opset, IR version, input and output shapes)."""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

folder = sys.argv[1]
model = onnx.load(os.path.join(folder, "model.onnx"))
onnx.checker.check_model(model, full_check=True)

properties = {entry.key: entry.value for entry in model.metadata_props}
raw = np.load(os.path.join(folder, "raw.npy")).astype(np.float32)
x = raw
if "preprocessing" in properties:
    preprocessing = json.loads(properties["preprocessing"])
    sample_shape = preprocessing["sampleShape"]
    per_channel = [-1] + [1] * (len(sample_shape) - 1)
    x = raw / np.float32(preprocessing["scale"])
    mean = np.asarray(preprocessing["mean"], np.float32)
    if mean.size == int(np.prod(sample_shape)):
        x = x - mean.reshape(sample_shape)
    elif mean.size:
        x = x - mean.reshape(per_channel)
    std = np.asarray(preprocessing["std"], np.float32)
    if std.size:
        x = x / std.reshape(per_channel)
x = np.ascontiguousarray(x, dtype=np.float32)

session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
scores = session.run(["scores"], {"input": x})[0]
first = session.run(["scores"], {"input": x[:1]})[0]
if not np.allclose(first, scores[:1], rtol=1e-5, atol=1e-6):
    sys.exit("one image alone scores differently from the batch: %r vs %r" % (first, scores[:1]))
np.save(os.path.join(folder, "scores.npy"), scores)


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


summary = {
    "ops": [node.op_type for node in model.graph.node],
    "opset": [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")][0],
    "ir_version": model.ir_version,
    "input": dims(model.graph.input[0]),
    "output": dims(model.graph.output[0]),
}
with open(os.path.join(folder, "summary.json"), "w") as file:
    json.dump(summary, file)
