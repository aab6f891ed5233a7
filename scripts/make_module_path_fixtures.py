"""Fixtures for module paths as layers (issue: work the way researchers work).

Exports torchvision's ResNet-18 structure (BasicBlock, [2, 2, 2, 2]; every module name as in `resnet18()`),
with every width divided by WIDTH_DIVISOR so the files stay small, through both torch exporters, and records for
each export which ONNX tensor is the output of the PyTorch modules `layer3` and `layer2.1` — found here
independently of ModScope: the last node whose scope (the dynamo exporter's `pkg.torch.onnx.name_scopes`
metadata, the legacy exporter's `/layer3/...` node names) lies inside the module, checked against the module's
forward-hook output through onnxruntime.

    /work/venv/bin/python scripts/make_module_path_fixtures.py

writes Tests/ModScopeCLITests/Fixtures/module_paths/{resnet18_w8_legacy.onnx, resnet18_w8_dynamo.onnx,
data.npy, manifest.json}.
"""
import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

WIDTH_DIVISOR = 8  # 64..512 channels become 8..64: ~0.18 M parameters, ~0.7 MB per export.
IMAGE = 32         # input side in pixels
SAMPLES = 6
MODULES = ["layer3", "layer2.1"]
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModScopeCLITests", "Fixtures", "module_paths")


class NarrowResNet18(ResNet):
    """torchvision's ResNet with resnet18's blocks and module names, every width divided by `divisor`."""

    def __init__(self, divisor: int, num_classes: int = 10):
        self.divisor = divisor
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        stem = 64 // divisor
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.fc = nn.Linear(512 // divisor, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        if planes == 64:  # the first stage: ResNet.__init__ set inplanes to the full stem width
            self.inplanes = 64 // self.divisor
        return super()._make_layer(block, planes // self.divisor, blocks, stride, dilate)


def scope_of(node: onnx.NodeProto) -> list:
    """The module paths containing `node`, outermost first (the same two sources ModScope reads)."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            items = [s.strip(" '\"") for s in prop.value.strip("[]").split(",")]
            return [s for s in items[:-1] if s]
    if node.name.startswith("/"):
        return [part for part in node.name.split("/")[1:-1]]
    return []


def module_output(model: onnx.ModelProto, module: str, legacy: bool) -> str:
    """The output tensor of the last node inside `module` (topological order = the module's result)."""
    last = None
    for node in model.graph.node:
        scopes = scope_of(node)
        if legacy:
            # Legacy names are relative: /layer2/layer2.1/relu_1/Relu lies in layer2.1.
            inside = module in scopes or (scopes and scopes[0] == module)
        else:
            inside = module in scopes
        if inside and node.op_type != "Constant":
            last = node
    assert last is not None, f"no node inside {module}"
    return last.output[0]


def hook_output(model: nn.Module, module: str, x: torch.Tensor) -> np.ndarray:
    captured = {}
    handle = model.get_submodule(module).register_forward_hook(lambda _m, _i, out: captured.setdefault("y", out))
    with torch.no_grad():
        model(x)
    handle.remove()
    return captured["y"].numpy()


def export(model: nn.Module, x: torch.Tensor, path: str, dynamo: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(model, (x,), path, dynamo=True, opset_version=20, input_names=["x"],
                              output_names=["logits"], dynamic_shapes={"x": {0: batch}}, external_data=False)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})


def with_intermediate_outputs(model: onnx.ModelProto, names: list) -> bytes:
    extended = onnx.ModelProto()
    extended.CopyFrom(model)
    for name in names:
        extended.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return extended.SerializeToString()


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = NarrowResNet18(WIDTH_DIVISOR).eval()
    x = torch.rand(SAMPLES, 3, IMAGE, IMAGE)
    np.save(os.path.join(OUT, "data.npy"), x.numpy().astype(np.float32))
    manifest = {"models": []}
    for exporter in ["legacy", "dynamo"]:
        name = f"resnet18_w{WIDTH_DIVISOR}_{exporter}.onnx"
        path = os.path.join(OUT, name)
        export(model, x[:2], path, dynamo=exporter == "dynamo")
        proto = onnx.load(path)
        tensors = {m: module_output(proto, m, exporter == "legacy") for m in MODULES}
        session = ort.InferenceSession(with_intermediate_outputs(proto, list(tensors.values())))
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x.numpy()})))
        for module, tensor in tensors.items():
            error = np.abs(outputs[tensor] - hook_output(model, module, x)).max()
            assert error < 1e-4, f"{exporter}: {tensor} is not {module}'s output ({error})"
        manifest["models"].append({"file": name, "exporter": exporter, "module_outputs": tensors,
                                   "input": "x", "input_shape": [3, IMAGE, IMAGE]})
        print(f"{name}: {os.path.getsize(path)} bytes, {tensors}")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
