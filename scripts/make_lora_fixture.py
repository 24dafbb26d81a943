#!/usr/bin/python3
"""Regenerates src/reference/fixtures/lora.json: PyTorch (float64) ground truth for LoRA in the CPU
reference (src/reference/loraFixture.test.ts) and, later, the WGSL engine.

    /usr/bin/python3 scripts/make_lora_fixture.py

LoRA as PEFT's `peft.tuners.lora.layer.Linear` computes it (src/spec/lora.ts), applied by hand (no
peft package): every target nn.Linear gets a forward hook so that

    out = F.linear(x, W, b) + (alpha / r) * F.linear(F.linear(x, A), B)     A (r, I), B (O, r)

Only A and B train (the base model's parameters have requires_grad False); weight decay applies to
A and B (all 2-D). Deterministic (fixed seeds, one thread, float64).

The adapter is a trained-looking one, not a fresh one: A is PEFT's init (kaiming_uniform_(a=sqrt(5))
on (r, I), i.e. U(-1/sqrt(I), 1/sqrt(I)), drawn from torch's generator), but B is N(0, 0.1^2)
instead of PEFT's zeros, so the adapter changes the logits and dA (which is 0 while B = 0) is
exercised from step 0.

Base weights are make_fixture.py's init_params (same seeds as its cases), rounded to multiples of
1e-4 before use, so the JSON stores them short and exactly. Everything computed is stored at full
float64 precision.

For each case: the HF config, the LoRA settings (r, alpha, targets as short keys and PEFT module
names, adapter tensor names in the table order of src/spec/lora.ts), the masked batch (make_fixture's),
the base parameters, the initial adapter tensors, logits, the mean_tokens loss, every adapter
gradient, the AdamW settings with a clip threshold that clips on some steps and not others, the
micro-batch split, 10 AdamW steps over ONLY the adapter (losses, pre-clip grad norms over the adapter
gradients, clip factors), the adapter after the 10 steps, and the sha256 of the base parameters before
and after training (asserted bit-identical here).

Cases:
  micro_lora      MICRO_CONFIG from src/spec/config.ts; all 7 targets (q,k,v,o,gate,up,down), r 4,
                  alpha 8; make_fixture's micro batch (masked prompt, padding with prompt labels at
                  weight 0.1, two packed documents), micro-batches [[0, 1], [2]].
  tied_attn_lora  make_fixture's tiny_tied config; targets q, v; r 2, alpha 4; its batch, micro-batches
                  [[0], [1]].
"""
import hashlib
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixture import (  # noqa: E402
    M, OPTIMIZER, ROOT, TINY_TIED, flat, init_params, micro_batch, micro_config_from_ts, run, tied_batch,
)
from torch_llama import LlamaForCausalLM, masked_ce  # noqa: E402

OUT = os.path.join(ROOT, "src", "reference", "fixtures", "lora.json")

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

# src/spec/params.ts PROJECTIONS order, with PEFT's target_modules names (src/spec/lora.ts MODULE_NAMES).
PROJECTIONS = ["q", "k", "v", "o", "gate", "up", "down"]
MODULE_NAMES = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
                "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}
B_STD = 0.1


def module_path(layer, key):
    part = "self_attn" if key in ("q", "k", "v", "o") else "mlp"
    return f"model.layers.{layer}.{part}.{MODULE_NAMES[key]}"


def base_model(cfg, seed):
    """make_fixture's init_params, rounded to multiples of 1e-4 (exact in JSON), frozen."""
    model = LlamaForCausalLM(cfg)
    init_params(model, seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.round(p * 1e4) / 1e4)
            p.requires_grad_(False)
    return model


def kaiming_bound(r, I):
    """PEFT's A init bound, from torch's own formula: kaiming_uniform_(a=sqrt(5)) on an (r, I) weight."""
    w = torch.empty(r, I)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(w)
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    bound = gain * math.sqrt(3.0 / fan_in)
    assert abs(bound - 1 / math.sqrt(I)) < 1e-15, (bound, I)
    return bound


