"""Captum 0.9.0 layer-attribution fixtures for the Attribution test suite.

Writes Tests/AttributionTests/Fixtures/:
  models/<model>_<flavour>.onnx   mlp, acnn (Conv-ReLU-MaxPool-Conv-ReLU-Flatten-Linear on 1x8x8), sigtanh in the
                                  dynamo and legacy flavours; sklearn_mlp (skl2onnx, copied from the ONNX fixtures).
  data/<model>_input.npy          N=5 inputs (sklearn digits rows X/16; images (5,1,8,8) for acnn), float32
  data/<model>_target.npy         int64 (N,): argmax of the model output at the input
  data/<model>_baseline.npy       a random baseline, shape (1, *input), float32
  expected/<id>.npy               (N, neurons) float32; Captum run on model.double() with float64 inputs
  expected/<id>_delta.npy         (N,) convergence delta (conductance / integrated-gradients / deeplift)
  manifest.json                   {"cases":[{id, model, layer, output, method, steps, quadrature, baseline,
                                   granularity, input, target, expected, delta, reference, ...}]}

The ONNX tensor for each hooked torch module is found automatically by matching the module's activation
against every onnxruntime intermediate (names differ per exporter).  DeepLIFT on acnn's conv1 (below the
Conv->ReLU->MaxPool chain, Captum quirks Q1/Q2) is stored twice: "reference":"captum" and "reference":"textbook"
(own Rescale implementation: ReLU multipliers dOut/dIn with gradient fallback when |dIn|<1e-10, MaxPool routing
the window's Delta to the argmax of the larger half).

Run (after scripts/make_fixtures.py, which makes sklearn_mlp.onnx):
    /work/venv/bin/python scripts/make_attribution_fixtures.py
"""
import copy
import json
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_models as fm  # noqa: E402
from make_fixtures import export_dynamo, export_legacy  # noqa: E402
from onnx_torch_ref import ort_intermediates  # noqa: E402
from captum.attr import (LayerConductance, LayerIntegratedGradients, LayerDeepLift, LayerGradientXActivation,  # noqa
                         LayerActivation, GuidedBackprop)

ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "AttributionTests", "Fixtures"))
ONNX_FIXTURES = os.path.normpath(os.path.join(HERE, "..", "Tests", "ONNXTests", "Fixtures", "models"))
N = 5
ROWS = [0, 11, 22, 33, 44]
STEPS = 50


class ACNN(nn.Module):
    """1x8x8: Conv(1->4,3,p1)-ReLU-MaxPool(2)-Conv(4->6,3,p1)-ReLU-Flatten-Linear(96->10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.relu2(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


class SkMLP(nn.Module):
    """Torch replica of skl2onnx's MLPClassifier graph (relu, relu, softmax) from the ONNX initializers."""

    def __init__(self, weights):
        super().__init__()
        (w1, b1), (w2, b2), (w3, b3) = weights
        self.fc1, self.fc2, self.fc3 = (nn.Linear(w.shape[0], w.shape[1]) for w in (w1, w2, w3))
        for lin, (w, b) in zip((self.fc1, self.fc2, self.fc3), weights):
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(w.T))
                lin.bias.copy_(torch.tensor(b.reshape(-1)))
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        # Functional softmax, not nn.Softmax: Captum's DeepLift then takes the ordinary gradient through it, the
        # rule ModScope documents (Captum's Softmax rescale subtracts a mean over the whole 2N batch, PR #1849).
        return torch.softmax(self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x))))), dim=1)


def sklearn_replica(path):
    m = onnx.load(path)
    init = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    mats = [n.input[1] for n in m.graph.node if n.op_type == "MatMul"]
    adds = [n.input[1] for n in m.graph.node if n.op_type == "Add"]
    return SkMLP([(init[a].astype(np.float32), init[b].astype(np.float32)) for a, b in zip(mats, adds)]).eval()


def digits():
    from sklearn.datasets import load_digits
    return (load_digits().data / 16.0).astype(np.float32)


