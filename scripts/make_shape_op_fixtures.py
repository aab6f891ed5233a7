#!/usr/bin/env python3
"""Tiny single-op ONNX models for the shape, index, reduction and kernel operators, with onnxruntime's outputs.

Writes Tests/ONNXTests/Fixtures/ops/*.onnx and ops/manifest.json (inputs and reference outputs inline: every
tensor has at most a few hundred elements). ONNXTests/ShapeOperatorParityTests.swift loads each model, feeds
the inputs and compares every output with onnxruntime's to 1e-5 of its largest magnitude.

Run: /work/venv/bin/python scripts/make_shape_op_fixtures.py   (onnx 1.23, onnxruntime 1.32; seeded, so
re-running reproduces the files bit for bit).
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ONNXTests", "Fixtures", "ops")
RNG = np.random.default_rng(20261201)
TYPES = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("int64"): TensorProto.INT64}


def rand(*shape):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32)


def ints(values):
    return np.array(values, dtype=np.int64)


def build(name, op, inputs, outputs, opset, constants=None, attrs=None, batch_symbolic=()):
    """One-node model. `inputs`: list of (name, array) graph inputs — or None for an omitted optional input;
    `constants`: name → array initializers (also node inputs, in the order given by `order`)."""
    constants = constants or {}
    node_inputs = [n if n is not None else "" for n, _ in inputs]
    graph_inputs = []
    for n, array in inputs:
        if n is None or n in constants:
            continue
        dims = ["N" if i in batch_symbolic else d for i, d in enumerate(array.shape)]
        graph_inputs.append(helper.make_tensor_value_info(n, TYPES[array.dtype], dims))
    node = helper.make_node(op, node_inputs, outputs, **(attrs or {}))
    graph = helper.make_graph(
        [node], name, graph_inputs,
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in constants.items()])
    return typed(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8))


def typed(model):
    """Fills the graph outputs' types from ONNX shape inference (the checker requires them)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for output in model.graph.output:
        if output.name in known and known[output.name].type.HasField("tensor_type"):
            output.CopyFrom(known[output.name])
    return model


def encode(array):
    array = np.asarray(array)
    kind = "int64" if array.dtype.kind in "iub" else "float32"
    return {"dtype": kind, "shape": list(array.shape), "data": array.astype(kind).ravel().tolist()}


CASES = []


def case(name, model, feeds_list):
    """Records the model and onnxruntime's outputs for each feed dictionary."""
    onnx.checker.check_model(model)
    path = os.path.join(ROOT, name + ".onnx")
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    runs = []
    for feeds in feeds_list:
        results = session.run(names, feeds)
        runs.append({"inputs": {k: encode(v) for k, v in feeds.items()},
                     "outputs": {n: encode(r) for n, r in zip(names, results)}})
    CASES.append({"name": name, "file": "ops/" + name + ".onnx", "runs": runs})


def single(name, op, data, opset=17, constants=None, attrs=None, outputs=("y",), extra=()):
    """A one-op model whose first input `x` is fed; further inputs are constants (initializers)."""
    constants = dict(constants or {})
    inputs = [("x", data)] + [(n, constants[n]) if n is not None else (None, None) for n in extra]
    case(name, build(name, op, inputs, list(outputs), opset, constants, attrs), [{"x": data}])


def shape_cases():
    single("expand", "Expand", rand(3, 1), constants={"s": ints([2, 1, 4])}, extra=["s"])
    single("expand_int", "Expand", ints([[4], [5]]), constants={"s": ints([2, 3])}, extra=["s"])
    single("tile", "Tile", rand(2, 3), constants={"r": ints([2, 2])}, extra=["r"])
    x = rand(2, 7)
    single("split13", "Split", x[:, :6], opset=13, constants={"s": ints([2, 4])}, attrs={"axis": 1}, outputs=("a", "b"), extra=["s"])
    single("split11", "Split", x[:, :6], opset=11, attrs={"axis": -1, "split": [1, 5]}, outputs=("a", "b"))
    single("split18", "Split", x, opset=18, attrs={"axis": 1, "num_outputs": 3}, outputs=("a", "b", "c"))
    single("split_equal", "Split", x[:, :6], opset=13, attrs={"axis": 1}, outputs=("a", "b", "c"))
    start, limit, delta = np.float32(-1.5), np.float32(2.0), np.float32(0.5)
    model = build("range_float", "Range", [("s", start), ("l", limit), ("d", delta)], ["y"], 17)
    case("range_float", model, [{"s": np.array(start), "l": np.array(limit), "d": np.array(delta)}])
    model = build("range_int", "Range", [("s", ints(7)), ("l", ints(-3)), ("d", ints(-3))], ["y"], 17)
    case("range_int", model, [{"s": ints(7), "l": ints(-3), "d": ints(-3)}])


