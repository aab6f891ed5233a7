"""Engine fixtures for the ONNX test suite.

Writes Tests/ONNXTests/Fixtures/:
  models/<name>.onnx          tiny torch models exported with torch.onnx (dynamo, legacy opset 20, legacy without
                              constant folding (BatchNormalization kept), legacy opset 11), one dynamo export with
                              external data (mlp_external.onnx + mlp_external.onnx.data), two skl2onnx models, and
                              error-case files (static batch, unsupported op, truncated, not ONNX).
  reference/<name>/b<B>/      for batch 1 and 7: input.npy, t###.npy (every float tensor computed by onnxruntime
                              with ORT_DISABLE_ALL, tensors promoted to graph outputs), seed.npy (dy, the output's
                              shape) and g###.npy = d(sum(output*dy))/dt for every float tensor t on the input->output
                              path, by torch autograd (float64) on an ONNX->torch interpreter (onnx_torch_ref.py) whose
                              forward is asserted against onnxruntime.  t### and g### share the index of the tensor.
  manifest.json               see the "manifest" section of the report / the dict built below.

Run:  /work/venv/bin/python scripts/make_fixtures.py      (about a minute; deterministic, rerunnable)
"""
import json
import os
import shutil
import sys
import warnings
import zlib

import numpy as np
import onnx
import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_models as fm  # noqa: E402
from onnx_torch_ref import Interpreter, ort_intermediates, FLOAT_TYPES  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ONNXTests", "Fixtures")
ROOT = os.path.normpath(ROOT)
MODELS = os.path.join(ROOT, "models")
BATCHES = (1, 7)
TOL = 1e-5


def export_dynamo(model, shape, path, external=False):
    x = torch.randn(3, *shape)
    torch.onnx.export(model, (x,), path, dynamo=True, external_data=external, input_names=["x"],
                      output_names=["output"], dynamic_shapes=({0: torch.export.Dim("batch")},))


def export_legacy(model, shape, path, opset=20, fold=True, dynamic=True, batch=3):
    x = torch.randn(batch, *shape)
    kw = dict(dynamo=False, opset_version=opset, input_names=["x"], output_names=["output"],
              do_constant_folding=fold)
    if dynamic:
        kw["dynamic_axes"] = {"x": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model, (x,), path, **kw)


def sklearn_models():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), activation="relu", random_state=0, max_iter=300).fit(Xtr, ytr)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), activation="tanh",
                                                         random_state=0, max_iter=300)).fit(Xtr, ytr)
    out = {}
    for name, est in (("sklearn_mlp", clf), ("sklearn_pipeline", pipe)):
        onx = convert_sklearn(est, initial_types=[("input", FloatTensorType([None, 64]))])
        onx.graph.name = name          # skl2onnx names the graph with a random uuid: keep files reproducible
        with open(os.path.join(MODELS, name + ".onnx"), "wb") as f:
            f.write(onx.SerializeToString())
        print(f"{name}: test accuracy {est.score(Xte, yte):.3f}")
        out[name] = X
    return X


