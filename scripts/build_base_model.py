"""Build the embedded base model in public/models/playground-base/ from scratch, offline.

  /usr/bin/python3 scripts/build_base_model.py [--minutes 40] [--stage all|tokenizer|train|export]

Needs Debian packages (checked first, with the apt command to run when missing):
  python3-torch libopenblas0-pthread python3-regex fortunes fortunes-min dict-gcide debian-reference-en

Stages (each reads the previous one's output from --work, default $TMPDIR/playground-base-build/):
  tokenizer  corpus from the Debian packages (scripts/base_corpus.py) -> byte-level BPE
             (scripts/base_bpe.py) -> tokenizer.json, tokenizer_config.json
  train      tokenize the corpus, pretrain scripts/torch_llama.py's LlamaForCausalLM for --minutes
             of wall time (AdamW, warmup + cosine), checkpoint to --work every --ckpt-minutes
  export     config.json, generation_config.json, model.safetensors (F32, HF names),
             eval_tokens.json (held-out sequences + float32 loss), README.md (model card, samples)
`all` runs the three in order. Deterministic given the seed, except the number of steps that fit
in the time budget (recorded in the model card).
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import base_corpus  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, "public", "models", "playground-base")

VOCAB_SIZE = 4096
SPECIALS = base_corpus.SPECIALS  # ids 0..3: <|endoftext|> (bos = eos), <|im_start|>, <|im_end|>, <|pad|>
MAX_LEN = 256

# ChatML, content not trimmed; the playground's data code relies on this exact text.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def tokenizer_config():
    added = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for i, s in enumerate(SPECIALS)}
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|pad|>",
        "unk_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_LEN,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def stage_tokenizer(args):
    import base_bpe
    base_corpus.check_packages()
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(OUT_DIR, exist_ok=True)
    log("corpus: extracting from Debian packages")
    train, held, stats = base_corpus.build_corpus(seed=args.seed)
    with open(os.path.join(args.work, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"train": train, "heldout": held, "stats": stats}, f, ensure_ascii=False)
    log(f"corpus: {len(train)} train docs, {len(held)} held-out docs, chars per source {stats}")
    counts = base_bpe.word_counts(train, SPECIALS)
    log(f"bpe: {len(counts)} unique pre-tokens, learning {VOCAB_SIZE - len(SPECIALS) - 256} merges")
    merges = base_bpe.train_bpe(counts, VOCAB_SIZE - len(SPECIALS) - 256, log=log)
    tok = base_bpe.build_tokenizer_json(merges, SPECIALS)
    if len(tok["model"]["vocab"]) != VOCAB_SIZE:
        raise SystemExit(f"bpe: vocabulary has {len(tok['model']['vocab'])} tokens, expected {VOCAB_SIZE}")
    base_bpe.save_json(os.path.join(OUT_DIR, "tokenizer.json"), tok)
    base_bpe.save_json(os.path.join(OUT_DIR, "tokenizer_config.json"), tokenizer_config())
    log(f"tokenizer: wrote {OUT_DIR}/tokenizer.json and tokenizer_config.json")


MODEL_CONFIG = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 256,            # C
    "intermediate_size": 688,      # F ~ 2.7 C (SwiGLU)
    "num_hidden_layers": 4,        # L
    "num_attention_heads": 8,      # NH, head size hs = 32
    "num_key_value_heads": 2,      # NKV: grouped-query attention, 4 query heads per kv head
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "max_position_embeddings": MAX_LEN,
    "attention_bias": False,
}


def check_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit("build_base_model: PyTorch is missing. Run with Debian's /usr/bin/python3 after\n"
                         "  apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread")


def load_corpus(work):
    p = os.path.join(work, "corpus.json")
    if not os.path.exists(p):
        raise SystemExit(f"build_base_model: {p} is missing; run the tokenizer stage first (--stage tokenizer)")
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def load_encoder():
    import base_bpe
    with open(os.path.join(OUT_DIR, "tokenizer.json"), encoding="utf-8") as f:
        return base_bpe.Encoder(json.load(f))


def stage_train(args):
    check_torch()
    import torch
    import base_train
    torch.set_num_threads(args.threads)
    corpus = load_corpus(args.work)
    enc = load_encoder()
    eos = SPECIALS.index("<|endoftext|>")
    log("train: tokenizing the corpus")
    stream, starts = base_train.token_stream(enc, corpus["train"], eos)
    held, _ = base_train.token_stream(enc, corpus["heldout"], eos)
    torch.save({"train": stream, "starts": starts, "heldout": held}, os.path.join(args.work, "tokens.pt"))
    held_seqs = base_train.eval_sequences(held, MAX_LEN)
    base_train.train(MODEL_CONFIG, stream, starts, held_seqs, args.work, args.minutes, args.ckpt_minutes,
                     args.seed, args.resume)


def stage_export(args):
    check_torch()
    import torch
    import base_bpe
    import base_export
    import base_train
    from torch_llama import LlamaForCausalLM
    torch.set_num_threads(args.threads)
    corpus = load_corpus(args.work)
    enc = load_encoder()
    with open(os.path.join(args.work, "train_summary.json")) as f:
        summary = json.load(f)
    toks = torch.load(os.path.join(args.work, "tokens.pt"))
    model = LlamaForCausalLM(MODEL_CONFIG)
    model.load_state_dict(torch.load(os.path.join(args.work, "model.pt")))
    model.eval()

    tensors = {k: v for k, v in model.state_dict().items()}
    st_path = os.path.join(OUT_DIR, "model.safetensors")
    base_export.write_safetensors(st_path, tensors, {"format": "pt"})
    back = base_export.read_safetensors(st_path)
    for k, v in tensors.items():
        if not torch.equal(back[k], v):
            raise SystemExit(f"export: {k} does not read back bit-exactly from {st_path}")
    base_bpe.save_json(os.path.join(OUT_DIR, "config.json"), base_export.hf_config(MODEL_CONFIG, SPECIALS))
    base_bpe.save_json(os.path.join(OUT_DIR, "generation_config.json"), base_export.generation_config(SPECIALS))
    log(f"export: wrote {st_path} ({len(tensors)} tensors), config.json, generation_config.json")

    held_seqs = base_train.eval_sequences(toks["heldout"], MAX_LEN)
    full = base_train.mean_ce(model, held_seqs)
    log(f"export: held-out loss over all {held_seqs.shape[0]} sequences {full:.4f} (ppl {math.exp(full):.2f})")
    # Held-out texts with their Python ids: the JS tokenizer must reproduce them (src/model/playgroundBase.test.ts).
    checks = [{"text": d, "ids": enc.encode(d)} for d in corpus["heldout"] if len(d) < 1500][:40]
    ev = base_export.eval_file(model, held_seqs[:EVAL_SEQS], checks)
    ev["heldout_all"] = {"num_sequences": int(held_seqs.shape[0]), "loss_float32": full, "perplexity": math.exp(full)}
    with open(os.path.join(OUT_DIR, "eval_tokens.json"), "w", encoding="utf-8") as f:
        json.dump(ev, f, ensure_ascii=False, separators=(",", ":"))
    log(f"export: eval_tokens.json: {EVAL_SEQS} sequences, loss {ev['loss_float32']:.5f} ppl {ev['perplexity']:.2f}")

    samples = []
    stop = [SPECIALS.index("<|endoftext|>"), SPECIALS.index("<|im_end|>")]
    for prompt, temp, seed in SAMPLE_PROMPTS:
        new = base_export.generate(model, enc.encode(prompt), 80, stop, temperature=temp, seed=seed, max_len=MAX_LEN)
        text = decode(enc, new)
        samples.append({"prompt": prompt, "temperature": temp, "seed": seed, "completion": text})
        log(f"sample (T={temp}): {prompt!r} -> {text!r}")
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8") as f:
        f.write(model_card(summary, corpus["stats"], ev, samples, sum(v.numel() for v in tensors.values())))
    log("export: wrote README.md")


def decode(enc, ids):
    import base_bpe
    inv = {v: k for k, v in enc.vocab.items()}
    u2b = {c: b for b, c in base_bpe.B2U.items()}
    parts = []
    for i in ids:
        s = inv[i]
        parts.append(s.encode("utf-8") if i < len(SPECIALS) else bytes(u2b[c] for c in s))
    return b"".join(parts).decode("utf-8", errors="replace")


EVAL_SEQS = 64
SAMPLE_PROMPTS = [
    ("The meaning of", 0.0, 0),
    ("<|im_start|>user\nWhat does \"lantern\" mean?<|im_end|>\n<|im_start|>assistant\n", 0.0, 0),
    ("<|im_start|>user\nTell me a saying.<|im_end|>\n<|im_start|>assistant\n", 0.8, 1),
    ("A man who", 0.8, 2),
]


def model_card(summary, stats, ev, samples, n_params):
    import base_corpus as bc
    c = MODEL_CONFIG
    src_rows = "\n".join(f"| {s['name']} | {s['what']} | {s['licence']} |" for s in bc.SOURCES)
    stat_rows = "\n".join(f"| {k} | {v:,} |" for k, v in stats.items())
    sample_txt = "\n\n".join(
        f"**{'greedy' if s['temperature'] == 0 else 'temperature ' + str(s['temperature']) + ', top-k 40, seed ' + str(s['seed'])}**, "
        f"prompt `{json.dumps(s['prompt'])}`:\n\n```text\n{s['prompt']}{s['completion']}\n```" for s in samples)
    ha = ev["heldout_all"]
    return f"""---
