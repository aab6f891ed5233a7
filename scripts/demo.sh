#!/usr/bin/env bash
# The bundled example: the whole pipeline on the digits MLP with 2 local workers.
# Attribution (conductance at the first hidden layer) → biclustering (k = 10, 20 restarts) → evaluation
# (labels only for checking) → runs/demo/report.html. Usage: scripts/demo.sh PATH/TO/modscope
set -euo pipefail
bin=${1:?usage: demo.sh PATH/TO/modscope}
cd "$(dirname "$0")/.."
rm -rf runs/demo
"$bin" run \
  --model examples/digits/mlp.onnx --data examples/digits/data.npy --labels examples/digits/labels.npy \
  --layer relu --method conductance --k 10 --image-shape 8x8 --workers 2 --out runs/demo
echo
echo "Open runs/demo/report.html in a browser (it is self-contained). Files: $(cd runs/demo && printf '%s ' *)"