# ---------------------------------------------------------------- textbook DeepLIFT (Rescale) for ACNN conv1
def textbook_deeplift_acnn_conv1(model, x, b, target, eps=1e-10):
    """Attribution to conv1's output (multiply_by_inputs=True) and delta, float64, no Captum quirks."""
    m = model
    with torch.no_grad():
        bx = b.expand_as(x)
        a = [m.conv1(x), m.conv1(bx)]
        r = [torch.relu(t) for t in a]
        pi = [F.max_pool2d(t, 2, return_indices=True) for t in r]
        p = [t[0] for t in pi]
        idx = [t[1] for t in pi]
        c = [m.conv2(t) for t in p]
        q = [torch.relu(t) for t in c]
        out = [m.fc(torch.flatten(t, 1)) for t in q]
        onehot = F.one_hot(target, 10).to(x.dtype)
        m_q = (onehot @ m.fc.weight).reshape(q[0].shape)
        dc, dq = c[0] - c[1], q[0] - q[1]
        m_c = torch.where(dc.abs() < eps, (c[0] > 0).to(x.dtype) * m_q, m_q * dq / torch.where(dc.abs() < eps, 1, dc))
        m_p = F.conv_transpose2d(m_c, m.conv2.weight, padding=1)
        # MaxPool: the window's Delta goes to the argmax of the half with the larger max
        do = p[0] - p[1]
        pos = torch.where(p[0] >= p[1], idx[0], idx[1])
        dr = (r[0] - r[1]).flatten(2)
        dr_pos = torch.gather(dr, 2, pos.flatten(2))
        ok = dr_pos.abs() >= eps
        contrib = torch.where(ok, m_p.flatten(2) * do.flatten(2) / torch.where(ok, dr_pos, 1), 0.0)
        m_r = torch.zeros_like(dr).scatter_add(2, pos.flatten(2), contrib)
        fallback = torch.where(ok, 0.0, m_p.flatten(2))
        m_r = m_r.scatter_add(2, idx[0].flatten(2), fallback).reshape(r[0].shape)
        da = a[0] - a[1]
        dr = r[0] - r[1]
        m_a = torch.where(da.abs() < eps, (a[0] > 0).to(x.dtype) * m_r, m_r * dr / torch.where(da.abs() < eps, 1, da))
        attr = da * m_a
        ft = out[0].gather(1, target[:, None])[:, 0] - out[1].gather(1, target[:, None])[:, 0]
        delta = attr.flatten(1).sum(1) - ft
    return attr, delta


# ---------------------------------------------------------------- ONNX tensor matching
def match_tensor(onnx_path, in_name, x32, act32, exclude=(), earliest=False):
    """The ONNX tensor whose onnxruntime value equals the activation: the closest, or with earliest=True the first
    in graph order among equally close ones (a module output that later feeds an identity, e.g. a one-input
    Concat, must be the producer: the copy does not see the module's other consumers)."""
    model = onnx.load(onnx_path)
    names = [o for n in model.graph.node for o in n.output if o]
    vals = {}
    for nm in names:   # promote all; drop non-float ones later
        vals[nm] = None
    ref = ort_intermediates(model, {in_name: x32}, names)
    best = []
    for nm in names:
        v = ref.get(nm)
        if not isinstance(v, np.ndarray) or v.dtype != np.float32 or v.shape != act32.shape or nm in exclude:
            continue
        d = float(np.max(np.abs(v - act32)))
        if d < 1e-4:
            best.append((d, nm))
    assert len(best) >= 1, f"{onnx_path}: no ONNX tensor matches the activation"
    best.sort()
    if earliest:
        ties = {nm for d, nm in best if d <= best[0][0] + 1e-6}
        best = [(d, nm) for d, nm in best if nm == next(n for n in names if n in ties)] + best
    if len(best) > 1:
        print(f"   note: several tensors match in {os.path.basename(onnx_path)}: {best}; using {best[0][1]}")
    return best[0][1], ref


def capture(model, layer, x):
    store = {}
    h = layer.register_forward_hook(lambda mod, i, o: store.__setitem__("a", o.detach().clone()))
    with torch.no_grad():
        y = model(x)
    h.remove()
    return store["a"], y


