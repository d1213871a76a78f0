"""numpy (OpenBLAS) float32 matmul at the shapes it is asked for; prints JSON.

Run by bfc's bench/sgemm command as a server: python3 sgemm.py --runs R --warmup S
reads one shape M×K×N per line of stdin (512x512x512) and answers each with
one JSON line {"shape": ..., "seconds": median}, so that bfc and numpy can
take turns shape by shape. Threads come from the environment (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS), set by the caller before numpy loads OpenBLAS.
"""
import argparse
import json
import sys
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=5)
p.add_argument("--warmup", type=float, default=0.1, help="seconds of untimed runs per shape first")
a = p.parse_args()
rng = np.random.default_rng(1)
mats = {}
for line in sys.stdin:
    s = line.strip()
    if not s:
        continue
    if s not in mats:
        m, k, n = (int(v) for v in s.split("x"))
        mats[s] = (rng.standard_normal((m, k), dtype=np.float32),
                   rng.standard_normal((k, n), dtype=np.float32),
                   np.empty((m, n), np.float32))
    x, y, z = mats[s]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < a.warmup:
        np.matmul(x, y, out=z)
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter()
        np.matmul(x, y, out=z)
        ts.append(time.perf_counter() - t)
    ts.sort()
    print(json.dumps({"shape": s, "seconds": ts[len(ts) // 2]}), flush=True)
