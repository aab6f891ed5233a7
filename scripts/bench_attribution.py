#!/usr/bin/env python3
"""Attribution throughput: ModScope against Captum 0.9.0 on the same weights, in the same run, 2 threads each.

Models: the digits MLP and CNN (examples/digits) and a random MLP 784-1024-1024-10 exported here.
Methods: conductance (50 steps, Gauss-Legendre) and deeplift, at the models' hidden layers.
Prints samples/s for both sides and the speed-up; figures go to docs/performance.md.

Run (needs a release build and the venv with torch/captum/onnx):
    swift build -c release --product modscope
    /work/venv/bin/python scripts/bench_attribution.py .build/release/modscope
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
from captum.attr import LayerConductance, LayerDeepLift

THREADS = 2
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
torch.set_num_threads(THREADS)
torch.manual_seed(0)


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class DigitsCNN(nn.Module):
    """The architecture of examples/digits/cnn.onnx; weights are loaded from that file."""

    def __init__(self):
        super().__init__()
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(x.flatten(1))


def captum_rate(model, layer, method, x, batch=64, repeats=3):
    model.eval()
    targets = model(x).argmax(1)
    algorithm = LayerConductance(model, layer) if method == "conductance" else LayerDeepLift(model, layer)
    def one(lo):
        xb, tb = x[lo:lo + batch], targets[lo:lo + batch]
        if method == "conductance":
            return algorithm.attribute(xb, target=tb, n_steps=50)
        return algorithm.attribute(xb, target=tb)
    one(0)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for lo in range(0, len(x), batch):
            one(lo)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def modscope_rate(binary, model_path, data_path, layer, method, count):
    """(in-process rate, whole-process rate). The in-process figure times the same work as Captum's loop:
    reading the samples, attributing, writing the rows; the whole-process one adds start-up and model loading."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "a.npy")
        command = [binary, "attribute", "--model", model_path, "--data", data_path, "--layer", layer,
                   "--method", method, "--out", out, "--threads", str(THREADS), "--quiet", "--timing"]
        subprocess.run(command, check=True, capture_output=True)  # warm-up (page cache)
        best_compute, best_total = float("inf"), float("inf")
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            best_total = min(best_total, time.perf_counter() - start)
            best_compute = min(best_compute, float(done.stderr.split("compute_seconds=")[1].split()[0]))
        return count / best_compute, count / best_total


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/modscope")
    digits = np.load(os.path.join(ROOT, "examples/digits/data.npy"))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        # Digits MLP: load the exported weights into torch so both sides run the same network.
        import onnx
        from onnx import numpy_helper
        weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(ROOT, "examples/digits/mlp.onnx")).graph.initializer}
        linear = [k for k in weights if k.endswith(".weight")]
        sizes = [weights[linear[0]].shape[1]] + [weights[k].shape[0] for k in linear]
        mlp = MLP(sizes)
        with torch.no_grad():
            for module, name in zip([m for m in mlp.net if isinstance(m, nn.Linear)], linear):
                module.weight.copy_(torch.tensor(weights[name]))
                module.bias.copy_(torch.tensor(weights[name.replace(".weight", ".bias")]))
        x = torch.tensor(digits)
        for method in ("conductance", "deeplift"):
            rows.append(("digits MLP 64-64-32-10 @ first hidden ReLU", method,
                         captum_rate(mlp, mlp.net[1], method, x),
                         modscope_rate(binary, os.path.join(ROOT, "examples/digits/mlp.onnx"),
                                       os.path.join(ROOT, "examples/digits/data.npy"), "relu", method, len(x))))
        # Digits CNN (same shapes as examples/digits/cnn.onnx; timing only).
        images = np.load(os.path.join(ROOT, "examples/digits/images.npy"))
        cnn = DigitsCNN().eval()
        cnn_weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(ROOT, "examples/digits/cnn.onnx")).graph.initializer}
        with torch.no_grad():
            for name, parameter in cnn.named_parameters():
                parameter.copy_(torch.tensor(cnn_weights[name]))
        xi = torch.tensor(images)
        for method in ("conductance", "deeplift"):
            rows.append(("digits CNN @ conv2 ReLU", method, captum_rate(cnn, cnn.relu2, method, xi),
                         modscope_rate(binary, os.path.join(ROOT, "examples/digits/cnn.onnx"),
                                       os.path.join(ROOT, "examples/digits/images.npy"), "relu_1", method, len(xi))))
        # Large MLP 784-1024-1024-10, exported here; attribution at the last hidden layer.
        big = MLP([784, 1024, 1024, 10]).eval()
        data = np.random.default_rng(0).random((2048, 784), dtype=np.float32)
        data_path, model_path = os.path.join(folder, "big.npy"), os.path.join(folder, "big.onnx")
        np.save(data_path, data)
        torch.onnx.export(big, (torch.tensor(data[:2]),), model_path, dynamo=False, input_names=["x"],
                          output_names=["output"], dynamic_axes={"x": {0: "batch"}})
        xb = torch.tensor(data)
        for method in ("conductance", "deeplift"):
            rows.append(("MLP 784-1024-1024-10 @ last hidden ReLU", method, captum_rate(big, big.net[3], method, xb),
                         modscope_rate(binary, model_path, data_path, "/net/net.3/Relu_output_0", method, len(xb))))
    print("Best of 3 runs each; samples/s. 'ModScope' times reading + attributing + writing, as Captum's loop;")
    print("'whole process' adds start-up and model loading.")
    print(f"{'model':45s} {'method':12s} {'Captum':>9s} {'ModScope':>9s} {'speed-up':>9s} {'whole process':>14s}")
    for model, method, captum, (ours, whole) in rows:
        print(f"{model:45s} {method:12s} {captum:9.0f} {ours:9.0f} {ours / captum:8.2f}x {whole:9.0f} ({whole / captum:.2f}x)")


if __name__ == "__main__":
    main()
