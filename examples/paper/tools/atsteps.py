#!/usr/bin/env python3
"""Held-out bits per byte of every model of a bfc compare output at the same
number of steps: each run's periodic held-out evaluations (train.jsonl,
-eval-time) interpolated linearly at STEPS, then mean and sample sd over
seeds. Usage: atsteps.py OUT_DIR STEPS"""
import glob, json, os, statistics, sys

out, at = sys.argv[1], int(sys.argv[2])
models = {}
for log in sorted(glob.glob(os.path.join(out, "runs", "*", "train.jsonl"))):
    if not os.path.exists(os.path.join(os.path.dirname(log), "result.json")):
        continue  # unfinished
    name = os.path.basename(os.path.dirname(log)).rsplit("-seed", 1)[0]
    pts = []
    for line in open(log):
        r = json.loads(line)
        if r.get("heldout_bpb") is not None:
            pts.append((r["step"], r["heldout_bpb"]))
    pts.sort()
    v = None
    for (s0, b0), (s1, b1) in zip(pts, pts[1:]):
        if s0 <= at <= s1:
            v = b0 + (b1 - b0) * (at - s0) / (s1 - s0)
            break
    if v is None:
        sys.exit("%s: no held-out evaluations around step %d" % (log, at))
    models.setdefault(name, []).append(v)
print("| model | held-out bpb at step %d (mean ± sd) | runs |" % at)
print("|---|---|---|")
for name, vs in models.items():
    sd = statistics.stdev(vs) if len(vs) > 1 else float("nan")
    print("| %s | %.3f ± %.3f | %d |" % (name, statistics.mean(vs), sd, len(vs)))
