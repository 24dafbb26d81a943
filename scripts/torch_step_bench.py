"""One training step of the same LLaMA in PyTorch eager fp32 (TF32 off), timed: the ratio the GPU
check reports next to our engine's. Random weights and a chat-like batch (first quarter of each
sequence is prompt, labels -100), AdamW with decoupled decay and global-norm clipping.

  python3 scripts/torch_step_bench.py --config '{"hidden_size": 256, ...}' --B 8 --T 256 --steps 5
  ... --lora '{"r": 8, "alpha": 16, "targets": ["q_proj", "k_proj", "v_proj", "o_proj"]}'
With --lora the model is frozen (requires_grad False) and only LoRA adapters train, applied as
PEFT does (out + alpha/r * B(A(x)), A ~ kaiming_uniform(a=sqrt 5), B = 0), through forward hooks.
Prints one JSON line: {"device", "ms_per_step", "tokens_per_sec", "loss_first", "loss_last"}.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import torch  # noqa: E402
from torch_llama import LlamaForCausalLM, build_attention_mask, masked_ce  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="LLaMA config as JSON (HF field names)")
    ap.add_argument("--B", type=int, required=True)
    ap.add_argument("--T", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lora", default=None, help='LoRA as JSON: {"r", "alpha", "targets": PEFT module names}')
    a = ap.parse_args()
    cfg = json.loads(a.config)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if dev == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    # The shared model module makes its RoPE tables and masks with plain torch calls: on CUDA they
    # must land on the GPU too (torch >= 2.0; older versions here are CPU-only anyway).
    if hasattr(torch, "set_default_device"):
        torch.set_default_device(dev)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(dev)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02) if p.dim() > 1 else torch.nn.init.ones_(p)
    trained = list(model.parameters())
    if a.lora:
        lora = json.loads(a.lora)
        scale = lora["alpha"] / lora["r"]
        for p in model.parameters():
            p.requires_grad_(False)
        trained = []
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] in lora["targets"]:
                A = torch.nn.Parameter(torch.empty(lora["r"], mod.in_features, device=dev))
                torch.nn.init.kaiming_uniform_(A, a=5 ** 0.5)
                Bm = torch.nn.Parameter(torch.zeros(mod.out_features, lora["r"], device=dev))
                mod.lora_A, mod.lora_B = A, Bm
                mod.register_forward_hook(lambda m, inp, out: out + scale * torch.nn.functional.linear(torch.nn.functional.linear(inp[0], m.lora_A), m.lora_B))
                trained += [A, Bm]
        if not trained:
            raise SystemExit(f"--lora: no Linear named {lora['targets']} in the model")
    decay = [p for p in trained if p.dim() >= 2]
    no_decay = [p for p in trained if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, cfg["vocab_size"], (a.B, a.T), generator=g).to(dev)
    labels = ids.clone()
    labels[:, : max(1, a.T // 4)] = -100

    mask = build_attention_mask(torch.ones(a.B, a.T, dtype=torch.bool)).to(dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _ = masked_ce(model(ids, mask), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        return float(loss)

    losses = [step() for _ in range(a.warmup)]
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        losses.append(step())
    if dev == "cuda":
        torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / a.steps
    name = torch.cuda.get_device_name(0) if dev == "cuda" else "cpu"
    print(json.dumps({"device": name, "ms_per_step": ms, "tokens_per_sec": a.B * a.T * 1000 / ms, "loss_first": losses[0], "loss_last": losses[-1]}))


if __name__ == "__main__":
    main()
