#!/usr/bin/env python3
"""Benchmark of `modscope bicluster` against scikit-learn's SpectralCoclustering, in the same run.

Usage: /work/venv/bin/python scripts/bench_bicluster.py [--bin PATH] [--rows 60000] [--cols 512] [--reps 3]
                                                      [--quality]

- Generates make_biclusters((rows, cols), 10, noise=5, random_state=0), saved as C-order float32 .npy.
- sklearn: SpectralCoclustering(10, random_state=0).fit(X) in a child process (fit time measured inside;
  peak RSS of the child from /usr/bin/time -v, which includes loading X).
- modscope: `bicluster --k 10 --restarts 1` and `--restarts 20` (wall time and peak RSS of the whole process,
  including reading the memory-mapped matrix). Runs are interleaved; min and median of --reps are printed.
- --quality also scores consensus vs the planted truth (ours: defaults; sklearn) and runs `--k auto` on
  make_biclusters((10000, 512), 10, noise=5, random_state=0).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import make_biclusters
from sklearn.metrics import consensus_score

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    cpu = sum(float(re.search(rf"{name} time \(seconds\): ([0-9.]+)", proc.stderr).group(1)) for name in ("User", "System"))
    timed.cpu = cpu
    return wall, rss, proc.stdout


SKLEARN_CHILD = """
import sys, time, numpy as np
from sklearn.cluster import SpectralCoclustering
X = np.load(sys.argv[1])
t = time.perf_counter()
SpectralCoclustering(n_clusters=10, random_state=0).fit(X)
print(time.perf_counter() - t)
"""


def score(out_dir, rows, cols):
    rl = np.load(os.path.join(out_dir, "row_labels.npy"))
    cl = np.load(os.path.join(out_dir, "col_labels.npy"))
    k = json.load(open(os.path.join(out_dir, "modules.json")))["k"]
    return consensus_score((np.array([rl == i for i in range(k)]), np.array([cl == i for i in range(k)])), (rows, cols))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=None)
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--cols", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quality", action="store_true")
    args = ap.parse_args()
    binary = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=os.path.join(HERE, ".."),
                                        capture_output=True, text=True).stdout.strip() + "/modscope"
    tmp = tempfile.mkdtemp(prefix="bench_bicluster_")
    X, rows, cols = make_biclusters((args.rows, args.cols), 10, noise=5, random_state=0)
    path = os.path.join(tmp, "A.npy")
    np.save(path, np.ascontiguousarray(X, dtype=np.float32))
    mib = X.size * 4 / 2**20
    child = os.path.join(tmp, "sk.py")
    open(child, "w").write(SKLEARN_CHILD)
    print(f"matrix {args.rows}x{args.cols} float32 = {mib:.1f} MiB (sklearn works on a float64 copy, {2*mib:.1f} MiB)")
    results = {"sklearn_fit": [], "sklearn_rss": [], "r1": [], "r1_rss": [], "r20": [], "r20_rss": [],
               "r1_cpu": [], "r20_cpu": []}
    for rep in range(args.reps):
        _, rss, out = timed([sys.executable, child, path])
        results["sklearn_fit"].append(float(out.strip())); results["sklearn_rss"].append(rss)
        wall, rss, _ = timed([binary, "bicluster", "--matrix", path, "--k", "10", "--restarts", "1", "--out", os.path.join(tmp, "r1")])
        results["r1"].append(wall); results["r1_rss"].append(rss); results["r1_cpu"].append(timed.cpu)
        wall, rss, _ = timed([binary, "bicluster", "--matrix", path, "--k", "10", "--restarts", "20", "--out", os.path.join(tmp, "r20")])
        results["r20"].append(wall); results["r20_rss"].append(rss); results["r20_cpu"].append(timed.cpu)
        print(f"rep {rep}: sklearn fit {results['sklearn_fit'][-1]:.2f} s; modscope R=1 {results['r1'][-1]:.2f} s, "
              f"R=20 {results['r20'][-1]:.2f} s", flush=True)

    def line(name, key, unit):
        v = results[key]
        return f"{name:32s} min {min(v):8.2f} {unit}  median {statistics.median(v):8.2f} {unit}"
    print(line("sklearn SpectralCoclustering.fit", "sklearn_fit", "s"))
    print(line("modscope bicluster --restarts 1", "r1", "s"))
    print(line("modscope bicluster --restarts 20", "r20", "s"))
    print(line("modscope R=1 CPU (user+sys)", "r1_cpu", "s"))
    print(line("modscope R=20 CPU (user+sys)", "r20_cpu", "s"))
    print(line("sklearn peak RSS", "sklearn_rss", "MiB"))
    print(line("modscope R=1 peak RSS", "r1_rss", "MiB"))
    print(line("modscope R=20 peak RSS", "r20_rss", "MiB"))
    print(f"speed-up R=1 vs sklearn fit (min/min): {min(results['sklearn_fit']) / min(results['r1']):.2f}x")
    print(f"R=20 / R=1 (min/min): {min(results['r20']) / min(results['r1']):.2f}")
    print(f"peak RSS / matrix: modscope R=1 {min(results['r1_rss']) / mib:.2f}, R=20 {min(results['r20_rss']) / mib:.2f}, "
          f"sklearn {min(results['sklearn_rss']) / mib:.2f} (of the float32 size)")
    print(f"consensus vs truth: modscope R=1 {score(os.path.join(tmp, 'r1'), rows, cols):.3f}, "
          f"R=20 {score(os.path.join(tmp, 'r20'), rows, cols):.3f}")

    if args.quality:
        from sklearn.cluster import SpectralCoclustering
        Xq, rq, cq = make_biclusters((10000, 512), 10, noise=5, random_state=0)
        qpath = os.path.join(tmp, "Q.npy")
        np.save(qpath, np.ascontiguousarray(Xq, dtype=np.float32))
        sk = SpectralCoclustering(10, random_state=0).fit(Xq)
        print(f"quality 10000x512: sklearn consensus vs truth {consensus_score(sk.biclusters_, (rq, cq)):.3f}")
        for extra in [["--k", "10", "--restarts", "1", "--embedding", "log2"], ["--k", "10", "--restarts", "1"],
                      ["--k", "10"], ["--k", "auto", "--k-range", "2..20"]]:
            out = os.path.join(tmp, "q")
            wall, rss, stdout = timed([binary, "bicluster", "--matrix", qpath, "--out", out] + extra)
            print(f"  modscope {' '.join(extra):40s} k={json.load(open(out + '/modules.json'))['k']:2d} "
                  f"consensus vs truth {score(out, rq, cq):.3f}  {wall:.2f} s  {rss:.0f} MiB")


if __name__ == "__main__":
    main()