license: gpl-2.0
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [llama, tiny, base-model, sft-playground]
---

# playground-base

A tiny LLaMA-architecture base model ({n_params:,} parameters), pretrained from scratch on a CPU
for the SFT loss-masking playground. It knows a little English, dictionary definitions and the
ChatML layout; it is meant to be fine-tuned in the browser, not used for anything else.

Rebuild it (corpus, tokenizer, data order and initialisation are deterministic; the number of
steps, and so the learning-rate curve, depends on how fast the machine runs in the time budget):

```sh
apt-get install -y --no-install-recommends {' '.join(['python3-torch', 'libopenblas0-pthread'] + bc.APT_PACKAGES)}
/usr/bin/python3 scripts/build_base_model.py --minutes {summary['budget_minutes']:g}
```

## Architecture (`config.json`, Hugging Face `LlamaConfig` names)

| field | value |
|---|---|
| vocab_size V | {c['vocab_size']} |
| hidden_size C | {c['hidden_size']} |
| intermediate_size F | {c['intermediate_size']} |
| num_hidden_layers L | {c['num_hidden_layers']} |
| num_attention_heads NH | {c['num_attention_heads']} (head size {c['hidden_size'] // c['num_attention_heads']}) |
| num_key_value_heads NKV | {c['num_key_value_heads']} (grouped-query attention) |
| max_position_embeddings | {c['max_position_embeddings']} |
| rope_theta | {c['rope_theta']} |
| rms_norm_eps | {c['rms_norm_eps']} |
| tie_word_embeddings | {str(c['tie_word_embeddings']).lower()} |
| attention_bias | {str(c['attention_bias']).lower()} |

Weights: `model.safetensors`, all F32, Hugging Face parameter names (`model.embed_tokens.weight`,
`model.layers.{{i}}.self_attn.q_proj.weight`, ..., `model.norm.weight`; no `lm_head.weight` because
the head is tied to the embedding). RoPE uses the `rotate_half` layout. Names, shapes and layout are
those of `transformers`' `LlamaForCausalLM`.

## Tokenizer

Byte-level BPE (GPT-2 pre-tokenizer regex, no prefix space), {c['vocab_size']} tokens, trained on the
training split below by `scripts/base_bpe.py`:

| id | token | role |
|---|---|---|
| 0 | `<\\|endoftext\\|>` | bos = eos, separates pretraining documents |
| 1 | `<\\|im_start\\|>` | ChatML turn start |
| 2 | `<\\|im_end\\|>` | ChatML end of turn (distinct from eos and pad) |
| 3 | `<\\|pad\\|>` | padding (never trained on) |
| 4-259 | bytes 0x00-0xFF | |
| 260-4095 | merges | |

No BOS is added when encoding. The chat template is ChatML and does not trim content:
`<|im_start|>{{role}}\\n{{content}}<|im_end|>\\n` per message, and `<|im_start|>assistant\\n` as the
generation prompt. `generation_config.json` stops on `<|endoftext|>` and `<|im_end|>`.

## Training data

Extracted by `scripts/base_corpus.py` from Debian packages (Debian 12), all redistributable:

| source | content | licence |
|---|---|---|
{src_rows}

Characters per part (train + held-out, before tokenization):

| part | characters |
|---|---|
{stat_rows}

"chat" parts are ChatML conversations built from the same text: "What does X mean?" -> the
dictionary's first sense (1-3 questions per conversation, sometimes with a system prompt), and
"Tell me a saying." (and similar) -> a fortune. Documents are split into train and held-out by a
hash of their text (2% held out). Because the training data contains GPL-2.0-or-later text, the
weights are released under GPL-2.0-or-later.

## Pretraining

`scripts/torch_llama.py`'s `LlamaForCausalLM` and `masked_ce`, PyTorch {summary['torch_version']} on
{summary['threads']} CPU thread(s) of a 2-core machine shared with other jobs, float32.
AdamW (betas 0.9/0.95, weight decay {summary['weight_decay']} on matrices), peak LR {summary['lr_max']},
{summary['warmup']} warmup steps, then cosine decay to {summary['lr_min']} over the wall-time budget
(the machine is shared, so the schedule follows time, not steps), gradient clipping 1.0. Each step:
{summary['batch_rows']} rows of {summary['seq_len']} tokens from the concatenated training stream (half of
the rows start at a document start), labels = input ids.

| | |
|---|---|
| steps | {summary['steps']} |
| tokens trained | {summary['tokens_trained']:,} |
| training stream | {summary['train_stream_tokens']:,} tokens (~{summary['tokens_trained'] / summary['train_stream_tokens']:.2f} epochs) |
| wall time | {summary['wall_minutes']} min |
| final training loss (mean of last 50 steps) | {summary['final_train_loss_avg50']:.4f} |

## Evaluation

Mean cross-entropy over every predicted token of held-out sequences of {ev['seq_len']} tokens
(labels = input ids, shifted), forward in float32:

| set | sequences | loss | perplexity |
|---|---|---|---|
| all held-out | {ha['num_sequences']} | {ha['loss_float32']:.4f} | {ha['perplexity']:.2f} |
| `eval_tokens.json` | {ev['num_sequences']} | {ev['loss_float32']:.5f} | {ev['perplexity']:.2f} |

`eval_tokens.json` holds those {ev['num_sequences']} sequences of token ids and the loss, so the
playground's engine can recompute it (it should agree to about 1e-4), plus `encode_checks`:
held-out texts with the ids the Python tokenizer gave them, to check the JS tokenizer agrees.

## Samples

From `scripts/base_export.py`'s `generate` (no KV cache, context cut to {c['max_position_embeddings']}, stops at
`<|endoftext|>` or `<|im_end|>`, at most 80 new tokens). About {summary['tokens_trained'] / 1e6:.0f}M training tokens buy English
words, word order and the corpus's formats (dictionary answers, fortunes with attributions, ChatML
turns that end with `<|im_end|>`), not meaning.

{sample_txt}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all", "tokenizer", "train", "export"])
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "playground-base-build"),
                    help="intermediate files: corpus, token ids, checkpoints (kept out of the repository)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--minutes", type=float, default=40.0, help="wall-time budget for pretraining")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0, help="checkpoint + quick held-out eval interval")
    # On the shared 2-core machine, 2 threads spent ~8 CPU-s per step (OpenBLAS threads waiting on each
    # other while descheduled) against 2.4 CPU-s with 1 thread at the same wall-clock speed; hence 1.
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (the machine is shared; see above)")
    ap.add_argument("--resume", action="store_true", help="continue training from --work/ckpt.pt")
    args = ap.parse_args()
    if args.stage in ("all", "tokenizer"):
        stage_tokenizer(args)
    if args.stage in ("all", "train"):
        stage_train(args)
    if args.stage in ("all", "export"):
        stage_export(args)


if __name__ == "__main__":
    main()
