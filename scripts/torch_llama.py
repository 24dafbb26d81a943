"""The LLaMA-family decoder in plain PyTorch: the module both offline scripts share.

It is the same model as src/reference/model.ts and the WGSL engine, with Hugging Face
parameter names, so a state dict saved from it loads in `transformers`' LlamaForCausalLM
(and the engine loads HF checkpoints the same way):

  model.embed_tokens.weight                     (V, C)
  model.layers.{i}.input_layernorm.weight       (C,)
  model.layers.{i}.self_attn.q_proj.weight      (NH*hs, C)   [+ .bias (NH*hs,) if attention_bias]
  model.layers.{i}.self_attn.k_proj.weight      (NKV*hs, C)  [+ .bias]
  model.layers.{i}.self_attn.v_proj.weight      (NKV*hs, C)  [+ .bias]
  model.layers.{i}.self_attn.o_proj.weight      (C, NH*hs)
  model.layers.{i}.post_attention_layernorm.weight (C,)
  model.layers.{i}.mlp.gate_proj.weight         (F, C)
  model.layers.{i}.mlp.up_proj.weight           (F, C)
  model.layers.{i}.mlp.down_proj.weight         (C, F)
  model.norm.weight                             (C,)
  lm_head.weight                                (V, C)   absent when tie_word_embeddings

RoPE is Hugging Face's "rotate_half" layout: within a head, dimension j pairs with j + hs/2,
with inverse frequency theta^(-2j/hs) for j < hs/2.

Attention masking: `attn_mask` (B, T, T) bool, True where query t may attend key s.
The causal + padding + per-document mask is built by `build_attention_mask`.
Loss: HF labels (labels = input_ids, masked = -100), shifted inside the loss, see `masked_ce`.

Run with Debian's torch: /usr/bin/python3 (needs python3-torch, libopenblas0-pthread).
"""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

IGNORE_INDEX = -100


class RMSNorm(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * rstd * self.weight


def rope_cos_sin(T, hs, theta, dtype, positions=None):
    """cos, sin of shape (B or 1, T, hs) in rotate_half layout."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    pos = torch.arange(T, dtype=torch.float64)[None, :] if positions is None else positions.to(torch.float64)
    freqs = pos[..., None] * inv_freq  # (B, T, hs/2)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    # x: (B, H, T, hs); cos/sin: (B, T, hs)
    return x * cos[:, None] + rotate_half(x) * sin[:, None]


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.NH, self.NKV, self.hs = NH, NKV, C // NH
        bias = bool(cfg.get("attention_bias", False))
        self.q_proj = nn.Linear(C, NH * self.hs, bias=bias)
        self.k_proj = nn.Linear(C, NKV * self.hs, bias=bias)
        self.v_proj = nn.Linear(C, NKV * self.hs, bias=bias)
        self.o_proj = nn.Linear(NH * self.hs, C, bias=False)

    def forward(self, x, cos, sin, attn_mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.NH, self.hs).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.NKV, self.hs).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.NKV, self.hs).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.NH // self.NKV
        k = k.repeat_interleave(rep, dim=1)  # query head h reads kv head h // rep
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hs)
        att = att.masked_fill(~attn_mask[:, None], float("-inf"))
        att = torch.softmax(att, dim=-1)
        att = torch.nan_to_num(att, nan=0.0)  # a fully masked row (padding query) attends to nothing
        y = (att @ v).transpose(1, 2).reshape(B, T, self.NH * self.hs)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, Fh = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(C, Fh, bias=False)
        self.up_proj = nn.Linear(C, Fh, bias=False)
        self.down_proj = nn.Linear(Fh, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, attn_mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, attn_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Inner(cfg)
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, attn_mask=None, positions=None):
        """input_ids (B, T) long → logits (B, T, V)."""
        B, T = input_ids.shape
        if attn_mask is None:
            attn_mask = build_attention_mask(torch.ones(B, T, dtype=torch.bool))
        x = self.model.embed_tokens(input_ids)
        hs = self.cfg["hidden_size"] // self.cfg["num_attention_heads"]
        cos, sin = rope_cos_sin(T, hs, self.cfg["rope_theta"], x.dtype, positions)
        for blk in self.model.layers:
            x = blk(x, cos, sin, attn_mask)
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return x @ w.t()


def build_attention_mask(valid, doc_ids=None):
    """valid (B, T) bool: real tokens (False = padding). doc_ids (B, T) int: packed documents.
    Returns (B, T, T) bool: causal, keys must be valid, and in the same document as the query."""
    B, T = valid.shape
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))[None]
    m = causal & valid[:, None, :] & valid[:, :, None]
    if doc_ids is not None:
        m = m & (doc_ids[:, :, None] == doc_ids[:, None, :])
    return m


def masked_ce(logits, labels, weights=None, mode="mean_tokens"):
    """HF-style shifted masked cross-entropy.

    logits (B, T, V); labels (B, T) with -100 = masked; weights (B, T) per-label weight (default 1).
    Position t predicts labels[t+1]. Returns (loss, weight_sum). With no trained position the loss
    is 0 and weight_sum 0 (never NaN).
    mode: "mean_tokens" = sum / total trained weight in the batch (HF num_items_in_batch);
          "mean_sequences" = per-sequence weighted mean, then mean over sequences that have a trained token;
          "sum" = plain weighted sum.
    """
    B, T, V = logits.shape
    tgt = labels[:, 1:]
    lg = logits[:, :-1]
    w = torch.ones_like(tgt, dtype=logits.dtype) if weights is None else weights[:, 1:].to(logits.dtype)
    mask = (tgt != IGNORE_INDEX)
    w = w * mask
    lse = torch.logsumexp(lg, dim=-1)
    picked = lg.gather(-1, tgt.clamp(min=0)[..., None])[..., 0]
    per = (lse - picked) * w  # (B, T-1)
    wsum = w.sum()
    if mode == "sum":
        return per.sum(), wsum
    if mode == "mean_sequences":
        ws = w.sum(dim=1)
        has = ws > 0
        if not bool(has.any()):
            return per.sum() * 0.0, wsum
        return (per.sum(dim=1)[has] / ws[has]).mean(), wsum
    if float(wsum) == 0.0:
        return per.sum() * 0.0, wsum
    return per.sum() / wsum, wsum
