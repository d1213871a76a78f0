"""PyTorch bf16 matmul (oneDNN) at the shapes it is asked for; prints JSON.

Run by bfc's bench/sgemm -dtype bf16 as a server, like sgemm.py: one shape
M×K×N per line of stdin, one JSON line {"shape": ..., "seconds": median} per
shape. The operands are bfloat16 tensors made once (so no conversion is
timed); the product is torch.matmul into a bfloat16 output, as autocast runs
a linear layer. Threads: torch.set_num_threads(OMP_NUM_THREADS).
"""
import argparse
import json
import os
import sys
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=5)
p.add_argument("--warmup", type=float, default=0.1, help="seconds of untimed runs per shape first")
a = p.parse_args()
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
torch.manual_seed(1)
mats = {}
for line in sys.stdin:
    s = line.strip()
    if not s:
        continue
    if s not in mats:
        m, k, n = (int(v) for v in s.split("x"))
        mats[s] = (torch.randn(m, k).to(torch.bfloat16), torch.randn(k, n).to(torch.bfloat16),
                   torch.empty(m, n, dtype=torch.bfloat16))
    x, y, z = mats[s]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < a.warmup:
        torch.matmul(x, y, out=z)
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter()
        torch.matmul(x, y, out=z)
        ts.append(time.perf_counter() - t)
    ts.sort()
    print(json.dumps({"shape": s, "seconds": ts[len(ts) // 2]}), flush=True)
