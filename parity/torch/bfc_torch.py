#!/usr/bin/python3
"""bfc_torch: an independent PyTorch implementation of bfc's standard blocks
(Transformer, GLaM, Switch, Brainformer6 and Brainformer8) and the models
stacking them, for the parity tests of package parity (docs/parity.md).

Written from the blocks' math (docs/language.md, stdlib/*.bf and the routing
rules of ../shared/design/brainformer.md), not from generated Go:

    h   = embed.tokens[tokens] + embed.pos[:S]
    per block i, per sub-layer L of the block:
        h = h + f_L(rms(h) * blocks.i.L.norm.scale)
    z   = rms(h) * norm.scale
    logits = z @ embed.tokens.T (tied head) or z @ head.weight (untied)
    loss   = mean cross-entropy over positions with target >= 0
             + per moe layer: aux * balance + zloss * z

rms(x) = x / sqrt(mean(x^2) + eps). attn: x @ qkv ([d, 3*H*Dh], columns q|k|v,
head h in columns h*Dh..(h+1)*Dh-1 of each part), causal softmax of q k^T /
sqrt(Dh), heads concatenated, then @ out ([H*Dh, d]). ffn: act(x @ up) @ down;
gated (reglu, geglu, swiglu): act(x @ up[:, :h]) * (x @ up[:, h:]) @ down.
Every matrix is stored [in, out] and applied as x @ W (torch.nn.Linear keeps
[out, in] and computes x @ W.T: transpose when moving weights to nn.Linear).

moe: p = softmax(x @ router) per token ([d, E]); tokens t = b*S + s route in
groups (batch: all, batch-major; sequence: each sequence; position: each
position across the batch, in batch order). Expert choice: in each group of n
every expert takes its k = floor(n*c/E + 1e-9) tokens of highest p (ties to
the earlier member), gate p raw. Top-k: each token picks its k experts of
highest p (ties to the lower expert), gates renormalised over the k (k = 1:
the raw p); per group each expert has C = ceil(k*n*c/E - 1e-9) places, given
to all first choices in group order, then all second choices, ...; a choice
that finds its expert full is dropped. Output: sum over a token's placed
choices of gate * ffn_e(x) (experts.up [E, d, H1], experts.down [E, H, d]).
balance = E * sum_e f_e * P_e (f_e: share of tokens whose first choice is e,
no gradient; P_e: mean p_e); z = mean over tokens of logsumexp(x @ router)^2.

Usage:
    bfc_torch.py --config JSON --batch BATCH.safetensors --out OUT.safetensors
                 (--params IN.safetensors | --init SEED --write-params P.safetensors)
                 [--dtype float32|float64] [--autocast] [--adamw JSON]

BATCH holds I32 tensors "tokens" and "targets" of shape [B, S]. OUT receives
"loss" (F64, shape [1]; with the router losses), "ce" (F64, the
cross-entropy alone), "logits" [B, S, V], "grad.<param name>" for every
parameter (F32) and, per moe layer L, its routing decisions (I32):
"route.L.load" [E], "route.L.per_token" [4] (tokens with 0, 1, 2, 3+ experts),
"route.L.dropped" [1], "route.L.taken" [E, T] (1 where expert e processed
token t = b*S + s) and, for top-k, "route.L.drop" [T, K] (1 where the choice
of rank r of token t was dropped), and the router probabilities
"route.L.probs" [T, E] (F32). With --adamw it also writes
"adamw.<param name>", the parameters after that many AdamW steps on the batch
(their own gradients, or the gradients of step i from the file named by the
"grads" key).
With --init the parameters are drawn here (torch RNG) and written to P in
bfc's checkpoint layout before the pass.
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
#
# A model is embed, blocks, final RMSNorm, head. Each block is a list of
# sub-layers, each a pre-RMSNorm residual branch h = h + f(rms(h) * scale):
#   {"name", "type": "attn", "heads", "head_dim"}
#   {"name", "type": "ffn", "hidden", "act"}
#   {"name", "type": "moe", "experts", "hidden", "act", "rule": "expert_choice"|"top_k",
#    "k", "capacity", "group": "batch"|"sequence"|"position", "aux", "zloss"}
# The standard library's blocks expand into such lists in std_block, from the
# block definitions of stdlib/*.bf (their documented defaults).

GATED = {"reglu": "relu", "geglu": "gelu", "swiglu": "silu"}


def std_block(b):
    """Sub-layers of a standard block; b: {"block": NAME, parameters...}, or
    {"block": "layers", "sublayers": [...]} for a block written out."""
    if b["block"] == "layers":  # a block of the test's own, its sub-layers spelled out
        return b["sublayers"]
    name, d, heads = b["block"], b["d"], b["heads"]
    hd = b.get("head_dim", d // heads)

    def attn(n):
        return {"name": n, "type": "attn", "heads": heads, "head_dim": hd}

    def moe(n, hidden, act, rule, **kw):
        return dict({"name": n, "type": "moe", "experts": b["experts"], "hidden": hidden,
                     "act": act, "rule": rule, "zloss": b.get("zloss", 0.0)}, **kw)

    if name in ("Transformer", "GatedTransformer"):  # std/transformer.bf
        act = "gelu" if name == "Transformer" else "geglu"
        return [attn("attn"), {"name": "ffn", "type": "ffn", "hidden": b.get("hidden", 4 * d),
                               "act": b.get("act", act)}]
    if name == "GLaM":  # std/glam.bf: attention, top-2 moe by position, attention, GEGLU ffn
        h = b.get("hidden", 4 * d)
        return [attn("attn1"),
                moe("moe", h, "gelu", "top_k", k=2, capacity=b.get("capacity", 1.25),
                    group="position", aux=b.get("aux", 0.01)),
                attn("attn2"), {"name": "ffn", "type": "ffn", "hidden": h, "act": "geglu"}]
    if name == "Switch":  # std/switch.bf: attention, top-1 moe over the batch
        return [attn("attn"),
                moe("moe", b.get("hidden", 4 * d), b.get("act", "relu"), "top_k", k=1,
                    capacity=b.get("capacity", 1.25), group="batch", aux=b.get("aux", 0.01))]
    if name in ("Brainformer6", "Brainformer8"):  # std/brainformer.bf
        h, fh = b.get("hidden", 2 * d), b.get("ffn_hidden", 2 * d)

        def ec(n):
            return moe(n, h, b.get("act", "gelu"), "expert_choice", capacity=b.get("capacity", 1.0),
                       group="position", aux=0.0)

        def ffn(n):
            return {"name": n, "type": "ffn", "hidden": fh, "act": b.get("ffn_act", "geglu")}

        if name == "Brainformer6":
            return [attn("attn"), ec("moe1"), ffn("ffn1"), ec("moe2"), ffn("ffn2"), ec("moe3")]
        return [attn("attn1"), ec("moe1"), ffn("ffn1"), ec("moe2"), attn("attn2"), ec("moe3"),
                ffn("ffn2"), ec("moe4")]
    raise SystemExit("bfc_torch: unknown block %r" % name)


def param_shapes(cfg):
    d, v = cfg["d"], cfg["vocab"]
    shapes = {"embed.tokens": [v, d], "embed.pos": [cfg["max_seq"], d]}
    for i, block in enumerate(cfg["blocks"]):
        for sub in block:
            p = "blocks.%d.%s." % (i, sub["name"])
            shapes[p + "norm.scale"] = [d]
            t = sub["type"]
            if t == "attn":
                hd = sub["heads"] * sub["head_dim"]
                shapes[p + "qkv"] = [d, 3 * hd]
                shapes[p + "out"] = [hd, d]
            elif t == "ffn":
                h1 = sub["hidden"] * (2 if sub["act"] in GATED else 1)
                shapes[p + "up"] = [d, h1]
                shapes[p + "down"] = [sub["hidden"], d]
            elif t == "moe":
                e = sub["experts"]
                h1 = sub["hidden"] * (2 if sub["act"] in GATED else 1)
                shapes[p + "router"] = [d, e]
                shapes[p + "experts.up"] = [e, d, h1]
                shapes[p + "experts.down"] = [e, sub["hidden"], d]
    shapes["norm.scale"] = [d]
    if cfg.get("head", "tied") == "untied":
        shapes["head.weight"] = [d, v]
    return shapes


def init_params(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.scale"):
            # Not ones: a scale of 1 would leave the norm's scale untested.
            t = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif name.endswith(".router"):
            # Large enough that the router's choices are far from ties.
            t = 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)
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


def ffn(x, up, down, name):
    """act(x @ up) @ down; gated: act(x @ up[:, :h]) * (x @ up[:, h:]) @ down
    (the gate half first)."""
    u = x @ up
    if name in GATED:
        h = u.shape[-1] // 2
        return (act(GATED[name], u[..., :h]) * u[..., h:]) @ down
    return act(name, u) @ down


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
    # The softmax in the parameters' dtype (float32 under --autocast, as
    # bfc's bf16; a no-op otherwise).
    o = torch.softmax(scores.to(qkv.dtype), dim=-1) @ v  # [B, H, S, Dh]
    o = o.permute(0, 2, 1, 3).reshape(B, S, hd)
    return o @ out


def groups(kind, B, S):
    """The routing groups as lists of flat token indices t = b*S + s, each in
    its member order: batch, all tokens batch-major; sequence, each sequence
    in position order; position, each position across the batch in batch
    order."""
    if kind == "batch":
        return [list(range(B * S))]
    if kind == "sequence":
        return [[b * S + s for s in range(S)] for b in range(B)]
    if kind == "position":
        return [[b * S + s for b in range(B)] for s in range(S)]
    raise SystemExit("bfc_torch: unknown group %r" % kind)


def ranked(values):
    """Indices of values, highest first, ties to the lower index."""
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    return order


def moe(sub, x, router, up, down):
    """A mixture of experts on x [B, S, d]. Returns the output, the weighted
    router losses and the routing record (per expert the tokens it
    processed; dropped choices)."""
    B, S, d = x.shape
    E = sub["experts"]
    xt = x.reshape(B * S, d)
    T = B * S
    # The router in float32 under --autocast too, as bfc's bf16.
    with torch.autocast("cpu", enabled=False):
        logits = xt.to(router.dtype) @ router  # [T, E]
    probs = torch.softmax(logits, dim=-1)
    pv = probs.detach().tolist()
    assign = []  # (token, expert, gate)
    dropped = 0
    drops = []  # (token, rank) of the dropped top-k choices
    first = [0] * E
    if sub["rule"] == "expert_choice":
        for members in groups(sub["group"], B, S):
            n = len(members)
            k = int(math.floor(n * sub["capacity"] / E + 1e-9))
            if k < 1:
                raise SystemExit("bfc_torch: expert choice k = 0 at n = %d" % n)
            for e in range(E):
                col = [pv[t][e] for t in members]
                for j in ranked(col)[:k]:
                    t = members[j]
                    assign.append((t, e, probs[t, e]))
    else:
        K = sub["k"]
        choice = [ranked(pv[t])[:K] for t in range(T)]
        for t in range(T):
            first[choice[t][0]] += 1
        for members in groups(sub["group"], B, S):
            n = len(members)
            C = int(math.ceil(K * n * sub["capacity"] / E - 1e-9))
            load = [0] * E
            for r in range(K):
                for t in members:
                    e = choice[t][r]
                    if load[e] >= C:
                        dropped += 1
                        drops.append((t, r))
                        continue
                    load[e] += 1
                    if K == 1:
                        gate = probs[t, e]
                    else:
                        gate = probs[t, e] / sum(probs[t, c] for c in choice[t])
                    assign.append((t, e, gate))
    y = torch.zeros_like(xt)
    tokens_of = [[] for _ in range(E)]
    for t, e, gate in assign:
        tokens_of[e].append(t)
    for e in range(E):
        if not tokens_of[e]:
            continue
        idx = torch.tensor(tokens_of[e])
        gates = torch.stack([g for t, ee, g in assign if ee == e])
        out = ffn(xt[idx], up[e], down[e], sub["act"])
        y = y.index_add(0, idx, gates.unsqueeze(1) * out)
    loss = xt.new_zeros(())
    if sub["rule"] == "top_k" and sub.get("aux", 0):
        f = torch.tensor(first, dtype=probs.dtype) / T  # no gradient
        loss = loss + sub["aux"] * E * (f * probs.mean(dim=0)).sum()
    if sub.get("zloss", 0):
        loss = loss + sub["zloss"] * (torch.logsumexp(logits, dim=-1) ** 2).mean()
    per_token = [0] * T
    for t, e, g in assign:
        per_token[t] += 1
    record = {
        "load": [len(tokens_of[e]) for e in range(E)],
        "per_token": [sum(1 for c in per_token if min(c, 3) == j) for j in range(4)],
        "dropped": dropped,
        "tokens": [sorted(ts) for ts in tokens_of],
        "drops": drops,
        "T": T,
        "K": sub.get("k", 1) if sub["rule"] == "top_k" else 0,
        "probs": pv,
    }
    return y.reshape(B, S, d), loss, record


def forward(cfg, P, tokens, targets):
    B, S = tokens.shape
    eps = cfg["eps"]
    h = P["embed.tokens"][tokens] + P["embed.pos"][:S].unsqueeze(0)
    router_loss = h.new_zeros(())
    routes = {}
    for i, block in enumerate(cfg["blocks"]):
        for sub in block:
            p = "blocks.%d.%s." % (i, sub["name"])
            x = rms(h, P[p + "norm.scale"], eps)
            t = sub["type"]
            if t == "attn":
                h = h + attention(x, P[p + "qkv"], P[p + "out"], sub["heads"], sub["head_dim"])
            elif t == "ffn":
                h = h + ffn(x, P[p + "up"], P[p + "down"], sub["act"])
            else:
                y, l, rec = moe(sub, x, P[p + "router"], P[p + "experts.up"], P[p + "experts.down"])
                h = h + y
                router_loss = router_loss + l
                routes[p[:-1]] = rec
    z = rms(h, P["norm.scale"], eps)
    if cfg.get("head", "tied") == "untied":
        logits = z @ P["head.weight"]
    else:
        logits = z @ P["embed.tokens"].T
    logits = logits.to(P["norm.scale"].dtype)  # the loss in float32 under --autocast
    flat_t = targets.reshape(-1)
    keep = flat_t >= 0
    lp = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), dim=-1)
    nll = -lp[keep].gather(1, flat_t[keep].unsqueeze(1)).squeeze(1)
    ce = nll.mean()
    return ce + router_loss, ce, logits, routes


def decayed(name):
    """bfc's weight-decay rule (docs/internals.md): every matrix and
    embedding decays; norm scales and routers do not."""
    return not (name.endswith("norm.scale") or name.endswith(".router"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--params")
    ap.add_argument("--init", type=int)
    ap.add_argument("--write-params")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--autocast", action="store_true", help="float32 parameters, the forward under "
                    "torch.autocast(\"cpu\", dtype=torch.bfloat16), backward outside it; softmax, the "
                    "router and the loss in float32 (bfc's bf16 precision)")
    ap.add_argument("--adamw", help="JSON {lr, beta1, beta2, eps, weight_decay, steps[, grads]}: after "
                    "the pass, take that many AdamW steps on the batch (with grads, a safetensors file of "
                    "step<i>.<param>: with those gradients) and write adamw.<param>")
    a = ap.parse_args()

    cfg = json.loads(a.config)
    cfg.setdefault("eps", 1e-6)
    kind = cfg.get("kind", "dense")
    if kind == "dense":
        blk = {"block": "Transformer", "d": cfg["d"], "heads": cfg["heads"]}
        for key in ("head_dim", "hidden", "act"):
            if key in cfg:
                blk[key] = cfg[key]
        cfg["blocks"] = [std_block(blk) for _ in range(cfg["layers"])]
    elif kind == "model":
        cfg["blocks"] = [std_block(b) for b in cfg["blocks"]]
    else:
        raise SystemExit("bfc_torch: unknown kind %r" % kind)

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
    if a.autocast:
        if a.dtype != "float32":
            raise SystemExit("bfc_torch: --autocast needs --dtype float32")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, ce, logits, routes = forward(cfg, P, tokens, targets)
    else:
        loss, ce, logits, routes = forward(cfg, P, tokens, targets)
    loss.backward()

    out = {
        "loss": np.array([loss.item()], dtype=np.float64),
        "ce": np.array([ce.item()], dtype=np.float64),
        "logits": logits.detach().to(torch.float32).numpy(),
    }
    for name, t in P.items():
        out["grad." + name] = t.grad.detach().to(torch.float32).numpy()
    for layer, rec in routes.items():
        out["route.%s.load" % layer] = np.array(rec["load"], dtype=np.int32)
        out["route.%s.per_token" % layer] = np.array(rec["per_token"], dtype=np.int32)
        out["route.%s.dropped" % layer] = np.array([rec["dropped"]], dtype=np.int32)
        # taken[e, t] = 1 when expert e processed token t; drop[t, r] = 1
        # when token t's choice of rank r was dropped (top-k only).
        taken = np.zeros((len(rec["tokens"]), rec["T"]), dtype=np.int32)
        for e, ts in enumerate(rec["tokens"]):
            taken[e, ts] = 1
        out["route.%s.taken" % layer] = taken
        out["route.%s.probs" % layer] = np.array(rec["probs"], dtype=np.float32)
        if rec["K"]:
            drop = np.zeros((rec["T"], rec["K"]), dtype=np.int32)
            for t, r in rec["drops"]:
                drop[t, r] = 1
            out["route.%s.drop" % layer] = drop

    if a.adamw:
        o = json.loads(a.adamw)
        dec = [t for n, t in P.items() if decayed(n)]
        nodec = [t for n, t in P.items() if not decayed(n)]
        opt = torch.optim.AdamW(
            [{"params": dec, "weight_decay": o["weight_decay"]}, {"params": nodec, "weight_decay": 0.0}],
            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
        G = st_load(o["grads"]) if o.get("grads") else None
        for step in range(o["steps"]):
            if G is not None:  # the given gradients, "step<i>.<param name>"
                for name, t in P.items():
                    t.grad = torch.tensor(G["step%d.%s" % (step, name)], dtype=dt)
            elif step > 0:  # the first step uses the gradients of the pass above
                opt.zero_grad()
                loss, _, _, _ = forward(cfg, P, tokens, targets)
                loss.backward()
            opt.step()
        for name, t in P.items():
            out["adamw." + name] = t.detach().to(torch.float32).numpy()
    st_save(a.out, out)


if __name__ == "__main__":
    sys.exit(main())
