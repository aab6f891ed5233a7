#!/usr/bin/env python3
"""Attribution throughput: ModScope against Captum 0.9.0 on the same weights, in the same run, 2 threads each.

Models: the digits MLP and CNN (examples/digits), a random MLP 784-1024-1024-10, a random torchvision
resnet18 at 64x64 and a random 4-layer BERT encoder (hidden 256) with integer inputs (all exported here;
weights are never committed).
Methods: conductance (50 steps, Gauss-Legendre) and deeplift at the models' hidden layers (resnet18 and BERT:
conductance only).
Prints samples/s for both sides and the speed-up; figures go to docs/performance.md.

Run (needs a release build and the venv with torch/captum/onnx/torchvision):
    swift build -c release --product modscope
    /work/venv/bin/python scripts/bench_attribution.py .build/release/modscope [--cases digits,mlp,resnet18,bert]
"""
import argparse
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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
    with torch.no_grad():
        targets = torch.cat([model(x[lo:lo + batch]).argmax(1) for lo in range(0, len(x), batch)])
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


def digits_cases(binary, folder):
    """The digits MLP and CNN of examples/digits, weights loaded from their ONNX files into torch."""
    import onnx
    from onnx import numpy_helper
    rows = []
    digits = np.load(os.path.join(ROOT, "examples/digits/data.npy"))
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
    return rows


def mlp_cases(binary, folder):
    """A random MLP 784-1024-1024-10, exported here; attribution at the last hidden layer (affine suffix)."""
    big = MLP([784, 1024, 1024, 10]).eval()
    data = np.random.default_rng(0).random((2048, 784), dtype=np.float32)
    data_path, model_path = os.path.join(folder, "big.npy"), os.path.join(folder, "big.onnx")
    np.save(data_path, data)
    torch.onnx.export(big, (torch.tensor(data[:2]),), model_path, dynamo=False, input_names=["x"],
                      output_names=["output"], dynamic_axes={"x": {0: "batch"}})
    xb = torch.tensor(data)
    return [("MLP 784-1024-1024-10 @ last hidden ReLU", method, captum_rate(big, big.net[3], method, xb),
             modscope_rate(binary, model_path, data_path, "/net/net.3/Relu_output_0", method, len(xb)))
            for method in ("conductance", "deeplift")]


RESNET_SAMPLES = 32  # samples per measurement: 32 x 51 path points at 64x64 is ~1 minute of Captum at 2 threads


def resnet_cases(binary, folder):
    """torchvision resnet18 (random weights) on 64x64 inputs, conductance at layer3's output. Captum's DeepLift
    refuses torchvision's ReLU modules that are called twice per block, so only conductance is measured."""
    import torchvision
    model = torchvision.models.resnet18(weights=None).eval()
    data = np.random.default_rng(0).random((RESNET_SAMPLES, 3, 64, 64), dtype=np.float32)
    data_path, model_path = os.path.join(folder, "resnet.npy"), os.path.join(folder, "resnet18.onnx")
    np.save(data_path, data)
    torch.onnx.export(model, (torch.tensor(data[:2]),), model_path, dynamo=False, input_names=["x"],
                      output_names=["output"], dynamic_axes={"x": {0: "batch"}})
    x = torch.tensor(data)
    return [("resnet18 64x64 @ layer3 output", "conductance",
             captum_rate(model, model.layer3, "conductance", x, batch=16, repeats=1),
             modscope_rate(binary, model_path, data_path, "/layer3/layer3.1/relu_1/Relu_output_0", "conductance", len(x)))]


BERT_SAMPLES, BERT_TOKENS = 32, 32


def bert_cases(binary, folder):
    """A 4-layer BERT encoder (hidden 256, 4 heads, FFN 1024, random weights) on BERT_SAMPLES sequences of
    BERT_TOKENS tokens, conductance at layer 1's FFN GELU; the path at the word embeddings with a zero baseline
    on both sides (Captum on a wrapper run from inputs_embeds, the mask as an additional forward argument)."""
    from transformers import BertConfig, BertForSequenceClassification
    from make_token_fixtures import FromEmbeddings, FromIds, export, layer_tensor
    torch.manual_seed(0)
    hf = BertForSequenceClassification(BertConfig(
        attn_implementation="eager", vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=1024, max_position_embeddings=64, num_labels=2)).eval()
    ids = torch.randint(1, 1000, (BERT_SAMPLES, BERT_TOKENS))
    mask = torch.ones_like(ids)
    data_path, model_path = os.path.join(folder, "bert.npz"), os.path.join(folder, "bert.onnx")
    np.savez(data_path, input_ids=ids.numpy(), attention_mask=mask.numpy())
    names = ["input_ids", "attention_mask"]
    export(FromIds(hf, names, False).eval(), [ids, mask], names, model_path, "legacy")
    embeds_model = FromEmbeddings(hf, names, False).eval()
    layer = embeds_model.hf.bert.encoder.layer[1].intermediate.intermediate_act_fn
    store = {}
    hook = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach()))
    with torch.no_grad():
        embeds = hf.bert.embeddings.word_embeddings(ids)
        targets = embeds_model(embeds, mask).argmax(1)
    hook.remove()
    tensor = layer_tensor(model_path, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}, store["a"].numpy())
    algorithm = LayerConductance(embeds_model, layer)
    def one(lo, batch=16):
        return algorithm.attribute(embeds[lo:lo + batch], target=targets[lo:lo + batch], n_steps=50,
                                   additional_forward_args=(mask[lo:lo + batch],))
    one(0)
    start = time.perf_counter()
    for lo in range(0, BERT_SAMPLES, 16):
        one(lo)
    captum = BERT_SAMPLES / (time.perf_counter() - start)
    return [(f"BERT 4x256, {BERT_TOKENS} tokens @ layer 1 FFN GELU", "conductance", captum,
             modscope_rate(binary, model_path, data_path, tensor, "conductance", BERT_SAMPLES))]


CASES = {"digits": digits_cases, "mlp": mlp_cases, "resnet18": resnet_cases, "bert": bert_cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary", nargs="?", default=os.path.join(ROOT, ".build/release/modscope"))
    parser.add_argument("--cases", default="digits,mlp,resnet18,bert", help="comma-separated: " + ",".join(CASES))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.cases.split(","):
            if name not in CASES:
                parser.error(f"unknown case {name!r}; choose from {','.join(CASES)}")
            rows += CASES[name](args.binary, folder)
    print("Best of 3 runs each (resnet18: 1 Captum run); samples/s. 'ModScope' times reading + attributing + writing,")
    print("as Captum's loop; 'whole process' adds start-up and model loading.")
    print(f"{'model':45s} {'method':12s} {'Captum':>9s} {'ModScope':>9s} {'speed-up':>9s} {'whole process':>14s}")
    for model, method, captum, (ours, whole) in rows:
        print(f"{model:45s} {method:12s} {captum:9.1f} {ours:9.1f} {ours / captum:8.2f}x {whole:9.1f} ({whole / captum:.2f}x)")


if __name__ == "__main__":
    main()