def make_softmax3d():
    """Hand-built opset-11 model on a 3-D input (N,3,4) where the pre-13 Softmax/LogSoftmax semantics matter:
    Softmax(axis=1) normalises over the flattened 3*4 tail (coerced to 2-D [N, 12]), LogSoftmax(axis=2) over
    the last axis (coerced to [N*3, 4]); output = LogSoftmax(Softmax(x*w)*v + c)."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(11)
    w = numpy_helper.from_array((1 + rng.random(4)).astype(np.float32), "w")
    v = numpy_helper.from_array((4 + 4 * rng.random((3, 4))).astype(np.float32), "v")
    c = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "c")
    nodes = [helper.make_node("Mul", ["x", "w"], ["scaled"], name="mul"),
             helper.make_node("Softmax", ["scaled"], ["soft"], name="softmax", axis=1),
             helper.make_node("Mul", ["soft", "v"], ["soft_v"], name="mul_v"),
             helper.make_node("Add", ["soft_v", "c"], ["logits"], name="add_c"),
             helper.make_node("LogSoftmax", ["logits"], ["output"], name="logsoftmax", axis=2)]
    g = helper.make_graph(nodes, "softmax3d_opset11",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, 4])],
                          initializer=[w, v, c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], producer_name="make_fixtures.py")
    m.ir_version = 6
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(MODELS, "softmax3d_opset11.onnx"))


def export_all():
    """Returns list of (name, exporter, base model name or None, output tensor name)."""
    entries = []
    for base in ("mlp", "cnn", "cnn_nopad", "resblock", "sigtanh", "misc"):
        model, shape = fm.build(base)
        export_dynamo(model, shape, os.path.join(MODELS, f"{base}_dynamo.onnx"))
        entries.append((f"{base}_dynamo", "dynamo", base, "output"))
        export_legacy(model, shape, os.path.join(MODELS, f"{base}_legacy.onnx"))
        entries.append((f"{base}_legacy", "legacy", base, "output"))
        export_legacy(model, shape, os.path.join(MODELS, f"{base}_nofold.onnx"), fold=False)
        entries.append((f"{base}_nofold", "legacy-nofold", base, "output"))
        if base in ("sigtanh", "misc"):
            export_legacy(model, shape, os.path.join(MODELS, f"{base}_legacy11.onnx"), opset=11)
            entries.append((f"{base}_legacy11", "legacy-opset11", base, "output"))
        if base == "misc":   # opset 10: Clip min/max, Pad pads/value, Squeeze/Unsqueeze/ReduceMean axes attributes
            export_legacy(model, shape, os.path.join(MODELS, f"{base}_legacy10.onnx"), opset=10)
            entries.append((f"{base}_legacy10", "legacy-opset10", base, "output"))
        if base == "mlp":
            export_dynamo(model, shape, os.path.join(MODELS, "mlp_external.onnx"), external=True)
            entries.append(("mlp_external", "dynamo-external-data", base, "output"))
    make_softmax3d()
    entries.append(("softmax3d_opset11", "handmade", None, "output"))
    sklearn_models()
    entries.append(("sklearn_mlp", "skl2onnx", None, "out_activations_result"))
    entries.append(("sklearn_pipeline", "skl2onnx", None, "out_activations_result"))
    return entries


def make_errors():
    errors = []
    model, shape = fm.build("mlp")
    export_legacy(model, shape, os.path.join(MODELS, "mlp_static.onnx"), dynamic=False, batch=3)
    errors.append({"name": "static_batch", "file": "models/mlp_static.onnx", "fixed_batch": 3,
                   "note": "legacy export without dynamic axes: input declared [3,64]"})
    model, shape = fm.build("cnn")
    export_legacy(model, shape, os.path.join(MODELS, "cnn_static.onnx"), dynamic=False, batch=3)
    errors.append({"name": "static_batch_reshape", "file": "models/cnn_static.onnx", "fixed_batch": 3,
                   "note": "legacy export without dynamic axes: input [3,1,12,12]; the view() Shape chain is "
                           "constant-folded into Reshape with the constant [3,-1], so another batch size cannot run"})
    torch.manual_seed(0)
    em = fm.AtanModel().eval()
    export_legacy(em, (8,), os.path.join(MODELS, "unsupported_op.onnx"))
    errors.append({"name": "unsupported", "file": "models/unsupported_op.onnx", "op": "Atan",
                   "input_shape": [8]})
    with open(os.path.join(MODELS, "mlp_legacy.onnx"), "rb") as f:
        head = f.read(200)
    with open(os.path.join(MODELS, "truncated.onnx"), "wb") as f:
        f.write(head)
    errors.append({"name": "truncated", "file": "models/truncated.onnx", "note": "first 200 bytes of mlp_legacy.onnx"})
    with open(os.path.join(MODELS, "not_onnx.onnx"), "w") as f:
        f.write("This is a plain text file, not an ONNX model.\nModScope must reject it with a clear error.\n")
    errors.append({"name": "not_onnx", "file": "models/not_onnx.onnx"})
    return errors


def save(path, arr, dtype=np.float32):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(np.asarray(arr, dtype=dtype)))


def reference_for(name, exporter, base, out_name, digits_X):
    model = onnx.load(os.path.join(MODELS, name + ".onnx"))   # loads external data too
    in_name = model.graph.input[0].name
    interp = Interpreter(model)
    entry = {"name": name, "file": f"models/{name}.onnx", "input": in_name, "output": out_name,
             "exporter": exporter, "opset": interp.opset, "cases": []}
    if name == "mlp_external":
        entry["external_data"] = "models/mlp_external.onnx.data"
    if base is not None:
        in_shape = list(fm.BUILDERS[base][1])
    elif name.startswith("softmax3d"):
        in_shape = [3, 4]
    else:
        in_shape = [64]
    entry["input_shape"] = in_shape
    for B in BATCHES:
        if name.startswith("softmax3d"):
            x = np.random.default_rng(B).standard_normal((B, 3, 4)).astype(np.float32)
        elif base is None:
            x = digits_X[0:1] if B == 1 else digits_X[100:100 + B]
        else:
            rng = np.random.default_rng(zlib.crc32(f"{base}-{B}".encode()))
            x = rng.standard_normal((B, *in_shape)).astype(np.float32)
        x = np.ascontiguousarray(x, dtype=np.float32)
        env, order = interp.run({in_name: x}, [out_name], requires_grad=True)
        y = env[out_name]
        float_names = [n for n in order if env[n].dtype in FLOAT_TYPES]
        inter = [n for n in float_names if n != in_name]
        ref = ort_intermediates(model, {in_name: x}, inter)
        missing = [n for n in inter if n not in ref]
        assert not missing, f"{name}: ORT did not return {missing}"
        worst = 0.0
        for n in inter:
            a, b = ref[n].astype(np.float64), env[n].detach().numpy()
            assert a.shape == b.shape, (name, n, a.shape, b.shape)
            d = float(np.max(np.abs(a - b))) if a.size else 0.0
            worst = max(worst, d)
            assert d <= TOL, f"{name} b{B}: interpreter vs ORT differ by {d} at {n}"
        rng = np.random.default_rng(zlib.crc32(f"seed-{name}-{B}".encode()))
        dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        grad_names = [n for n in float_names if env[n].requires_grad]
        gs = torch.autograd.grad((y * torch.tensor(dy, dtype=torch.float64)).sum(), [env[n] for n in grad_names],
                                 allow_unused=True)
        if base is not None:   # the interpreter's input gradient must match autograd on the original torch model
            tm = fm.build(base)[0].double()
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            (gx,) = torch.autograd.grad((tm(xt) * torch.tensor(dy, dtype=torch.float64)).sum(), [xt])
            gi = gs[grad_names.index(in_name)]
            err = float((gx - gi).abs().max() / max(1e-12, float(gx.abs().max())))
            assert err < 1e-6, f"{name} b{B}: interpreter input gradient vs torch model: rel err {err}"
        d = os.path.join(ROOT, "reference", name, f"b{B}")
        if os.path.isdir(d):
            shutil.rmtree(d)
        case = {"batch": B, "input": f"reference/{name}/b{B}/input.npy", "tensors": {},
                "seed": f"reference/{name}/b{B}/seed.npy", "gradients": {}}
        save(os.path.join(d, "input.npy"), x)
        save(os.path.join(d, "seed.npy"), dy)
        index = {n: i for i, n in enumerate(float_names)}
        for n in inter:
            fn = f"t{index[n]:03d}.npy"
            save(os.path.join(d, fn), ref[n])
            case["tensors"][n] = f"reference/{name}/b{B}/{fn}"
        for n, g in zip(grad_names, gs):
            if g is None:
                continue
            fn = f"g{index[n]:03d}.npy"
            save(os.path.join(d, fn), g.numpy())
            case["gradients"][n] = f"reference/{name}/b{B}/{fn}"
        assert in_name in case["gradients"] and out_name in case["gradients"], name
        case["max_abs_interpreter_vs_ort"] = worst
        entry["cases"].append(case)
        print(f"  {name} b{B}: {len(inter)} tensors, {len(case['gradients'])} gradients, interp-vs-ORT {worst:.2e}")
    return entry


README = """# ONNX engine fixtures

