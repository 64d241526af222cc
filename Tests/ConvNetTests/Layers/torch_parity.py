"""The PyTorch side of ConvNet's layer parity tests (PyTorchParityTests.swift).

    python torch_parity.py layers FOLDER    # job.json, convnet.safetensors, inputs.safetensors
    python torch_parity.py train FOLDER     # job.json, convnet.safetensors, batches.safetensors

`layers`: builds job["module"] (a PyTorch expression printed by ConvNet's `pytorchModule`),
loads ConvNet's state_dict with strict=True, runs one forward and backward in training mode
(y, dx, every parameter gradient, the state_dict after the step: running statistics), then
the forward in eval mode; then a module initialised by PyTorch itself (seed 7, three forwards
in training mode to move its running statistics) is saved for ConvNet to load, with its eval
output. `train`: SGD with momentum on the given batches, recording each step's loss and
gradients and the final state_dict. Results go to FOLDER/result.safetensors.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


class Residual(nn.Module):
    """y = body(x) + shortcut(x): ConvNet's `res(BODY | SHORTCUT)`."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock, with the projection built in: ConvNet's `block(planes, s)`."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def build(source, dtype):
    return eval(source, {"nn": nn, "Residual": Residual, "BasicBlock": BasicBlock}).to(dtype)


def contiguous(tensors):
    return {name: tensor.detach().contiguous() for name, tensor in tensors.items()}


def layers(folder, job, dtype):
    torch.manual_seed(0)
    model = build(job["module"], dtype)
    model.load_state_dict(load_file(folder + "/convnet.safetensors"), strict=True)
    inputs = load_file(folder + "/inputs.safetensors")
    x = inputs["x"].to(dtype).requires_grad_(True)
    model.train()
    y = model(x)
    y.backward(inputs["dy"].to(dtype))
    out = {"y": y, "dx": x.grad}
    for name, parameter in model.named_parameters():
        out["grad." + name] = parameter.grad
    for name, tensor in model.state_dict().items():
        out["state." + name] = tensor
    model.eval()
    with torch.no_grad():
        out["y_eval"] = model(x)
    torch.manual_seed(7)
    other = build(job["module"], dtype)
    other.train()
    with torch.no_grad():
        for _ in range(3):
            other(torch.randn_like(x) * 2 + 0.5)
    other.eval()
    with torch.no_grad():
        out["torch_eval"] = other(x)
    save_file(contiguous(other.state_dict()), folder + "/torch.safetensors")
    return out


def train(folder, job, dtype):
    model = build(job["module"], dtype)
    model.load_state_dict(load_file(folder + "/convnet.safetensors"), strict=True)
    batches = load_file(folder + "/batches.safetensors")
    optimizer = torch.optim.SGD(model.parameters(), lr=job["learning_rate"], momentum=job["momentum"])
    model.train()
    out = {}
    for step in range(job["steps"]):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batches["x%d" % step].to(dtype)), batches["y%d" % step].long())
        loss.backward()
        out["loss%d" % step] = loss.reshape(1)
        for name, parameter in model.named_parameters():
            out["grad%d.%s" % (step, name)] = parameter.grad.clone()
        optimizer.step()
    for name, tensor in model.state_dict().items():
        out["state." + name] = tensor
    return out


def main():
    action, folder = sys.argv[1], sys.argv[2]
    job = json.load(open(folder + "/job.json"))
    torch.set_num_threads(1)
    dtype = torch.float64 if job["dtype"] == "float64" else torch.float32
    out = (layers if action == "layers" else train)(folder, job, dtype)
    save_file(contiguous(out), folder + "/result.safetensors")
    print("ok")


if __name__ == "__main__":
    main()
