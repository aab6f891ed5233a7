#!/usr/bin/env bash
# Coordinator throughput with no-op synthetic workers (runtime overhead only), in shards/s and MB/s.
# Usage: scripts/bench_runtime.sh [MODSCOPE_BINARY]   (default: the release build)
# Each case runs `modscope run --synthetic-noop`; the figures come from the wall time of the whole run
# (coordinator start → last commit fsync'd → workers reaped), so they include process start-up.
set -euo pipefail
bin=${1:-$(swift build -c release --show-bin-path)/modscope}
# The run folder lives in RAM (/dev/shm) by default so the figures measure the runtime, not the disk;
# MSBENCH_DIR=/some/disk measures with real fdatasync costs.
base=${MSBENCH_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )}
credit=${MSBENCH_CREDIT:-8}
work=$(mktemp -d "$base/msbench.XXXX")
trap 'rm -rf "$work"' EXIT

bench() {  # name rows columns shard_size workers
  local name=$1 rows=$2 cols=$3 shard=$4 workers=$5 out="$work/$1"
  local start end
  start=$(date +%s.%N)
  "$bin" run --synthetic "$rows,$cols" --synthetic-noop --shard-size "$shard" --workers "$workers" \
    --out "$out" --quiet --worker-threads 1 --worker-credit "$credit" >/dev/null
  rm -rf "$out"
  end=$(date +%s.%N)
  python3 - "$name" "$rows" "$cols" "$shard" "$workers" "$start" "$end" <<'PY'
import sys
name, rows, cols, shard, workers, start, end = sys.argv[1:]
rows, cols, shard, workers = int(rows), int(cols), int(shard), int(workers)
secs = float(end) - float(start)
shards = -(-rows // shard)
mb = rows * cols * 4 / 1e6
print(f"{name:<22} {shards:>7} shards of {shard:>5}×{cols:<6} {workers} workers  {secs:6.2f} s  "
      f"{shards / secs:9.0f} shards/s  {mb / secs:8.1f} MB/s")
PY
}

echo "modscope runtime benchmark — $(nproc) cores, run folder in $base, worker credit $credit, $(date -u +%FT%TZ)"
bench small-shards    50000    16    1 2   # per-message overhead: tiny results
bench medium-shards  100000   256   16 2
bench large-results    8192 65536   16 2   # 4 MiB results: bandwidth (chunks, CRC, pwrite, fdatasync)