Generated by `scripts/make_fixtures.py` (do not edit by hand; rerun `/work/venv/bin/python scripts/make_fixtures.py`).

- `manifest.json` `models[]`: `name`, `file`, `input` / `output` (ONNX tensor names; `output` is the tensor that plays
  the model output, `out_activations_result` for skl2onnx), `exporter` (dynamo, legacy, legacy-nofold,
  legacy-opset11, legacy-opset10, dynamo-external-data, handmade, skl2onnx), `opset`, `input_shape` (without batch),
  optional `external_data`, and `cases[]` for batch 1 and 7: `input`, `tensors` {ONNX tensor name: .npy} (every
  float tensor computed by onnxruntime, ORT_DISABLE_ALL; Constant outputs included), `seed` (dy, the output's shape)
  and `gradients` {tensor name: .npy} = d(sum(output * dy))/dt for every float tensor on the input->output path
  (input and output included; float64 autograd, stored float32).
- `errors[]`: files the engine must reject with a clear error (`static_batch` and `static_batch_reshape` only run
  at `fixed_batch`; `unsupported` contains `op`; `truncated`; `not_onnx`).
- All .npy: float32, C order, little-endian, format v1.0.  Inputs/tensors agree with ORT within ~3e-6.
"""


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(MODELS)
    entries = export_all()
    errors = make_errors()
    from sklearn.datasets import load_digits
    digits_X = (load_digits().data / 16.0).astype(np.float32)
    manifest = {"models": [], "errors": errors,
                "notes": {"tolerance": "references from onnxruntime float32; gradients from float64 autograd "
                                       "stored as float32",
                          "index": "t###/g### share the index of the tensor in graph order; index 000 is the "
                                   "graph input (its value is input.npy, its gradient g000.npy)"}}
    for name, exporter, base, out_name in entries:
        manifest["models"].append(reference_for(name, exporter, base, out_name, digits_X))
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(ROOT, "README.md"), "w") as f:
        f.write(README)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"wrote {ROOT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