def init_adapter(model, cfg, lora, seed):
    """Adapter tensors by name, in src/spec/lora.ts loraTable order: per layer, per target in
    PROJECTIONS order, A then B. A ~ U(-1/sqrt(I), 1/sqrt(I)); B ~ N(0, B_STD^2) (trained-looking)."""
    g = torch.Generator().manual_seed(seed)
    r = lora["r"]
    out = {}
    for i in range(cfg["num_hidden_layers"]):
        for key in [p for p in PROJECTIONS if p in lora["targets"]]:
            lin = model.get_submodule(module_path(i, key))
            O, I = lin.weight.shape
            bound = kaiming_bound(r, I)
            out[f"{module_path(i, key)}.lora_A.weight"] = (torch.rand(r, I, generator=g) * 2 - 1) * bound
            out[f"{module_path(i, key)}.lora_B.weight"] = torch.randn(O, r, generator=g) * B_STD
    return out


def attach(model, cfg, lora, tensors):
    """Adapter leaves (requires_grad) on `model` via forward hooks: out += scale * (x A^T) B^T."""
    scale = lora["alpha"] / lora["r"]
    params = {n: t.clone().requires_grad_(True) for n, t in tensors.items()}
    for i in range(cfg["num_hidden_layers"]):
        for key in lora["targets"]:
            path = module_path(i, key)
            A, B = params[f"{path}.lora_A.weight"], params[f"{path}.lora_B.weight"]
            model.get_submodule(path).register_forward_hook(
                lambda _mod, inp, out, A=A, B=B: out + scale * F.linear(F.linear(inp[0], A), B))
    return params


def sha256_params(model):
    """sha256 over the base parameters' float64 little-endian bytes, tensors in sorted-name order."""
    h = hashlib.sha256()
    for n, p in sorted(model.named_parameters()):
        h.update(struct.pack(f"<{p.numel()}d", *p.detach().reshape(-1).tolist()))
    return h.hexdigest()


def train_steps(cfg, seed, lora, tensors, batch, micro, max_norm, steps=10):
    """AdamW on the adapter only, accumulated over `micro` (lists of sequence indices), mean_tokens over
    the whole batch; clip_grad_norm_ over the adapter gradients."""
    model = base_model(cfg, seed)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sha_before = sha256_params(model)
    ad = attach(model, cfg, lora, tensors)
    params = list(ad.values())
    assert all(p.dim() == 2 for p in params)
    assert not any(p.requires_grad for p in model.parameters())
    opt = torch.optim.AdamW([{"params": params, "weight_decay": OPTIMIZER["weightDecay"]}],
                            lr=OPTIMIZER["lr"], betas=(OPTIMIZER["beta1"], OPTIMIZER["beta2"]), eps=OPTIMIZER["eps"])
    total_w = (batch["weights"][:, 1:] * (batch["labels"][:, 1:] != M)).sum()
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
    for n, p in model.named_parameters():
        if p.grad is not None:
            raise SystemExit(f"base parameter {n} got a gradient")
        if not torch.equal(p, before[n]):
            raise SystemExit(f"base parameter {n} changed during adapter training")
    sha_after = sha256_params(model)
    assert sha_after == sha_before
    return out, ad, sha_before, sha_after


