"""numpy (OpenBLAS) float32 matmul at the given shapes; prints JSON.

Run by bfc's bench/sgemm command: python3 sgemm.py --threads N --runs R --warmup S --shapes 512x512x512,...
(shapes M×K×N). Threads come from the environment (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS), set by the caller before numpy loads OpenBLAS.
"""
import argparse
import json
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--warmup", type=float, default=0.1, help="seconds of untimed runs per shape first")
p.add_argument("--shapes", required=True)
a = p.parse_args()
res = []
rng = np.random.default_rng(1)
for s in a.shapes.split(","):
    m, k, n = (int(v) for v in s.split("x"))
    x = rng.standard_normal((m, k), dtype=np.float32)
    y = rng.standard_normal((k, n), dtype=np.float32)
    z = np.empty((m, n), np.float32)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < a.warmup:
        np.matmul(x, y, out=z)
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter()
        np.matmul(x, y, out=z)
        ts.append(time.perf_counter() - t)
    ts.sort()
    res.append({"shape": s, "seconds": ts[len(ts) // 2]})
print(json.dumps({"threads": a.threads, "results": res}))
