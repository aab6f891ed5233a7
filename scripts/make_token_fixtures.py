"""Token-model fixtures (issue 12): small random Hugging Face models exported with integer inputs, and Captum
references computed the way Captum users attribute language models -- on a wrapper run from `inputs_embeds`,
with the other inputs (attention mask, token types) passed as additional forward arguments and baselines made
of the [PAD] token's embedding.

Writes Tests/ModScopeTests/Fixtures/tokens/:
  <family>_<flavour>.onnx    bert: BertForSequenceClassification(input_ids, attention_mask, token_type_ids) -> logits
                             gpt2: GPT2LMHeadModel(input_ids, attention_mask) -> logits at the last position
                             dynamo (torch.onnx.export dynamo=True, opset 20) and legacy (dynamo=False, opset 20);
                             dynamic batch axis, T fixed
  <family>_data.npz          N sequences of T tokens, keyed by the input names; bert pads on the right, gpt2 on
                             the left (attention_mask 0 and [PAD] ids at the padded positions)
  <family>_repadded.npz      the same with every padded position's id replaced by another id (mask unchanged)
  <family>_baseline.npz      one sequence: every id [PAD], mask 1, token types 0 (--baseline FILE)
  bad/bert_*.npz             hostile --data / --baseline variants of bert's (bad_inputs below)
Also Tests/ModScopeCLITests/Fixtures/tokens/: bert_legacy.onnx, bert_baseline.npz and bert_many.npz (MANY padded
sequences: several shards) for the command-line run tests.
  <family>_target.npy        int64 (N,): argmax of the float32 model
  <family>_ort.npy           onnxruntime's output of the dynamo export on the data
  expected/<case>.npy        (N, T*D) float32: float64 Captum on the FFN activation, unit granularity
  manifest.json              {"models": [...], "cases": [...]}: each case names the ONNX tensor per flavour and
                             its tolerance, max(1e-4, |Captum float32 - float64| / max |float64|)

Methods: conductance, integrated-gradients (Gauss-Legendre, STEPS points), grad-x-act, activation; layers: the FFN
activation of the first and the last layer.

Run: /work/venv/bin/python scripts/make_token_fixtures.py
"""
import copy
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from onnx_torch_ref import ort_intermediates  # noqa: E402
from captum.attr import LayerActivation, LayerConductance, LayerGradientXActivation, LayerIntegratedGradients  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "ModScopeTests", "Fixtures", "tokens"))
SEED = 5
N, T, VOCAB, PAD, HIDDEN = 4, 8, 50, 0, 32
STEPS = 16
LENGTHS = [8, 6, 5, 3]
METHODS = ["conductance", "integrated-gradients", "grad-x-act", "activation"]
FLAVOURS = ["dynamo", "legacy"]