# ---------------------------------------------------------------- Captum
def run_method(method, model, layer, x, target, baseline, quadrature="gausslegendre", steps=STEPS):
    """Returns (attr (N, *layer), delta or None), float64."""
    if method == "conductance":
        a, d = LayerConductance(model, layer).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                        method=quadrature, return_convergence_delta=True)
        return a, d
    if method == "integrated-gradients":
        a, d = LayerIntegratedGradients(model, layer).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                                method=quadrature, return_convergence_delta=True)
        return a, d
    if method == "deeplift":
        a, d = LayerDeepLift(model, layer).attribute(x, baselines=baseline, target=target,
                                                     return_convergence_delta=True)
        return a, d
    if method == "guided-backprop":
        gb = GuidedBackprop(model)
        try:
            model.apply(gb._register_hooks)
            a = LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(x, target=target)
        finally:
            gb._remove_hooks()
        return a, None
    if method == "grad-x-act":
        return LayerGradientXActivation(model, layer).attribute(x, target=target), None
    if method == "gradient":
        return LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(x, target=target), None
    if method == "activation":
        return LayerActivation(model, layer).attribute(x), None
    raise ValueError(method)


def to_cols(a, granularity):
    a = a.detach()
    if a.dim() == 4 and granularity == "channel":
        a = a.sum(dim=(2, 3))
    return a.reshape(a.shape[0], -1)