def make_case(name, cfg, seed, lora, adapter_seed, batch, micro):
    model = base_model(cfg, seed)
    base_logits = run(model, batch).detach()
    init = init_adapter(model, cfg, lora, adapter_seed)
    ad = attach(model, cfg, lora, init)
    logits = run(model, batch)
    loss, wsum = masked_ce(logits, batch["labels"], batch["weights"], mode="mean_tokens")
    loss.backward()
    shift = float((logits.detach() - base_logits).abs().max())
    if shift < 1e-2:
        raise SystemExit(f"{name}: the adapter barely changes the logits (max |Δ| {shift})")
    for n, p in ad.items():
        if p.grad is None or not torch.isfinite(p.grad).all() or float(p.grad.abs().max()) == 0.0:
            raise SystemExit(f"{name}: adapter gradient of {n} is missing, zero or non-finite")

    # A clip threshold that clips some steps and not others: near the median unclipped grad norm.
    free = sorted(train_steps(cfg, seed, lora, init, batch, micro, float("inf"))[0]["gradNorms"])
    for q in (5, 4, 6, 3, 7):
        max_norm = round(free[q], 3)
        steps, final, sha_before, sha_after = train_steps(cfg, seed, lora, init, batch, micro, max_norm)
        clipped = [f < 1.0 for f in steps["clipFactors"]]
        if 3 <= sum(clipped) <= 7:
            break
    else:
        raise SystemExit(f"{name}: no clip threshold among the unclipped grad norms {free} clips 3 to 7 of the 10 steps")
    clipped_steps = [i + 1 for i, c in enumerate(clipped) if c]

    B, T = batch["ids"].shape
    targets = [p for p in PROJECTIONS if p in lora["targets"]]
    return {
        "name": name,
        "config": cfg,
        "lora": {"r": lora["r"], "alpha": lora["alpha"], "scale": lora["alpha"] / lora["r"], "targets": targets,
                 "targetModules": [MODULE_NAMES[t] for t in targets], "tensors": list(init.keys()),
                 "init": f"A ~ U(-1/sqrt(I), 1/sqrt(I)) (PEFT's kaiming_uniform_(a=sqrt(5))), B ~ N(0, {B_STD}^2): "
                         "a trained-looking adapter (PEFT starts B at 0), so dA is non-zero from step 0"},
        "batch": {"B": B, "T": T, **{k: [int(x) if k != "weights" else float(x) for x in v.reshape(-1).tolist()]
                                      for k, v in batch.items()}},
        "params": {n: flat(p) for n, p in model.named_parameters()},
        "adapter": {n: flat(t) for n, t in init.items()},
        "logits": flat(logits),
        "lossMode": "mean_tokens",
        "loss": float(loss),
        "trainedWeight": float(wsum),
        "adapterGrads": {n: flat(p.grad) for n, p in ad.items()},
        "optimizer": {**OPTIMIZER, "maxGradNorm": max_norm,
                      "decay": "only the adapter trains; weight decay on every adapter tensor (A and B are 2-D)"},
        "microBatches": micro,
        "steps": {**steps, "clippedSteps": clipped_steps,
                  "note": f"10 AdamW steps over the adapter only, on the same batch, accumulated over micro-batches "
                          f"{micro}, mean_tokens over the whole batch; grad norms and clipping over the adapter "
                          f"gradients; clip at {max_norm} clips steps {clipped_steps} (1-based); losses are "
                          "measured before each update."},
        "finalAdapter": {n: flat(p) for n, p in final.items()},
        "base": {"unchanged": True, "sha256Before": sha_before, "sha256After": sha_after,
                 "note": "the base parameters are bit-identical after the 10 steps (asserted in torch); sha256 over "
                         "their float64 little-endian bytes, tensors in sorted-name order"},
    }


def main():
    micro_cfg = micro_config_from_ts()
    V = micro_cfg["vocab_size"]
    cases = [
        make_case("micro_lora", micro_cfg, 1234, {"r": 4, "alpha": 8, "targets": PROJECTIONS}, 99,
                  micro_batch(V), [[0, 1], [2]]),
        make_case("tied_attn_lora", TINY_TIED, 4321, {"r": 2, "alpha": 4, "targets": ["q", "v"]}, 98,
                  tied_batch(TINY_TIED["vocab_size"]), [[0], [1]]),
    ]
    doc = {
        "generatedBy": "/usr/bin/python3 scripts/make_lora_fixture.py",
        "torch": torch.__version__,
        "dtype": "float64",
        "layout": "row-major flat arrays; batch arrays are (B*T) with n = b*T + t; logits (B*T, V); params keyed by "
                  "Hugging Face names with nn.Linear (out, in) weights; adapter tensors keyed by "
                  "<module>.lora_A.weight (r, I) and <module>.lora_B.weight (O, r)",
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
    if size > 512 * 1024:
        raise SystemExit(f"fixture is {size} bytes; keep it under 512 KiB")


if __name__ == "__main__":
    main()