class FromIds(nn.Module):
    """The exported model: integer inputs in, logits out (a causal LM: at the last position)."""

    def __init__(self, hf, names, last_position):
        super().__init__()
        self.hf, self.names, self.last_position = hf, names, last_position

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        logits = self.hf(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        return logits[:, -1, :] if self.last_position else logits


class FromEmbeddings(nn.Module):
    """Captum's view: inputs_embeds first, the other inputs as additional forward arguments."""

    def __init__(self, hf, names, last_position):
        super().__init__()
        self.hf, self.names, self.last_position = hf, names, last_position

    def forward(self, embeds, *others):
        logits = self.hf(inputs_embeds=embeds, **dict(zip(self.names[1:], others))).logits
        return logits[:, -1, :] if self.last_position else logits


def bert():
    from transformers import BertConfig, BertForSequenceClassification
    config = BertConfig(attn_implementation="eager", vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=16, num_labels=3,
                        pad_token_id=PAD)
    hf = BertForSequenceClassification(config).eval()
    layers = ["hf.bert.encoder.layer.0.intermediate.intermediate_act_fn", "hf.bert.encoder.layer.1.intermediate.intermediate_act_fn"]
    return hf, ["input_ids", "attention_mask", "token_type_ids"], False, "right", layers, hf.bert.embeddings.word_embeddings


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    config = GPT2Config(attn_implementation="eager", vocab_size=VOCAB, n_embd=HIDDEN, n_layer=2, n_head=2,
                        n_positions=16, pad_token_id=PAD, bos_token_id=1, eos_token_id=1)
    hf = GPT2LMHeadModel(config).eval()
    layers = ["hf.transformer.h.0.mlp.act", "hf.transformer.h.1.mlp.act"]
    return hf, ["input_ids", "attention_mask"], True, "left", layers, hf.transformer.wte


def sequences(names, side, generator):
    """input_ids, attention_mask (and token types) with LENGTHS real tokens per row, padded on `side`."""
    ids = torch.randint(1, VOCAB, (N, T), generator=generator)
    mask = torch.zeros(N, T, dtype=torch.int64)
    for i, length in enumerate(LENGTHS):
        real = slice(0, length) if side == "right" else slice(T - length, T)
        mask[i, real] = 1
    ids = torch.where(mask == 1, ids, torch.full_like(ids, PAD))
    inputs = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in names:
        inputs["token_type_ids"] = (torch.arange(T).expand(N, T) >= T // 2).to(torch.int64) * mask
    return [inputs[n] for n in names]


def export(model, inputs, names, path, flavour):
    if flavour == "dynamo":
        batch = torch.export.Dim("batch")
        torch.onnx.export(model, tuple(inputs), path, dynamo=True, external_data=False, opset_version=20,
                          input_names=names, output_names=["output"],
                          dynamic_shapes={n: {0: batch} for n in names})
    else:
        torch.onnx.export(model, tuple(inputs), path, dynamo=False, opset_version=20, input_names=names,
                          output_names=["output"], dynamic_axes={**{n: {0: "batch"} for n in names}, "output": {0: "batch"}})


def layer_tensor(onnx_path, feeds, act):
    """The first ONNX tensor (graph order) whose onnxruntime value equals the hooked activation (to 1e-4 of its
    largest magnitude: onnxruntime and torch round differently)."""
    model = onnx.load(onnx_path)
    names = [o for n in model.graph.node for o in n.output if o]
    values = ort_intermediates(model, feeds, names)
    for name in names:
        v = values.get(name)
        if (isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == act.shape
                and np.abs(v - act).max() <= 1e-4 * max(1.0, float(np.abs(act).max()))):
            return name
    raise AssertionError(f"{onnx_path}: no tensor matches the activation")


def attribute(method, model, layer, embeds, others, baseline, target):
    if method == "conductance":
        a = LayerConductance(model, layer).attribute(embeds, baselines=baseline, target=target, n_steps=STEPS,
                                                     method="gausslegendre", additional_forward_args=tuple(others))
    elif method == "integrated-gradients":
        a = LayerIntegratedGradients(model, layer).attribute(embeds, baselines=baseline, target=target, n_steps=STEPS,
                                                             method="gausslegendre", additional_forward_args=tuple(others))
    elif method == "grad-x-act":
        a = LayerGradientXActivation(model, layer).attribute(embeds, target=target, additional_forward_args=tuple(others))
    else:
        a = LayerActivation(model, layer).attribute(embeds, additional_forward_args=tuple(others))
    return a.detach().reshape(a.shape[0], -1).double()


def save(name, array):
    np.save(os.path.join(ROOT, name), array)


def family(name, build, generator, manifest):
    hf, names, last, side, layers, words = build()
    inputs = sequences(names, side, generator)
    feeds = {n: t.numpy() for n, t in zip(names, inputs)}
    np.savez(os.path.join(ROOT, f"{name}_data.npz"), **feeds)
    repadded = dict(feeds)
    repadded["input_ids"] = np.where(feeds["attention_mask"] == 1, feeds["input_ids"], (feeds["input_ids"] * 7 + 3) % (VOCAB - 1) + 1)
    np.savez(os.path.join(ROOT, f"{name}_repadded.npz"), **repadded)
    base = {"input_ids": np.full((1, T), PAD, np.int64), "attention_mask": np.ones((1, T), np.int64)}
    if "token_type_ids" in names:
        base["token_type_ids"] = np.zeros((1, T), np.int64)
    np.savez(os.path.join(ROOT, f"{name}_baseline.npz"), **base)
    ids_model = FromIds(hf, names, last).eval()
    with torch.no_grad():
        target = ids_model(*inputs).argmax(dim=1)
    save(f"{name}_target.npy", target.numpy())
    paths = {}
    for flavour in FLAVOURS:
        rel = f"{name}_{flavour}.onnx"
        export(ids_model, inputs, names, os.path.join(ROOT, rel), flavour)
        paths[flavour] = rel
    ort_out = ort_intermediates(onnx.load(os.path.join(ROOT, paths["dynamo"])), feeds, ["output"])["output"]
    save(f"{name}_ort.npy", ort_out)
    embeds_model = FromEmbeddings(hf, names, last).eval()
    model64 = copy.deepcopy(embeds_model).double()
    with torch.no_grad():
        embeds = words(inputs[0])
        baseline = words(torch.full_like(inputs[0], PAD))
    others = inputs[1:]
    entry = dict(family=name, data=f"{name}_data.npz", repadded=f"{name}_repadded.npz", baseline=f"{name}_baseline.npz",
                 target=f"{name}_target.npy", ort_output=f"{name}_ort.npy", models=paths, tokens=T, layers=[])
    for index, path in enumerate(layers):
        store = {}
        hook = embeds_model.get_submodule(path).register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach()))
        with torch.no_grad():
            embeds_model(embeds, *others)
        hook.remove()
        tensors = {f: layer_tensor(os.path.join(ROOT, p), feeds, store["a"].numpy()) for f, p in paths.items()}
        entry["layers"].append(dict(torch_layer=path, tensors=tensors, width=int(store["a"].shape[-1])))
        for method in METHODS:
            ref = attribute(method, model64, model64.get_submodule(path), embeds.double(), others, baseline.double(), target)
            low = attribute(method, embeds_model, embeds_model.get_submodule(path), embeds, others, baseline, target)
            f32_error = float((low - ref).abs().max()) / max(float(ref.abs().max()), 1e-30)
            case = f"{name}_{index}_{method}"
            os.makedirs(os.path.join(ROOT, "expected"), exist_ok=True)
            save(f"expected/{case}.npy", ref.numpy().astype(np.float32))
            manifest["cases"].append(dict(id=case, family=name, layer_index=index, method=method, steps=STEPS,
                                          layers=tensors, expected=f"expected/{case}.npy", captum_f32_error=f32_error,
                                          tolerance=max(1e-4, f32_error)))
            print(f"  {case:36s} float32 error {f32_error:.2e}", flush=True)
    manifest["models"].append(entry)