def save(rel, arr, dtype=np.float32):
    p = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    np.save(p, np.ascontiguousarray(np.asarray(arr, dtype=dtype)))
    return rel


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "models"))
    X = digits()
    sk_src = os.path.join(ONNX_FIXTURES, "sklearn_mlp.onnx")
    assert os.path.exists(sk_src), "run scripts/make_fixtures.py first (it makes sklearn_mlp.onnx)"

    # (model key, torch model builder, input shape, flavours, explained output tensor, layers)
    # layers: list of (torch attribute name, granularities)
    torch.manual_seed(0)
    acnn = ACNN().eval()
    specs = [
        ("mlp", fm.build("mlp")[0], (64,), ["fc1", "relu2"]),
        ("acnn", acnn, (1, 8, 8), ["conv1", "conv2"]),
        ("sigtanh", fm.build("sigtanh")[0], (64,), ["sig", "fc2"]),
        ("sklearn_mlp", sklearn_replica(sk_src), (64,), ["relu1", "fc2"]),
    ]
    cases = []
    for key, model32, shape, layers in specs:
        print(f"== {key}")
        flavours = {}
        if key == "sklearn_mlp":
            shutil.copy(sk_src, os.path.join(ROOT, "models", "sklearn_mlp.onnx"))
            flavours["skl2onnx"] = ("models/sklearn_mlp.onnx", "input", "out_activations_result")
        else:
            for fl in ("dynamo", "legacy"):
                rel = f"models/{key}_{fl}.onnx"
                (export_dynamo if fl == "dynamo" else export_legacy)(model32, shape, os.path.join(ROOT, rel))
                flavours[fl] = (rel, "x", "output")
        x32 = X[ROWS].reshape(N, *shape).astype(np.float32)
        # float64 copy of the model (keep model32 intact for the ONNX matching)
        model = copy.deepcopy(model32).double().eval()
        x = torch.tensor(x32, dtype=torch.float64)
        with torch.no_grad():
            y = model(x)
        target = y.argmax(1)
        rng = np.random.default_rng(sum(map(ord, key)))
        base32 = (0.5 * rng.random((1, *shape))).astype(np.float32)
        base = torch.tensor(base32, dtype=torch.float64)
        input_rel = save(f"data/{key}_input.npy", x32)
        target_rel = save(f"data/{key}_target.npy", target.numpy(), np.int64)
        base_rel = save(f"data/{key}_baseline.npy", base32)

        # the ONNX names of every hooked layer and of the explained output, per flavour
        names = {}
        for fl, (rel, in_name, out_name) in flavours.items():
            ref_out = ort_intermediates(onnx.load(os.path.join(ROOT, rel)), {in_name: x32}, [out_name])[out_name]
            with torch.no_grad():
                y32 = model32(torch.tensor(x32)).numpy()
            err = float(np.max(np.abs(ref_out - y32)))
            assert err < 1e-5, f"{rel}: torch vs ORT output differ by {err}"
            for ln in layers:
                act, _ = capture(model32, getattr(model32, ln), torch.tensor(x32))
                tname, _ = match_tensor(os.path.join(ROOT, rel), in_name, x32, act.numpy())
                names[(fl, ln)] = tname
                print(f"   {fl}: {ln} -> {tname!r}   output {out_name!r}")

        # method list per layer
        runs = []
        for li, ln in enumerate(layers):
            grans = ["unit", "channel"] if (key == "acnn" and ln == "conv1") else (
                ["channel"] if key == "acnn" else ["unit"])
            runs.append((ln, "conductance", "gausslegendre", None, grans))
            runs.append((ln, "integrated-gradients", "gausslegendre", None, grans))
            runs.append((ln, "deeplift", None, None, grans))
            runs.append((ln, "deeplift", None, "random", grans))
            runs.append((ln, "guided-backprop", None, None, grans))
            runs.append((ln, "grad-x-act", None, None, grans))
            runs.append((ln, "gradient", None, None, grans))
            runs.append((ln, "activation", None, None, grans))
            if li == 0:
                runs.append((ln, "conductance", "riemann_trapezoid", None, grans))
                runs.append((ln, "conductance", "gausslegendre", "random", grans))
        for ln, method, quad, bl, grans in runs:
            layer = getattr(model, ln)
            baseline = base if bl == "random" else None
            attr, delta = run_method(method, model, layer, x, target, baseline, quad or "gausslegendre")
            tb = None
            if key == "acnn" and ln == "conv1" and method == "deeplift":
                tb = textbook_deeplift_acnn_conv1(model, x, base if bl == "random" else torch.zeros_like(base),
                                                  target)
                print(f"   textbook vs captum deeplift conv1 ({bl or 'zero'} baseline): "
                      f"max|diff| {float((tb[0] - attr).abs().max()):.3e}, captum delta "
                      f"{np.round(delta.numpy(), 4)}, textbook delta max {float(tb[1].abs().max()):.1e}")
            for gran in grans:
                variants = [("captum", attr, delta)] + ([("textbook", tb[0], tb[1])] if tb else [])
                for refname, a, d in variants:
                    qtag = {"gausslegendre": "", "riemann_trapezoid": "_trapezoid"}[quad] if quad else ""
                    cid = f"{key}_{{fl}}_{method.replace('-', '_')}{qtag}_{ln}" + \
                          ("_randbase" if bl else "") + (f"_{gran}" if len(grans) > 1 or key == "acnn" else "") + \
                          ("_textbook" if refname == "textbook" else "")
                    base_id = cid.replace("_{fl}", "")
                    exp_rel = save(f"expected/{base_id}.npy", to_cols(a, gran).numpy())
                    delta_rel = save(f"expected/{base_id}_delta.npy", d.detach().numpy()) if d is not None else None
                    for fl, (rel, in_name, out_name) in flavours.items():
                        cases.append({
                            "id": cid.format(fl=fl), "model": rel, "flavour": fl,
                            "input_name": in_name, "layer": names[(fl, ln)], "torch_layer": ln,
                            "output": out_name, "method": method,
                            "steps": STEPS if method in ("conductance", "integrated-gradients") else None,
                            "quadrature": (quad or "gausslegendre").replace("riemann_", "riemann-")
                            if method in ("conductance", "integrated-gradients") else None,
                            "baseline": base_rel if bl else None,
                            "granularity": gran, "input": input_rel, "target": target_rel,
                            "expected": exp_rel, "delta": delta_rel, "reference": refname})
    manifest = {
        "captum": "0.9.0", "torch": torch.__version__,
        "notes": ("expected = Captum on model.double() with float64 inputs, stored float32. baseline null = zeros. "
                  "Shapes: expected (N, neurons); unit = C*H*W in C order; channel = sum over H,W. "
                  "delta = Captum's convergence delta (sum attr - (F_t(x)-F_t(x'))), for textbook cases the "
                  "textbook rule's delta. guided-backprop = gradient w.r.t. the layer with GuidedBackprop's ReLU "
                  "rule at every nn.ReLU after the layer (no x activation). gradient = LayerGradientXActivation("
                  "multiply_by_inputs=False). sklearn_mlp: the explained output is the Softmax "
                  "(out_activations_result), computed with a functional softmax so Captum's DeepLift takes the "
                  "ordinary gradient through it, as ModScope does. acnn conv1 deeplift: 'captum' reproduces quirks Q1/Q2, 'textbook' "
                  "does not."),
        "cases": cases}
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(ROOT, "README.md"), "w") as f:
        f.write("# Attribution fixtures\n\nGenerated by `scripts/make_attribution_fixtures.py` (rerun "
                "`/work/venv/bin/python scripts/make_attribution_fixtures.py` after `scripts/make_fixtures.py`). "
                "See the script's docstring and `manifest.json` (`notes`) for the format.\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fs in os.walk(ROOT) for fn in fs)
    print(f"wrote {len(cases)} cases to {ROOT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
