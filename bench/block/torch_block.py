#!/usr/bin/python3
"""torch_block: the reference block of shared/design/performance.md in PyTorch,
timed for bench/block (bfc). Written from the design's math, the same model as
parity/reference.bf at full size: byte embedding (256) + learned positions,
one block of four pre-RMSNorm residual sub-layers (eps 1e-6, learned scale, no
biases) -- causal attention (4 heads of 64, fused QKV 256->768, out 256->256),
MoE, dense FFN (256->1024->256, erf GELU), MoE -- final RMSNorm, tied head and
mean cross-entropy. MoE: 8 experts of 256->1024->256 GELU, expert choice: p =
softmax(x @ Wg) over experts, each expert takes its 512 = 2048*2/8 tokens of
highest p over all 2048 tokens, output scaled by p and scatter-added back.

Usage: torch_block.py --threads N --runs R --warmup W [--autocast]
Prints one JSON object: median forward and forward+backward ms. --autocast
runs the forward under torch.autocast("cpu", dtype=torch.bfloat16), backward
outside it, parameters float32 (performance.md's bf16 peer).
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

B, S, D, V = 8, 256, 256, 256
H, DH = 4, 64
E, HID = 8, 1024
EPS = 1e-6
CAP = 2


def param(*shape, fan_in=None, value=None):
    if value is not None:
        t = torch.full(shape, value)
    else:
        t = torch.randn(*shape) / math.sqrt(fan_in if fan_in else shape[-2] if len(shape) > 1 else 1)
    return t.requires_grad_()


def rms(x, scale):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * scale


def attention(x, p):
    qkv = (x @ p["qkv"]).view(B, S, 3, H, DH).permute(2, 0, 3, 1, 4)  # 3, B, H, S, DH
    q, k, v = qkv[0], qkv[1], qkv[2]
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(DH))
    s = s.masked_fill(p["mask"], float("-inf"))
    o = torch.softmax(s, dim=-1) @ v  # B, H, S, DH
    return o.transpose(1, 2).reshape(B, S, H * DH) @ p["out"]


def moe(x, p):
    xt = x.reshape(B * S, D)
    prob = torch.softmax(xt @ p["router"], dim=-1)  # T, E
    k = B * S * CAP // E
    gate, idx = torch.topk(prob.t(), k, dim=-1)  # E, k
    xs = xt[idx]  # E, k, D
    h = F.gelu(torch.bmm(xs, p["up"]))
    y = torch.bmm(h, p["down"]) * gate.unsqueeze(-1)
    # The scatter-add buffer takes the experts' dtype (bf16 under autocast).
    out = torch.zeros_like(xt, dtype=y.dtype).index_add(0, idx.reshape(-1), y.reshape(-1, D))
    return out.view(B, S, D)


def ffn(x, p):
    return F.gelu(x @ p["up"]) @ p["down"]


def build():
    torch.manual_seed(1)
    P = {"tok": param(V, D, value=None, fan_in=1), "pos": param(S, D, fan_in=1), "norm": param(D, value=1.0)}
    subs = []
    for kind in ("attn", "moe", "ffn", "moe"):
        p = {"kind": kind, "scale": param(D, value=1.0)}
        if kind == "attn":
            p["qkv"], p["out"] = param(D, 3 * H * DH), param(H * DH, D)
            p["mask"] = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)
        elif kind == "ffn":
            p["up"], p["down"] = param(D, HID), param(HID, D)
        else:
            p["router"], p["up"], p["down"] = param(D, E), param(E, D, HID), param(E, HID, D)
        subs.append(p)
    return P, subs


FN = {"attn": attention, "moe": moe, "ffn": ffn}


def forward(P, subs, tokens, targets):
    h = P["tok"][tokens] + P["pos"][:S]
    for p in subs:
        h = h + FN[p["kind"]](rms(h, p["scale"]), p)
    z = rms(h, P["norm"])
    logits = z @ P["tok"].t()
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def params(P, subs):
    out = [P["tok"], P["pos"], P["norm"]]
    for p in subs:
        out += [v for k, v in p.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    return out


def vmhwm_mib():
    """This process's peak resident set (VmHWM), MiB; 0 where unknown. Not
    ru_maxrss: Linux carries the parent's peak across fork and exec into
    it, so a child of a large Go process would report the parent's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--autocast", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    P, subs = build()
    ps = params(P, subs)
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, V, (B, S), generator=g)
    targets = torch.randint(0, V, (B, S), generator=g)

    def run_forward():
        if a.autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return forward(P, subs, tokens, targets)
        return forward(P, subs, tokens, targets)

    def fwd():
        with torch.no_grad():
            run_forward()

    def fwdbwd():
        for p in ps:
            p.grad = None
        run_forward().backward()

    f = timed(fwd, a.runs, a.warmup)
    fb = timed(fwdbwd, a.runs, a.warmup)
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
               "forward_ms": f, "forward_backward_ms": fb, "vmhwm_mib": vmhwm_mib()}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