def index_cases():
    single("gather_elements", "GatherElements", rand(3, 4), constants={"i": ints([[0, -1], [3, 3], [1, 2]])},
           attrs={"axis": 1}, extra=["i"])
    single("gather_nd", "GatherND", rand(3, 4, 2), constants={"i": ints([[0, 1], [2, -1]])}, extra=["i"])
    single("gather_nd_batch", "GatherND", rand(2, 3, 4), constants={"i": ints([[[2], [0]], [[1], [1]]])},
           attrs={"batch_dims": 1}, extra=["i"])
    data, updates = rand(4, 3), rand(2, 3)
    model = build("scatter_nd", "ScatterND", [("x", data), ("i", ints([[1], [3]])), ("u", updates)], ["y"], 16,
                  {"i": ints([[1], [3]])})
    case("scatter_nd", model, [{"x": data, "u": updates}])
    for upper in (0, 1):
        single(f"trilu_upper{upper}", "Trilu", rand(2, 4, 5), opset=14, constants={"k": ints(-1 if upper else 1)},
               attrs={"upper": upper}, extra=["k"])
    for exclusive in (0, 1):
        for reverse in (0, 1):
            single(f"cumsum_e{exclusive}_r{reverse}", "CumSum", rand(3, 4), opset=14, constants={"a": ints(1)},
                   attrs={"exclusive": exclusive, "reverse": reverse}, extra=["a"])


def reduction_cases():
    ops = ["ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceProd", "ReduceSumSquare", "ReduceLogSumExp"]
    x = rand(2, 3, 4) + np.float32(0.1)
    for op in ops:
        base = op[len("Reduce"):].lower()
        single(f"{base}_attr", op, x, opset=17, attrs={"axes": [0, -1], "keepdims": 0})
        single(f"{base}_input", op, x, opset=18, constants={"a": ints([1])}, extra=["a"])
        single(f"{base}_all", op, x, opset=18, attrs={"keepdims": 0})
        single(f"{base}_noop", op, x, opset=18, attrs={"noop_with_empty_axes": 1})


def two_input(name, op, a, b, opset=17, attrs=None):
    model = build(name, op, [("a", a), ("b", b)], ["y"], opset, attrs=attrs)
    case(name, model, [{"a": a, "b": b}])


def contraction_cases():
    two_input("einsum_attention", "Einsum", rand(2, 2, 3, 4), rand(2, 2, 5, 4), attrs={"equation": "bhqd,bhkd->bhqk"})
    two_input("einsum_maxvit", "Einsum", rand(1, 2, 2, 3, 4), rand(1, 2, 2, 5, 4),
              attrs={"equation": "B G H I D, B G H J D -> B G H I J"})
    two_input("einsum_ellipsis", "Einsum", rand(2, 3, 4), rand(1, 4, 2), attrs={"equation": "...ij,...jk->...ik"})
    single("einsum_sum", "Einsum", rand(3, 4), opset=17, attrs={"equation": "ij->j"})
    two_input("matmul_4d", "MatMul", rand(2, 1, 3, 4), rand(1, 2, 4, 5))
    two_input("matmul_shared", "MatMul", rand(2, 3, 4), rand(4, 5))
    two_input("matmul_left", "MatMul", rand(3, 4), rand(2, 4, 5))
    single("softmax_axis1", "Softmax", rand(2, 3, 4), opset=13, attrs={"axis": 1})
    single("logsoftmax_axis0", "LogSoftmax", rand(2, 3, 4), opset=13, attrs={"axis": 0})


def kernel_cases():
    x, w = rand(2, 4, 7, 7), rand(4, 1, 3, 3)
    model = build("conv_depthwise_dilated", "Conv", [("x", x), ("w", w)], ["y"], 17, {"w": w},
                  {"group": 4, "dilations": [2, 2], "pads": [2, 1, 2, 1], "kernel_shape": [3, 3]})
    case("conv_depthwise_dilated", model, [{"x": x}])
    single("avgpool_ceil", "AveragePool", rand(1, 2, 7, 7),
           attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1, "count_include_pad": 0})
    single("maxpool_dilated", "MaxPool", rand(1, 2, 8, 8),
           attrs={"kernel_shape": [2, 2], "strides": [2, 2], "dilations": [2, 2], "ceil_mode": 1})


def position_ids_case():
    """Position ids as HF exports them: Shape → Gather(1) → Range(0, T) → Unsqueeze → Expand(Shape(x)) → Cast →
    Add. Every node but the last depends only on shapes: with a symbolic batch it must work at any batch size."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["t"], axis=0),
        helper.make_node("Range", ["zero", "t", "one"], ["ids"]),
        helper.make_node("Unsqueeze", ["ids", "zero_axis"], ["row"]),
        helper.make_node("Expand", ["row", "shape"], ["grid"]),
        helper.make_node("Cast", ["grid"], ["grid_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x", "grid_f"], ["y"]),
    ]
    constants = [numpy_helper.from_array(ints(1), "one"), numpy_helper.from_array(ints(0), "zero"),
                 numpy_helper.from_array(ints([0]), "zero_axis")]
    graph = helper.make_graph(
        nodes, "position_ids", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    case("position_ids", model, [{"x": rand(2, 5)}, {"x": rand(5, 5)}])


def main():
    os.makedirs(ROOT, exist_ok=True)
    shape_cases()
    index_cases()
    reduction_cases()
    contraction_cases()
    kernel_cases()
    position_ids_case()
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump({"cases": CASES}, f, indent=1)
    print(f"wrote {len(CASES)} models to {ROOT}")


if __name__ == "__main__":
    main()
