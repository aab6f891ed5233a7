#!/usr/bin/env bash
# Parallel efficiency of the distributed attribution: `modscope attribute` on one thread against
# `modscope run` with N single-threaded local workers, on an MLP 784-1024-1024-10 (conductance, 50 steps, last
# hidden layer). Efficiency = T_attribute / (N · T_attribution stage of the run). Also checks the two matrices are
# byte-identical. Needs the venv with torch (to export the model once) and a release build.
#   swift build -c release --product modscope
#   scripts/bench_parallel.sh [SAMPLES] [WORKERS]
set -euo pipefail
samples=${1:-8192}
workers=${2:-2}
python=${PYTHON:-/work/venv/bin/python}
bin=${BIN:-.build/release/modscope}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" - "$work" "$samples" <<'PY' 2>/dev/null
import sys, numpy as np, torch, torch.nn as nn
folder, n = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
m = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)).eval()
x = np.random.default_rng(0).random((n, 784), dtype=np.float32)
np.save(f"{folder}/x.npy", x)
torch.onnx.export(m, (torch.tensor(x[:2]),), f"{folder}/mlp.onnx", dynamo=False, input_names=["x"],
                  output_names=["output"], dynamic_axes={"x": {0: "batch"}})
PY
layer=/3/Relu_output_0
start=$(date +%s.%N)
"$bin" attribute --model "$work/mlp.onnx" --data "$work/x.npy" --layer $layer --threads 1 --quiet --out "$work/single.npy"
single=$(echo "$(date +%s.%N) - $start" | bc)
"$bin" run --model "$work/mlp.onnx" --data "$work/x.npy" --layer $layer --workers "$workers" --worker-threads 1 \
  --k 3 --restarts 1 --quiet --out "$work/run" >/dev/null
stage=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stages']['attribution']['seconds'])" "$work/run/run.json")
cmp -s "$work/single.npy" "$work/run/matrix.npy" && same=yes || same=NO
echo "samples $samples: attribute (1 thread) ${single} s; run with $workers workers: attribution stage ${stage} s"
python3 -c "print(f'parallel efficiency {float($single)/($workers*float($stage))*100:.0f}%; matrices byte-identical: $same')"
