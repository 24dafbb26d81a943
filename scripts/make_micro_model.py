"""A micro model for the end-to-end tests: Hugging Face layout, the embedded model's tokenizer.

Training the embedded playground-base model on SwiftShader (the CPU WebGPU adapter headless
Chromium gets) takes tens of seconds per step, so e2e/train.spec.ts trains this one instead:
same vocabulary (4096, the 'default' tokenizer, so every sample the token view shows can be
trained), same LLaMA layout and tied head, but C = 16 and 2 layers (~75k parameters, ~0.3 MB).
Its weights are random (seeded), i.e. it knows nothing: the tests only need curves that move and
answers that appear. The embedding (= the tied head) is drawn with std 0.5 rather than HF's 0.02,
so the untrained model's per-token losses spread out instead of all sitting at ln(4096): the
prompt-token and response-token curves then differ from the first step.

Writes e2e/fixtures/micro-model/{config.json, generation_config.json, model.safetensors,
tokenizer.json, tokenizer_config.json}; the app loads it with `?model=/e2e/fixtures/micro-model/`
(Vite's dev server serves the project root).

Run: /usr/bin/python3 scripts/make_micro_model.py
"""
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_llama import LlamaForCausalLM  # noqa: E402
from base_export import generation_config, hf_config, write_safetensors  # noqa: E402

ROOT = os.path.dirname(HERE)
BASE = os.path.join(ROOT, "public", "models", "playground-base")
OUT = os.path.join(ROOT, "e2e", "fixtures", "micro-model")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

CFG = {
    "vocab_size": 4096,         # the default tokenizer's
    "hidden_size": 16,          # C
    "intermediate_size": 32,    # F
    "num_hidden_layers": 2,     # L
    "num_attention_heads": 2,   # NH (hs = 8)
    "num_key_value_heads": 1,   # NKV: grouped-query attention, as playground-base
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "attention_bias": False,
}


def main():
    torch.set_num_threads(1)
    torch.manual_seed(1234)
    model = LlamaForCausalLM(CFG)
    # nn.Embedding's default N(0, 1) makes the tied head's logits too peaked; 0.02 (HF) too flat.
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 0.5)
    os.makedirs(OUT, exist_ok=True)
    tensors = {k: v for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(OUT, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(hf_config(CFG, SPECIALS), f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump(generation_config(SPECIALS), f, indent=1)
        f.write("\n")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BASE, name), os.path.join(OUT, name))
    n = sum(v.numel() for v in tensors.values())
    size = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print(f"wrote {OUT}: {n:,} parameters, {size / 1e6:.2f} MB in all")


if __name__ == "__main__":
    main()
