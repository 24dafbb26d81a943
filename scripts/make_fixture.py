#!/usr/bin/python3
"""Regenerates src/reference/fixtures/micro.json: PyTorch (float64) ground truth for the CPU
reference (src/reference/fixture.test.ts) and the WGSL engine.

    /usr/bin/python3 scripts/make_fixture.py

Deterministic (fixed seeds, one thread). For each case the fixture holds: the HF config, a masked
batch (padding, -100 labels, down-weighted prompt labels, packed documents), every initial
parameter (HF names), logits, dlogits, per-position "ruler" losses, the loss under each
normalisation mode, every parameter gradient of the mean_tokens loss, the AdamW settings, and
10 AdamW steps (losses, pre-clip grad norms, clip factors) with gradient accumulation over
micro-batches and a clip threshold that clips on some steps and not on others.

Cases:
  micro       MICRO_CONFIG from src/spec/config.ts (untied, attention_bias, GQA NKV < NH); B=3, T=12:
              a full sequence with a masked prompt, a padded sequence with prompt labels at weight 0.1,
              and a packed sequence of two documents (block-diagonal mask, positions restart).
  tiny_tied   tie_word_embeddings, no bias, NKV = 1, rope_theta 500000; B=2, T=7 with padding.
"""
import json
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_llama import IGNORE_INDEX, LlamaForCausalLM, build_attention_mask, masked_ce  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "src", "reference", "fixtures", "micro.json")
M = IGNORE_INDEX

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def micro_config_from_ts():
    """MICRO_CONFIG's fields, read from src/spec/config.ts so the fixture follows the one definition."""
    path = os.path.join(ROOT, "src", "spec", "config.ts")
    src = open(path).read()
    m = re.search(r"export const MICRO_CONFIG: LlamaConfig = \{(.*?)\};", src, re.S)
    if not m:
        raise SystemExit(f"{path}: cannot find `export const MICRO_CONFIG: LlamaConfig = {{ ... }};`")
    cfg = {}
    for key, val in re.findall(r"(\w+):\s*([^,\n]+),", m.group(1)):
        val = val.strip()
        cfg[key] = {"true": True, "false": False}.get(val, None)
        if cfg[key] is None:
            cfg[key] = float(val) if any(ch in val for ch in ".e") else int(val)
    return cfg


TINY_TIED = {
    "vocab_size": 29, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2,
    "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 500000, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True, "max_position_embeddings": 16, "attention_bias": False,
}

OPTIMIZER = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1}


def init_params(model, seed):
    """Non-trivial values everywhere, so every path is exercised: 2-D ~ N(0, 0.2^2),
    norm weights 1 + N(0, 0.2^2), biases N(0, 0.2^2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.2
            p.copy_(noise + 1.0 if name.endswith("norm.weight") else noise)


def pack(seqs, T, pad_id=0):
    """Right-padded (B, T) tensors. Each seq: dict(ids, labels?, weights?, doc?) ; positions restart per doc."""
    B = len(seqs)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    labels = torch.full((B, T), M, dtype=torch.long)
    weights = torch.zeros(B, T)
    doc = torch.full((B, T), -1, dtype=torch.long)
    pos = torch.zeros(B, T, dtype=torch.long)
    for b, s in enumerate(seqs):
        n = len(s["ids"])
        ids[b, :n] = torch.tensor(s["ids"])
        labels[b, :n] = torch.tensor(s.get("labels", s["ids"]))
        weights[b, :n] = torch.tensor(s.get("weights", [1.0] * n))
        d = s.get("doc", [0] * n)
        doc[b, :n] = torch.tensor(d)
        p = 0
        for t in range(n):
            if t > 0 and d[t] != d[t - 1]:
                p = 0
            pos[b, t] = p
            p += 1
    return {"ids": ids, "labels": labels, "weights": weights, "docIds": doc, "positions": pos}


def micro_batch(V):
    g = torch.Generator().manual_seed(1)
    tok = lambda n: torch.randint(1, V, (n,), generator=g).tolist()  # noqa: E731
    a, b, c = tok(12), tok(8), tok(12)
    return pack([
        # prompt (5 tokens) masked, response trained
        {"ids": a, "labels": [M] * 5 + a[5:]},
        # 8 real tokens + 4 padding; prompt labels kept at weight 0.1, the first label is never predicted
        {"ids": b, "weights": [1.0, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0]},
        # two packed documents (5 + 7 tokens); doc 2's first label is masked (nothing in doc 2 predicts it)
        {"ids": c, "doc": [0] * 5 + [1] * 7,
         "labels": [M, M, c[2], c[3], c[4], M, M, M, c[8], c[9], c[10], c[11]],
         "weights": [1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]},
    ], 12)


def tied_batch(V):
    g = torch.Generator().manual_seed(2)
    tok = lambda n: torch.randint(1, V, (n,), generator=g).tolist()  # noqa: E731
    a, b = tok(7), tok(4)
    return pack([
        {"ids": a, "labels": [M, M, M] + a[3:]},
        {"ids": b, "weights": [1.0, 0.1, 1.0, 1.0]},
    ], 7)


def run(model, batch, rows=None):
    """Logits (B', T, V) for sequences `rows` (all by default)."""
    sel = (lambda x: x) if rows is None else (lambda x: x[rows])
    doc = sel(batch["docIds"])
    mask = build_attention_mask(doc >= 0, doc)
    return model(sel(batch["ids"]), mask, sel(batch["positions"]))


def ruler_losses(logits, ids):
    """-log softmax(logits[b,t])[ids[b,t+1]] for t < T-1, 0 at t = T-1: (B, T)."""
    lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    return torch.cat([-lp, torch.zeros(ids.shape[0], 1)], dim=1)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def train_steps(cfg, seed, batch, micro, max_norm, steps=10):
    """AdamW with accumulation over `micro` (lists of sequence indices), mean_tokens over the whole batch."""
    model = LlamaForCausalLM(cfg)
    init_params(model, seed)
    params = list(model.parameters())
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": OPTIMIZER["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=OPTIMIZER["lr"], betas=(OPTIMIZER["beta1"], OPTIMIZER["beta2"]), eps=OPTIMIZER["eps"])
    total_w = (batch["weights"][:, 1:] * (batch["labels"][:, 1:] != M)).sum()  # trained weight, whole batch
    out = {"losses": [], "gradNorms": [], "clipFactors": []}
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.0
        for rows in micro:
            idx = torch.tensor(rows)
            lsum, _ = masked_ce(run(model, batch, idx), batch["labels"][idx], batch["weights"][idx], mode="sum")
            part = lsum / total_w
            part.backward()
            loss += float(part)
        norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        out["losses"].append(loss)
        out["gradNorms"].append(norm)
        out["clipFactors"].append(min(1.0, max_norm / (norm + 1e-6)))
        opt.step()
    return out


