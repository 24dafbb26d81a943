"""Export stage of build_base_model.py: HF-layout files, held-out evaluation, samples, model card.

safetensors layout written here (the format src/model/safetensors.ts reads):
  8 bytes  little-endian u64 N = header length
  N bytes  UTF-8 JSON {"__metadata__": {...}, name: {"dtype": "F32", "shape": [...], "data_offsets": [s, e]}},
           padded with spaces to a multiple of 8 so tensor data is aligned
  data     tensors back to back, little-endian, offsets relative to the end of the header
"""
import json
import math
import struct

import numpy as np
import torch

from torch_llama import masked_ce


def write_safetensors(path, tensors, metadata):
    """tensors: dict name -> float32 torch tensor (written in sorted name order)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hdr = {"__metadata__": metadata, **header}
    hb = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Inverse of write_safetensors for F32 files (used to check the written file)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + n])
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + s:8 + n + e], dtype="<f4").copy()).view(info["shape"])
    return out


def hf_config(cfg, specials):
    """config.json with Hugging Face LlamaConfig field names."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": cfg["attention_bias"],
        "attention_dropout": 0.0,
        "bos_token_id": specials.index("<|endoftext|>"),
        "eos_token_id": specials.index("<|endoftext|>"),
        "pad_token_id": specials.index("<|pad|>"),
        "head_dim": cfg["hidden_size"] // cfg["num_attention_heads"],
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "mlp_bias": False,
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_scaling": None,
        "rope_theta": cfg["rope_theta"],
        "tie_word_embeddings": cfg["tie_word_embeddings"],
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vocab_size": cfg["vocab_size"],
    }


def generation_config(specials):
    return {
        "bos_token_id": specials.index("<|endoftext|>"),
        # Generation stops at end of text and at end of turn (chat).
        "eos_token_id": [specials.index("<|endoftext|>"), specials.index("<|im_end|>")],
        "pad_token_id": specials.index("<|pad|>"),
        "do_sample": True,
        "temperature": 0.8,
        "top_k": 40,
        "max_new_tokens": 128,
        "transformers_version": "4.46.0",
    }


@torch.no_grad()
def generate(model, ids, max_new, stop_ids, temperature=0.0, top_k=40, seed=0, max_len=256):
    """Greedy when temperature == 0, else top-k sampling. Returns the new ids (stop id included)."""
    g = torch.Generator().manual_seed(seed)
    model.eval()
    seq = list(ids)
    out = []
    for _ in range(max_new):
        x = torch.tensor([seq[-max_len:]], dtype=torch.long)
        logits = model(x)[0, -1].to(torch.float64)
        if temperature == 0.0:
            nxt = int(torch.argmax(logits))
        else:
            v, ix = torch.topk(logits / temperature, top_k)
            p = torch.softmax(v, dim=-1)
            nxt = int(ix[torch.multinomial(p, 1, generator=g)])
        out.append(nxt)
        seq.append(nxt)
        if nxt in stop_ids:
            break
    return out


@torch.no_grad()
def eval_file(model, seqs, encode_checks):
    """eval_tokens.json: sequences (N, T) of held-out ids and their loss, computed as the engine
    will: float32 forward, labels = input_ids, shifted CE, mean over all N*(T-1) predicted tokens."""
    model.eval()
    logits = model(seqs)  # float32
    loss32, count = masked_ce(logits, seqs)
    loss64, _ = masked_ce(logits.to(torch.float64), seqs)
    per_seq = [float(masked_ce(logits[i:i + 1], seqs[i:i + 1])[0]) for i in range(seqs.shape[0])]
    return {
        "description": "Held-out evaluation sequences for the embedded base model. loss = mean cross-entropy "
                       "over every predicted token (labels = input_ids, position t predicts t+1), forward in "
                       "float32 (loss_float32) with the float32 logits reduced in float64 (loss_float64_reduce).",
        "seq_len": int(seqs.shape[1]),
        "num_sequences": int(seqs.shape[0]),
        "predicted_tokens": int(count),
        "loss_float32": float(loss32),
        "loss_float64_reduce": float(loss64),
        "perplexity": math.exp(float(loss32)),
        "per_sequence_loss_float32": per_seq,
        "sequences": seqs.tolist(),
        "encode_checks": encode_checks,
    }
