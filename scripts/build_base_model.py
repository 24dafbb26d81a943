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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all", "tokenizer"])
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "playground-base-build"),
                    help="intermediate files: corpus, token ids, checkpoints (kept out of the repository)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    if args.stage in ("all", "tokenizer"):
        stage_tokenizer(args)


if __name__ == "__main__":
    main()