def make_case(name, cfg, seed, batch, micro):
    model = LlamaForCausalLM(cfg)
    init_params(model, seed)
    logits = run(model, batch)
    logits.retain_grad()
    loss, wsum = masked_ce(logits, batch["labels"], batch["weights"], mode="mean_tokens")
    loss.backward()
    modes = {m: float(masked_ce(logits.detach(), batch["labels"], batch["weights"], mode=m)[0])
             for m in ("mean_tokens", "mean_sequences", "sum")}
    grads = {n: p.grad for n, p in model.named_parameters()}
    for n, g in grads.items():
        if g is None or not torch.isfinite(g).all():
            raise SystemExit(f"{name}: gradient of {n} is missing or non-finite")

    # A clip threshold that clips some steps and not others: near the median unclipped grad norm.
    free = sorted(train_steps(cfg, seed, batch, micro, float("inf"))["gradNorms"])
    for q in (5, 4, 6, 3, 7):
        max_norm = round(free[q], 3)
        steps = train_steps(cfg, seed, batch, micro, max_norm)
        clipped = [f < 1.0 for f in steps["clipFactors"]]
        if 3 <= sum(clipped) <= 7:
            break
    else:
        raise SystemExit(f"{name}: no clip threshold among the unclipped grad norms {free} clips 3 to 7 of the 10 steps")
    clipped_steps = [i + 1 for i, c in enumerate(clipped) if c]

    B, T = batch["ids"].shape
    return {
        "name": name,
        "config": cfg,
        "batch": {"B": B, "T": T, **{k: [int(x) if k != "weights" else float(x) for x in v.reshape(-1).tolist()]
                                      for k, v in batch.items()}},
        "params": {n: flat(p) for n, p in model.named_parameters()},
        "logits": flat(logits),
        "dlogits": flat(logits.grad),
        "rulerLosses": flat(ruler_losses(logits.detach(), batch["ids"])),
        "lossMode": "mean_tokens",
        "loss": float(loss),
        "trainedWeight": float(wsum),
        "lossByMode": modes,
        "grads": {n: flat(g) for n, g in grads.items()},
        "optimizer": {**OPTIMIZER, "maxGradNorm": max_norm,
                      "decay": "weight decay on 2-D tensors only (embeddings, projections, lm_head)"},
        "microBatches": micro,
        "steps": {**steps, "clippedSteps": clipped_steps,
                  "note": f"10 AdamW steps on the same batch, accumulated over micro-batches {micro}, "
                          f"mean_tokens over the whole batch; clip at {max_norm} clips steps {clipped_steps} "
                          "(1-based); losses are measured before each update."},
    }


def main():
    micro_cfg = micro_config_from_ts()
    V = micro_cfg["vocab_size"]
    cases = [
        make_case("micro", micro_cfg, 1234, micro_batch(V), [[0, 1], [2]]),
        make_case("tiny_tied", TINY_TIED, 4321, tied_batch(TINY_TIED["vocab_size"]), [[0], [1]]),
    ]
    doc = {
        "generatedBy": "/usr/bin/python3 scripts/make_fixture.py",
        "torch": torch.__version__,
        "dtype": "float64",
        "layout": "row-major flat arrays; batch arrays are (B*T) with n = b*T + t; logits/dlogits (B*T, V); "
                  "params/grads keyed by Hugging Face names with nn.Linear (out, in) weights",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    size = os.path.getsize(OUT)
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({size / 1024:.0f} KiB)")
    for c in cases:
        print(f"  {c['name']}: loss {c['loss']:.10f}, maxGradNorm {c['optimizer']['maxGradNorm']}, "
              f"clipped steps {c['steps']['clippedSteps']}, step losses {[round(x, 5) for x in c['steps']['losses']]}")
    if size > 1024 * 1024:
        raise SystemExit(f"fixture is {size} bytes; keep it under 1 MiB (shrink the batch or drop a case)")


if __name__ == "__main__":
    main()
