#!/usr/bin/env python3
"""Generates the fixtures of Tests/BiclusteringTests/Fixtures (committed; CI has no Python).

- parity_*.npy: small non-negative planted matrices (so sklearn's negative shift never applies) with
  sklearn 1.9.1 SpectralCoclustering / SpectralBiclustering labels (random_state=0, n_init=10) and the
  planted truth; parity.json lists them with sklearn's consensus_score values.
- digits_conductance.npy: Captum LayerConductance (n_steps=50, target = predicted class) of the hidden
  ReLU layer of a small torch MLP trained on sklearn's digits; digits_labels.npy the digit of each row.

Run: /work/venv/bin/python scripts/make_bicluster_fixtures.py
"""
import json
import os

import numpy as np
from sklearn.cluster import SpectralBiclustering, SpectralCoclustering
from sklearn.datasets import load_digits, make_biclusters, make_checkerboard
from sklearn.metrics import consensus_score

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "BiclusteringTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def save(name, array, dtype):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(array, dtype=dtype))


def masks(rows, cols, k):
    return np.array([rows == i for i in range(k)]), np.array([cols == i for i in range(k)])


cases = []
# Spectral co-clustering parity: (name, shape, k, noise, seed).
for name, shape, k, noise, seed in [
    ("cocluster_a", (300, 100), 5, 5.0, 0),
    ("cocluster_b", (200, 60), 4, 10.0, 1),
    ("cocluster_c", (400, 120), 8, 3.0, 2),
]:
    X, rows, cols = make_biclusters(shape, k, noise=noise, random_state=seed)
    X = np.abs(X).astype(np.float32)
    model = SpectralCoclustering(n_clusters=k, random_state=0, n_init=10).fit(X.astype(np.float64))
    save(f"parity_{name}.npy", X, np.float32)
    save(f"parity_{name}_sk_rows.npy", model.row_labels_, np.int32)
    save(f"parity_{name}_sk_cols.npy", model.column_labels_, np.int32)
    truth_rows = np.argmax(rows, axis=0)
    truth_cols = np.argmax(cols, axis=0)
    save(f"parity_{name}_truth_rows.npy", truth_rows, np.int32)
    save(f"parity_{name}_truth_cols.npy", truth_cols, np.int32)
    cases.append({
        "name": name, "algorithm": "spectral-coclustering", "k": k, "embedding": "log2",
        "sklearn_vs_truth": consensus_score(model.biclusters_, (rows, cols)),
    })

# Spectral biclustering (checkerboard) parity.
for name, shape, k, noise, seed, method in [
    ("checkerboard_a", (200, 80), 3, 2.0, 0, "bistochastic"),
    ("checkerboard_b", (240, 90), 4, 2.0, 1, "log"),
]:
    X, rows, cols = make_checkerboard(shape, k, noise=noise, random_state=seed)
    X = np.abs(X).astype(np.float32)
    model = SpectralBiclustering(n_clusters=k, method=method, random_state=0).fit(X.astype(np.float64))
    save(f"parity_{name}.npy", X, np.float32)
    save(f"parity_{name}_sk_rows.npy", model.row_labels_, np.int32)
    save(f"parity_{name}_sk_cols.npy", model.column_labels_, np.int32)
    cases.append({
        "name": name, "algorithm": "spectral-biclustering", "k": k, "normalization": method,
        "sklearn_vs_truth": consensus_score(model.biclusters_, (rows, cols)),
    })

# consensus_score reference values on two fixed random labelings (checks our contingency implementation).
rng = np.random.RandomState(0)
ra, ca = rng.randint(0, 4, 50), rng.randint(0, 4, 30)
rb, cb = rng.randint(0, 5, 50), rng.randint(0, 5, 30)
score_case = {
    "rows_a": ra.tolist(), "cols_a": ca.tolist(), "rows_b": rb.tolist(), "cols_b": cb.tolist(),
    "score": consensus_score(masks(ra, ca, 4), masks(rb, cb, 5)),
}

# Digits MLP conductance.
import torch
from captum.attr import LayerConductance

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target, dtype=torch.long)
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
for epoch in range(300):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
model.eval()
with torch.no_grad():
    predicted = model(x).argmax(dim=1)
accuracy = float((predicted == y).float().mean())
conductance = LayerConductance(model, model[1]).attribute(x, target=predicted, n_steps=50)
matrix = conductance.detach().numpy().astype(np.float32)
save("digits_conductance.npy", matrix, np.float32)
save("digits_labels.npy", digits.target, np.int32)

with open(os.path.join(OUT, "parity.json"), "w") as f:
    json.dump({"cases": cases, "consensus_score_case": score_case,
               "digits": {"train_accuracy": accuracy, "shape": list(matrix.shape)}}, f, indent=1)
print(json.dumps(cases, indent=1), accuracy, matrix.shape)
