"""Pretraining loop for the embedded base model (stage `train` of build_base_model.py).

Data: the training documents, each tokenized and followed by <|endoftext|>, concatenated into one
stream of ids. A training row is T+1 consecutive ids (inputs = row[:T], labels = row[:T], the
shift happens inside masked_ce as in Hugging Face). Half of the rows start at a document's first
token, so the model learns what position 0 of a sequence without BOS looks like (the playground
renders chats without a BOS); the other half start anywhere.

Schedule: AdamW, linear warmup over WARMUP steps, then cosine decay to LR_MIN as a function of the
fraction of the wall-time budget used. The machine is shared and its speed changes during the run;
a schedule over time always completes its decay when the budget ends, whatever the step rate
(the model card records the steps actually done).
"""
import json
import math
import os
import time

import torch

from torch_llama import LlamaForCausalLM, masked_ce

B = 16            # rows per step
LR_MAX = 2e-3
LR_MIN = 2e-4
WARMUP = 100
WEIGHT_DECAY = 0.1


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def init_weights(model, n_layers):
    """GPT-2 init: N(0, 0.02) everywhere, residual output projections scaled by 1/sqrt(2 L).
    (nn.Embedding's default N(0, 1) would make tied logits start far from uniform.)"""
    for name, p in model.named_parameters():
        if p.dim() == 1:
            continue  # RMSNorm weights stay 1
        std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
        torch.nn.init.normal_(p, mean=0.0, std=std)


def lr_at(step, progress):
    """progress: fraction of the wall-time budget used, in [0, 1]."""
    warm = min(1.0, (step + 1) / WARMUP)
    p = min(1.0, max(0.0, progress))
    return warm * (LR_MIN + 0.5 * (LR_MAX - LR_MIN) * (1 + math.cos(math.pi * p)))


def token_stream(encoder, docs, eos_id):
    """(ids LongTensor (N,), doc_starts LongTensor (D,))."""
    ids, starts = [], []
    for d in docs:
        starts.append(len(ids))
        ids.extend(encoder.encode(d))
        ids.append(eos_id)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(starts, dtype=torch.long)


def sample_rows(stream, starts, T, gen):
    """(B, T+1) rows: B/2 at document starts, B/2 at uniform offsets."""
    n = stream.numel()
    ok_starts = starts[starts + T + 1 <= n]
    half = B // 2
    s1 = ok_starts[torch.randint(0, ok_starts.numel(), (half,), generator=gen)]
    s2 = torch.randint(0, n - T - 1, (B - half,), generator=gen)
    offs = torch.cat([s1, s2])
    return torch.stack([stream[o:o + T + 1] for o in offs.tolist()])


def eval_sequences(stream, T):
    """Held-out stream cut into non-overlapping (N, T) sequences (the tail that does not fill one is dropped)."""
    n = stream.numel() // T
    return stream[:n * T].view(n, T)


@torch.no_grad()
def mean_ce(model, seqs, batch=16, dtype=torch.float32):
    """Mean CE over every predicted token of seqs (N, T): labels = inputs, no masking.
    Summed per batch and divided by the total count, so it equals one big batch's mean_tokens loss."""
    model.eval()
    tot, cnt = 0.0, 0.0
    for i in range(0, seqs.shape[0], batch):
        x = seqs[i:i + batch]
        logits = model(x).to(dtype)
        s, w = masked_ce(logits, x, mode="sum")
        tot += float(s)
        cnt += float(w)
    model.train()
    return tot / cnt


def optimizer_for(model):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=LR_MAX, betas=(0.9, 0.95), eps=1e-8)


def train(cfg, stream, starts, held_seqs, work, minutes, ckpt_minutes, seed, resume):
    T = cfg["max_position_embeddings"]
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    init_weights(model, cfg["num_hidden_layers"])
    opt = optimizer_for(model)
    gen = torch.Generator().manual_seed(seed)
    ckpt_path = os.path.join(work, "ckpt.pt")
    state = {"step": 0, "elapsed": 0.0, "history": []}
    if resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        state = ck["state"]
        log(f"train: resumed from {ckpt_path} at step {state['step']}")

    budget = minutes * 60.0
    n_params = sum(p.numel() for p in model.parameters())
    log(f"train: {n_params} parameters, {stream.numel()} training tokens, {held_seqs.shape[0]} held-out "
        f"sequences of {T}, budget {minutes} min")

    def save_ckpt():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "state": state}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    t_start = time.time() - state["elapsed"]
    last_ckpt = time.time()
    model.train()
    while True:
        step = state["step"]
        elapsed = time.time() - t_start
        if elapsed >= budget:
            break
        lr = lr_at(step, elapsed / budget)
        for g in opt.param_groups:
            g["lr"] = lr
        rows = sample_rows(stream, starts, T, gen)
        x = rows[:, :T]
        loss, _ = masked_ce(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] = step + 1
        state["elapsed"] = time.time() - t_start
        state["history"].append([step + 1, round(float(loss), 5)])
        if (step + 1) % 10 == 0:
            tps = (step + 1) * B * T / max(1e-9, state["elapsed"])
            log(f"step {step + 1} loss {float(loss):.4f} lr {lr:.2e} {tps:.0f} tok/s "
                f"elapsed {state['elapsed'] / 60:.1f}/{minutes:g} min")
        if time.time() - last_ckpt > ckpt_minutes * 60:
            ho = mean_ce(model, held_seqs[:32])
            log(f"eval: step {step + 1} held-out loss (32 seqs) {ho:.4f} ppl {math.exp(ho):.2f}")
            state.setdefault("evals", []).append([step + 1, round(ho, 5)])
            save_ckpt()
            last_ckpt = time.time()
    save_ckpt()
    torch.save(model.state_dict(), os.path.join(work, "model.pt"))
    summary = {"steps": state["step"], "batch_rows": B, "seq_len": T, "threads": torch.get_num_threads(), "torch_version": torch.__version__,
               "tokens_trained": state["step"] * B * T, "budget_minutes": minutes, "wall_minutes": round(state["elapsed"] / 60, 2),
               "n_params": n_params, "train_stream_tokens": int(stream.numel()), "lr_max": LR_MAX,
               "lr_min": LR_MIN, "warmup": WARMUP, "weight_decay": WEIGHT_DECAY,
               "final_train_loss_avg50": sum(l for _, l in state["history"][-50:]) / max(1, len(state["history"][-50:])),
               "evals": state.get("evals", []), "history": state["history"][::10]}
    with open(os.path.join(work, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log(f"train: done, {summary['steps']} steps, {summary['tokens_trained']} tokens, {summary['wall_minutes']} min")
    return model, summary
