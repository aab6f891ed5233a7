"""The bundled digits example: trains two small torch models on sklearn's digits and exports them to ONNX.

Writes examples/digits/:
  data.npy      (1797, 64) float32, sklearn load_digits().data / 16, original order
  images.npy    (1797, 1, 8, 8) float32, the same pixels as images
  labels.npy    (1797,) int64 digit labels (for evaluation only)
  mlp.onnx      64 -> H1 -> ReLU -> H2 -> ReLU -> 10 (logits), dynamo export, inline weights, dynamic batch
  cnn.onnx      1x8x8: Conv-ReLU-MaxPool-Conv-ReLU-MaxPool-Flatten-Linear (logits), same export settings
  README.md     how they were made, tensor names of the hidden layers, accuracies, the NMI check

Checks (printed and written to README.md): test accuracy of both models, and that Captum LayerConductance at the
MLP's first hidden layer (ReLU output, target = predicted class, zero baseline, 50 steps), abs, then sklearn
SpectralCoclustering(k=10) gives sample modules whose NMI against the digit labels is >= 0.85 (also k-means on
the spectral row embedding).

Run:  /work/venv/bin/python scripts/train_digits.py     (deterministic; about a minute on one core)
"""
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "examples", "digits"))

H1, H2 = int(os.environ.get("H1", 64)), int(os.environ.get("H2", 32))
EPOCHS = int(os.environ.get("EPOCHS", 60))
L1 = float(os.environ.get("L1", 0.0))        # L1 penalty on the first hidden layer's activations
WD = float(os.environ.get("WD", 1e-4))
K = 10


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, H1)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(H1, H2)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(H2, 10)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


def train(model, X, y, idx_tr, seed, l1=0.0, epochs=EPOCHS, wd=WD):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=wd)
    Xt, yt = torch.tensor(X[idx_tr]), torch.tensor(y[idx_tr])
    for ep in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            if l1 and isinstance(model, MLP):
                h = model.relu1(model.fc1(Xt[b]))
                out = model.fc3(model.relu2(model.fc2(h)))
                loss = nn.functional.cross_entropy(out, yt[b]) + l1 * h.abs().sum(1).mean()
            else:
                loss = nn.functional.cross_entropy(model(Xt[b]), yt[b])
            loss.backward()
            opt.step()
    return model.eval()


def accuracy(model, X, y):
    with torch.no_grad():
        return float((model(torch.tensor(X)).argmax(1).numpy() == y).mean())


def export(model, shape, path):
    torch.onnx.export(model, (torch.zeros(3, *shape),), path, dynamo=True, external_data=False,
                      input_names=["x"], output_names=["output"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},))


def onnx_names(path, x):
    """Node outputs in graph order with their op types; checks ORT against torch elsewhere."""
    m = onnx.load(path)
    return [(n.op_type, n.output[0]) for n in m.graph.node]


