#!/usr/bin/env bash
# Renders RUN/report.html in headless Chromium and saves a PNG, to look at the report as a reader would.
# Needs chromium (Debian: apt-get install chromium). Usage: scripts/screenshot-report.sh RUN OUT.png [WIDTHxHEIGHT]
set -euo pipefail
run=${1:?usage: screenshot-report.sh RUN OUT.png [WIDTHxHEIGHT]}
out=${2:?usage: screenshot-report.sh RUN OUT.png [WIDTHxHEIGHT]}
size=${3:-1400x2400}
report=$(cd "$run" && pwd)/report.html
[ -f "$report" ] || { echo "screenshot-report: $report does not exist; run \`modscope report $run\` first" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "screenshot-report: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$(realpath -m "$out")" "file://$report" >/dev/null 2>&1
echo "wrote $out"
