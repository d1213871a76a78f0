#!/usr/bin/python3
"""bfc_torch: an independent PyTorch implementation of bfc's standard dense
Transformer model, for the parity tests of package parity (docs/parity.md).

Written from the block's math (docs/language.md), not from generated Go:

    h   = embed.tokens[tokens] + embed.pos[:S]
    per block i:
        h = h + attn(rms(h) * blocks.i.attn.norm.scale)
        h = h + ffn(rms(h) * blocks.i.ffn.norm.scale)
    z   = rms(h) * norm.scale
    logits = z @ embed.tokens.T                      (tied head)
    loss   = mean cross-entropy over positions with target >= 0

rms(x) = x / sqrt(mean(x^2) + eps). attn: x @ qkv ([d, 3*H*Dh], columns q|k|v,
head h in columns h*Dh..(h+1)*Dh-1 of each part), causal softmax of q k^T /
sqrt(Dh), heads concatenated, then @ out ([H*Dh, d]). ffn: act(x @ up) @ down.
Every matrix is stored [in, out] and applied as x @ W (torch.nn.Linear keeps
[out, in] and computes x @ W.T: transpose when moving weights to nn.Linear).

Usage:
    bfc_torch.py --config JSON --batch BATCH.safetensors --out OUT.safetensors
                 (--params IN.safetensors | --init SEED --write-params P.safetensors)
                 [--dtype float32|float64]

BATCH holds I32 tensors "tokens" and "targets" of shape [B, S]. OUT receives
"loss" (F64, shape [1]), "logits" [B, S, V] and "grad.<param name>" for
every parameter (F32). With --init the parameters are drawn here (torch RNG) and
written to P in bfc's checkpoint layout before the pass.
"""

import argparse
import json
import math
import struct
import sys

import numpy as np
import torch

# ---- a minimal safetensors reader and writer (the `safetensors` package is
# not in Debian): 8-byte little-endian header length, JSON header, raw data.

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}


def st_load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = _DTYPES[e["dtype"]]
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dt).reshape(e["shape"])
        out[name] = arr.copy()
    return out


def st_save(path, tensors, metadata=None):
    inv = {v: k for k, v in _DTYPES.items()}
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        dt = inv[np.dtype(arr.dtype.str)]
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- the model


def param_shapes(cfg):
    d, v, hd = cfg["d"], cfg["vocab"], cfg["heads"] * cfg["head_dim"]
    shapes = {"embed.tokens": [v, d], "embed.pos": [cfg["max_seq"], d]}
    for i in range(cfg["layers"]):
        p = "blocks.%d." % i
        shapes[p + "attn.norm.scale"] = [d]
        shapes[p + "attn.qkv"] = [d, 3 * hd]
        shapes[p + "attn.out"] = [hd, d]
        shapes[p + "ffn.norm.scale"] = [d]
        shapes[p + "ffn.up"] = [d, cfg["hidden"]]
        shapes[p + "ffn.down"] = [cfg["hidden"], d]
    shapes["norm.scale"] = [d]
    return shapes


def init_params(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.scale"):
            # Not ones: a scale of 1 would leave the norm's scale untested.
            t = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            t = 0.05 * torch.randn(shape, generator=g, dtype=torch.float64)
        out[name] = t.to(torch.float32).numpy()
    return out


def rms(x, scale, eps):
    return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps) * scale


def act(name, x):
    if name == "gelu":
        return torch.nn.functional.gelu(x)  # erf form
    if name == "gelu_tanh":
        return torch.nn.functional.gelu(x, approximate="tanh")
    if name == "relu":
        return torch.relu(x)
    if name == "sqrelu":
        return torch.relu(x) ** 2
    if name in ("silu", "swish"):
        return torch.nn.functional.silu(x)
    raise SystemExit("bfc_torch: activation %r not implemented" % name)


def attention(x, qkv, out, heads, head_dim):
    B, S, _ = x.shape
    hd = heads * head_dim
    y = x @ qkv  # [B, S, 3*hd]
    q, k, v = y[..., :hd], y[..., hd : 2 * hd], y[..., 2 * hd :]

    def split(t):  # [B, S, H*Dh] -> [B, H, S, Dh]
        return t.reshape(B, S, heads, head_dim).permute(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(head_dim)
    mask = torch.ones(S, S, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(mask, float("-inf"))
    o = torch.softmax(scores, dim=-1) @ v  # [B, H, S, Dh]
    o = o.permute(0, 2, 1, 3).reshape(B, S, hd)
    return o @ out


def forward(cfg, P, tokens, targets):
    B, S = tokens.shape
    eps = cfg["eps"]
    h = P["embed.tokens"][tokens] + P["embed.pos"][:S].unsqueeze(0)
    for i in range(cfg["layers"]):
        p = "blocks.%d." % i
        h = h + attention(rms(h, P[p + "attn.norm.scale"], eps), P[p + "attn.qkv"], P[p + "attn.out"],
                          cfg["heads"], cfg["head_dim"])
        u = rms(h, P[p + "ffn.norm.scale"], eps) @ P[p + "ffn.up"]
        h = h + act(cfg["act"], u) @ P[p + "ffn.down"]
    z = rms(h, P["norm.scale"], eps)
    logits = z @ P["embed.tokens"].T
    flat_t = targets.reshape(-1)
    keep = flat_t >= 0
    lp = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), dim=-1)
    nll = -lp[keep].gather(1, flat_t[keep].unsqueeze(1)).squeeze(1)
    return nll.mean(), logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--params")
    ap.add_argument("--init", type=int)
    ap.add_argument("--write-params")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    a = ap.parse_args()

    cfg = json.loads(a.config)
    cfg.setdefault("head_dim", cfg["d"] // cfg["heads"])
    cfg.setdefault("hidden", 4 * cfg["d"])
    cfg.setdefault("eps", 1e-6)
    cfg.setdefault("act", "gelu")
    if cfg.get("kind", "dense") != "dense":
        raise SystemExit("bfc_torch: only the dense Transformer model is implemented")

    if a.init is not None:
        raw = init_params(cfg, a.init)
        st_save(a.write_params, raw, {"bfc.format": "1"})
    elif a.params:
        raw = st_load(a.params)
    else:
        raise SystemExit("bfc_torch: need --params or --init")

    shapes = param_shapes(cfg)
    if set(raw) != set(shapes):
        raise SystemExit("bfc_torch: checkpoint tensors %s, want %s" % (sorted(raw), sorted(shapes)))
    dt = getattr(torch, a.dtype)
    P = {}
    for name, shape in shapes.items():
        if list(raw[name].shape) != shape:
            raise SystemExit("bfc_torch: %s has shape %s, want %s" % (name, list(raw[name].shape), shape))
        P[name] = torch.tensor(raw[name], dtype=dt, requires_grad=True)

    batch = st_load(a.batch)
    tokens = torch.tensor(batch["tokens"].astype(np.int64))
    targets = torch.tensor(batch["targets"].astype(np.int64))
    loss, logits = forward(cfg, P, tokens, targets)
    loss.backward()

    out = {
        "loss": np.array([loss.item()], dtype=np.float64),
        "logits": logits.detach().to(torch.float32).numpy(),
    }
    for name, t in P.items():
        out["grad." + name] = t.grad.detach().to(torch.float32).numpy()
    st_save(a.out, out)


if __name__ == "__main__":
    sys.exit(main())