def ort_run(path, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def module_nmi(A, labels, seed=0):
    from sklearn.cluster import SpectralCoclustering, KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi
    keep = A.sum(0) > 0                        # dead neurons give all-zero columns
    M = A[:, keep]
    sc = SpectralCoclustering(n_clusters=K, random_state=seed).fit(M)
    r1 = nmi(labels, sc.row_labels_)
    # k-means on the spectral row embedding (D1^-1/2 U[:, 1:l+1]) as in Dhillon 2001
    d1 = 1.0 / np.sqrt(M.sum(1))
    d2 = 1.0 / np.sqrt(M.sum(0))
    An = d1[:, None] * M * d2[None, :]
    U, s, Vt = np.linalg.svd(An, full_matrices=False)
    ell = int(np.ceil(np.log2(K)))
    Z = np.vstack([d1[:, None] * U[:, 1:ell + 1], d2[:, None] * Vt[1:ell + 1].T])
    km = KMeans(K, n_init=10, random_state=seed).fit(Z)
    r2 = nmi(labels, km.labels_[:M.shape[0]])
    # k-means on the rows of the normalised matrix itself (a simple baseline)
    Rn = M / np.linalg.norm(M, axis=1, keepdims=True)
    r3 = nmi(labels, KMeans(K, n_init=10, random_state=seed).fit(Rn).labels_)
    return r1, r2, r3, int(keep.sum())


def main():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from captum.attr import LayerConductance

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    images = X.reshape(-1, 1, 8, 8).copy()
    idx = np.arange(len(X))
    idx_tr, idx_te = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)

    torch.manual_seed(0)
    mlp = train(MLP(), X, y, idx_tr, seed=1, l1=L1)
    torch.manual_seed(0)
    cnn = train(CNN(), images, y, idx_tr, seed=2, epochs=40, wd=1e-4)
    acc_mlp, acc_cnn = accuracy(mlp, X[idx_te], y[idx_te]), accuracy(cnn, images[idx_te], y[idx_te])
    print(f"MLP {H1}-{H2}: test accuracy {acc_mlp:.4f}   CNN: test accuracy {acc_cnn:.4f}")

    # conductance at the first hidden layer (ReLU output), all samples, target = predicted class
    m64 = __import__("copy").deepcopy(mlp).double()
    xd = torch.tensor(X, dtype=torch.float64)
    with torch.no_grad():
        pred = m64(xd).argmax(1)
    def conductance(layer):
        lc = LayerConductance(m64, layer)
        return np.abs(np.concatenate([lc.attribute(xd[i:i + 256], target=pred[i:i + 256], n_steps=50)
                                      .detach().numpy() for i in range(0, len(X), 256)]))

    A = conductance(m64.relu1)
    nmis = [module_nmi(A, y, seed=s) for s in range(3)]
    nmi_pre = module_nmi(conductance(m64.fc1), y, seed=0)
    print(f"pre-ReLU layer (fc1 output): NMI SpectralCoclustering {nmi_pre[0]:.3f}")
    for s, (r1, r2, r3, live) in enumerate(nmis):
        print(f"seed {s}: NMI SpectralCoclustering {r1:.3f}, k-means on spectral embedding {r2:.3f}, "
              f"k-means on normalised rows {r3:.3f}  ({live}/{H1} live neurons)")
    if os.environ.get("NO_WRITE"):
        return

    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "data.npy"), X)
    np.save(os.path.join(OUT, "images.npy"), images)
    np.save(os.path.join(OUT, "labels.npy"), y)
    export(mlp, (64,), os.path.join(OUT, "mlp.onnx"))
    export(cnn, (1, 8, 8), os.path.join(OUT, "cnn.onnx"))
    for name, model, data in (("mlp", mlp, X), ("cnn", cnn, images)):
        with torch.no_grad():
            ref = model(torch.tensor(data)).numpy()
        err = float(np.abs(ort_run(os.path.join(OUT, f"{name}.onnx"), data) - ref).max())
        assert err < 1e-4, (name, err)
    mlp_nodes = onnx_names(os.path.join(OUT, "mlp.onnx"), X)
    cnn_nodes = onnx_names(os.path.join(OUT, "cnn.onnx"), images)
    fmt = lambda nodes: "\n".join(f"| `{t}` | {op} |" for op, t in nodes)  # noqa: E731
    r1 = [n[0] for n in nmis]
    r2 = [n[1] for n in nmis]
    readme = f"""# Digits example

Made by `scripts/train_digits.py` (`/work/venv/bin/python scripts/train_digits.py`; deterministic, torch seeded,
one thread). Data: scikit-learn `load_digits()` (1797 8×8 images, 10 classes), pixels divided by 16.

| file | content |
|---|---|
| `data.npy` | (1797, 64) float32, `load_digits().data / 16`, original order |
| `images.npy` | (1797, 1, 8, 8) float32, the same pixels as images |
| `labels.npy` | (1797,) int64 digit labels; for evaluation only |
| `mlp.onnx` | Linear 64→{H1}, ReLU, Linear {H1}→{H2}, ReLU, Linear {H2}→10 (logits). Test accuracy **{acc_mlp:.3f}** |
| `cnn.onnx` | input 1×8×8: Conv(1→8,3,pad 1), ReLU, MaxPool 2, Conv(8→16,3,pad 1), ReLU, MaxPool 2, Flatten, Linear 64→10 (logits). Test accuracy **{acc_cnn:.3f}** |

Training: stratified 75/25 split (`train_test_split(test_size=0.25, random_state=0, stratify=labels)`), Adam
lr 2e-3, batch 64, weight decay {WD:g}, {EPOCHS} epochs (MLP) / 40 epochs (CNN){f", L1 penalty {L1:g} on the first hidden layer's activations" if L1 else ""}.
Both models are exported with `torch.onnx.export(..., dynamo=True, external_data=False)`, dynamic batch
(`dynamic_shapes` Dim `batch`), input `x` (float32 [batch, 64] or [batch, 1, 8, 8]), output `output` (logits).

## Tensor names

MLP (`mlp.onnx`); the first hidden layer is `relu` ({H1} units), the second `relu_1` ({H2} units):

| tensor | op |
|---|---|
{fmt(mlp_nodes)}

CNN (`cnn.onnx`); conv layers `conv2d` (8×8×8) and `conv2d_1` (16×4×4), after ReLU `relu` / `relu_1`:

| tensor | op |
|---|---|
{fmt(cnn_nodes)}

## Module check (what `modscope run` should reproduce)

Captum 0.9.0 `LayerConductance` at the MLP's first hidden layer (`relu`, i.e. the ReLU module's output),
50 steps, Gauss–Legendre, zero baseline, target = predicted class, on all 1797 samples (float64), then the
absolute value, dead (all-zero) neuron columns dropped, then `sklearn.cluster.SpectralCoclustering(n_clusters=10)`:
NMI of the sample modules against the digit labels = **{min(r1):.3f}–{max(r1):.3f}** over random_state 0–2
(k-means on the Dhillon spectral embedding: {min(r2):.3f}–{max(r2):.3f}). {nmis[0][3]} of {H1} neurons are live.
At the pre-ReLU tensor `linear` (fc1 output) the same procedure gives NMI {nmi_pre[0]:.3f} (random_state 0).
"""
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(readme)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
