#!/usr/bin/env python3
"""Builds Tests/ONNXTests/Fixtures/models/elementwise_ops.onnx (opset 20, made with onnx.helper) exercising the
elementwise, comparison, logic and normalisation operators of the registry, and its onnxruntime reference
outputs in Tests/ONNXTests/Fixtures/reference/elementwise_ops.npz (x and every graph output).

Run: /work/venv/bin/python scripts/make_operator_fixtures.py  (CI never runs Python; the outputs are committed)."""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ONNXTests", "Fixtures")
FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def main():
    rng = np.random.default_rng(11)
    inits = {
        "scale": rng.uniform(0.5, 1.5, 6), "bias": rng.uniform(-1, 1, 6), "scale2": rng.uniform(0.5, 1.5, (2, 6)),
        "one": np.array(1.0), "half": np.array(0.5), "mhalf": np.array(-0.5), "zero": np.array(0.0),
        "three": np.array(3.0), "ten": np.array(10.0), "modulus": np.array(0.7), "exps": rng.uniform(-1.5, 2.5, 6),
        "cap": rng.uniform(-0.5, 0.5, 6),
    }
    initializers = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()]
    initializers.append(numpy_helper.from_array(np.array(3, np.int64), "ithree"))
    n = helper.make_node
    nodes = [
        n("LayerNormalization", ["x", "scale", "bias"], ["ln"], axis=-1, epsilon=1e-5),
        n("LayerNormalization", ["x", "scale2"], ["ln2"], axis=1, epsilon=1e-6),
        n("Gelu", ["x"], ["gelu"]), n("Gelu", ["x"], ["gelu_tanh"], approximate="tanh"),
        n("Erf", ["x"], ["erf"]), n("HardSwish", ["x"], ["hardswish"]),
        n("HardSigmoid", ["x"], ["hardsigmoid"], alpha=1 / 6), n("Abs", ["x"], ["abs"]), n("Neg", ["x"], ["neg"]),
        n("Sin", ["x"], ["sin"]), n("Cos", ["x"], ["cos"]), n("Exp", ["x"], ["exp"]),
        n("Add", ["abs", "one"], ["pos"]), n("Sqrt", ["pos"], ["sqrt"]), n("Log", ["pos"], ["log"]),
        n("Reciprocal", ["pos"], ["reciprocal"]), n("Pow", ["pos", "exps"], ["pow"]), n("Pow", ["x", "three"], ["cube"]),
        n("Max", ["x", "gelu", "cap"], ["max"]), n("Min", ["x", "erf"], ["min"]),
        n("Less", ["x", "zero"], ["lt"]), n("Where", ["lt", "x", "gelu"], ["where"]),
        n("Greater", ["x", "half"], ["gt"]), n("LessOrEqual", ["x", "mhalf"], ["le"]),
        n("GreaterOrEqual", ["x", "zero"], ["ge"]), n("And", ["gt", "ge"], ["and"]), n("Or", ["gt", "le"], ["or"]),
        n("Not", ["or"], ["not"]), n("Equal", ["gt", "ge"], ["eq"]), n("Xor", ["lt", "le"], ["xor"]),
        n("Concat", ["lt", "gt", "le", "ge", "and", "or", "not", "eq", "xor"], ["flags"], axis=-1),
        n("Cast", ["flags"], ["logic"], to=FLOAT),
        n("Mod", ["x", "modulus"], ["fmod"], fmod=1),
        n("Mul", ["x", "ten"], ["x10"]), n("Cast", ["x10"], ["xi"], to=INT64),
        n("Mod", ["xi", "ithree"], ["imod_i"], fmod=0), n("Cast", ["imod_i"], ["imod"], to=FLOAT),
        n("Floor", ["x"], ["floor"]), n("Reciprocal", ["floor"], ["inv_floor"]),
        n("IsInf", ["inv_floor"], ["isinf_b"]), n("Cast", ["isinf_b"], ["isinf"], to=FLOAT),
        n("IsNaN", ["x"], ["isnan_b"]), n("Cast", ["isnan_b"], ["isnan"], to=FLOAT),
        n("Cast", ["x"], ["xb"], to=BOOL), n("Cast", ["xb"], ["nonzero"], to=FLOAT),
    ]
    outputs = ["ln", "ln2", "gelu", "gelu_tanh", "erf", "hardswish", "hardsigmoid", "abs", "neg", "sin", "cos", "exp",
               "sqrt", "log", "reciprocal", "pow", "cube", "max", "min", "where", "logic", "fmod", "imod", "isinf",
               "isnan", "nonzero"]
    graph = helper.make_graph(
        nodes, "elementwise_ops", [helper.make_tensor_value_info("x", FLOAT, ["batch", 2, 6])],
        [helper.make_tensor_value_info(o, FLOAT, ["batch", 2, None]) for o in outputs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="make_operator_fixtures")
    model.ir_version = 9
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(ROOT, "models"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "reference"), exist_ok=True)
    onnx.save(model, os.path.join(ROOT, "models", "elementwise_ops.onnx"))
    x = rng.uniform(-3.5, 3.5, (3, 2, 6)).astype(np.float32)
    x[0, 0, :3] = [0.0, 3.0, -3.0]   # kinks and exact zeros (Cast to bool, HardSwish boundaries)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    values = session.run(outputs, {"x": x})
    np.savez(os.path.join(ROOT, "reference", "elementwise_ops.npz"), x=x, **dict(zip(outputs, values)))


if __name__ == "__main__":
    main()