CLI_ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "ModScopeCLITests", "Fixtures", "tokens"))
MANY = 150


def cli_fixtures(generator):
    """The bert legacy export, its baseline and MANY sequences of random length for `modscope run` tests."""
    import shutil
    os.makedirs(CLI_ROOT, exist_ok=True)
    for name in ["bert_legacy.onnx", "bert_baseline.npz"]:
        shutil.copy(os.path.join(ROOT, name), os.path.join(CLI_ROOT, name))
    ids = torch.randint(1, VOCAB, (MANY, T), generator=generator)
    lengths = torch.randint(2, T + 1, (MANY,), generator=generator)
    mask = (torch.arange(T).expand(MANY, T) < lengths[:, None]).to(torch.int64)
    ids = torch.where(mask == 1, ids, torch.full_like(ids, PAD))
    types = (torch.arange(T).expand(MANY, T) >= T // 2).to(torch.int64) * mask
    np.savez(os.path.join(CLI_ROOT, "bert_many.npz"), input_ids=ids.numpy(), attention_mask=mask.numpy(),
             token_type_ids=types.numpy())


def bad_inputs():
    """Variants of bert's data that ModScope must refuse with one sentence and exit 2."""
    os.makedirs(os.path.join(ROOT, "bad"), exist_ok=True)
    data = dict(np.load(os.path.join(ROOT, "bert_data.npz")))
    base = dict(np.load(os.path.join(ROOT, "bert_baseline.npz")))
    variants = {
        "missing_key": {k: v for k, v in data.items() if k != "token_type_ids"},
        "extra_key": {**data, "labels": np.zeros(N, np.int64)},
        "mismatched_n": {**data, "attention_mask": data["attention_mask"][:-1]},
        "float_ids": {**data, "input_ids": data["input_ids"].astype(np.float32)},
        "id_out_of_range": {**data, "input_ids": np.where(np.arange(T) == 2, VOCAB + 5, data["input_ids"])},
        "baseline_two_rows": {k: np.concatenate([v, v]) for k, v in base.items()},
        "baseline_short": {k: v[:, :-1] for k, v in base.items()},
    }
    for name, arrays in variants.items():
        np.savez(os.path.join(ROOT, "bad", f"bert_{name}.npz"), **arrays)


def main():
    os.makedirs(ROOT, exist_ok=True)
    generator = torch.Generator().manual_seed(SEED)
    manifest = dict(models=[], cases=[], steps=STEPS, pad_id=PAD, torch=torch.__version__, captum="0.9.0",
                    notes="expected = float64 Captum from inputs_embeds, stored float32; tolerance relative to max|expected|")
    for name, build in [("bert", bert), ("gpt2", gpt2)]:
        torch.manual_seed(SEED)
        print(name, flush=True)
        family(name, build, generator, manifest)
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    bad_inputs()
    cli_fixtures(generator)


if __name__ == "__main__":
    main()
