"""Proves an exported fine-tuned model folder loads in PyTorch and computes what the engine did.

    /usr/bin/python3 scripts/check_export.py            # check the committed fixtures
    /usr/bin/python3 scripts/check_export.py --write    # ... and (re)write their torch_logits.json

The fixtures (src/model/fixtures/export/<name>/) are written by
`UPDATE_FIXTURES=1 npx vitest run src/model/export.test.ts`: the tiny HF-format models
(e2e/fixtures/tiny-hf-model/, llama tied and qwen2 untied) trained 6 steps on the GPU engine and
exported by src/model/export.ts (model.safetensors F32 + config.json + tokenizer files), plus
engine_logits.json: the engine's logits for a fixed input.

For each folder this script reads config.json, builds scripts/torch_llama.py's LlamaForCausalLM
(transformers is not installed here; that module has the same parameter names and maths), loads
model.safetensors with its own reader (JSON header + torch.frombuffer; strict state-dict load, so
a missing, extra or misshapen tensor fails), runs the input in float64 and prints the max |Δ|
against the engine's float32 logits. Exit status 1 if it exceeds 1e-4. --write stores the
PyTorch logits in torch_logits.json, which export.test.ts compares with the engine on CI without
torch.
"""
import glob
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_llama import LlamaForCausalLM  # noqa: E402

ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "src", "model", "fixtures", "export")
TOLERANCE = 1e-4
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """(tensors by name, metadata). Validates that the tensors tile the data region exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out, spans = {}, []
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = DTYPES[e["dtype"]]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).to(torch.float64)
        spans.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(spans):
        assert begin == at, f"{path}: gap or overlap before {name}"
        at = end
    assert at == len(data), f"{path}: {len(data) - at} stray bytes after the last tensor"
    return out, meta


def model_config(cfg):
    """config.json → torch_llama's dict. Qwen2 always has q/k/v biases (transformers hard-codes them)."""
    cfg = dict(cfg)
    if cfg["model_type"] == "qwen2":
        cfg["attention_bias"] = True
    cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
    cfg.setdefault("tie_word_embeddings", False)  # the default of both LlamaConfig and Qwen2Config
    return cfg


def check(folder, write):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = model_config(json.load(f))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        with open(os.path.join(folder, name)) as f:
            json.load(f)  # present and valid JSON
    state, meta = read_safetensors(os.path.join(folder, "model.safetensors"))
    assert meta.get("format") == "pt", f"__metadata__ {meta}: transformers expects format 'pt'"
    model = LlamaForCausalLM(cfg).to(torch.float64)
    model.load_state_dict(state, strict=True)
    model.eval()
    with open(os.path.join(folder, "engine_logits.json")) as f:
        eng = json.load(f)
    ids = torch.tensor(eng["input_ids"], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids)  # (B, T, V), plain causal attention: no padding in the input
    want = torch.tensor(eng["logits"], dtype=torch.float64).reshape(eng["shape"])
    err = (logits - want).abs().max().item()
    ok = err <= TOLERANCE
    print(f"{os.path.relpath(folder, ROOT)}: {cfg['model_type']}, tied={cfg['tie_word_embeddings']}, "
          f"{len(state)} tensors, logits {tuple(logits.shape)}: max |torch float64 - engine float32| = {err:.3e} "
          f"({'ok' if ok else 'FAIL'}, tolerance {TOLERANCE:g})")
    if write:
        with open(os.path.join(folder, "torch_logits.json"), "w") as f:
            json.dump({
                "description": "PyTorch (scripts/torch_llama.py, float64) logits of this exported model for input_ids; written by scripts/check_export.py --write.",
                "torch_version": torch.__version__, "input_ids": eng["input_ids"], "shape": list(logits.shape),
                "max_abs_error_vs_engine": err, "logits": [round(x, 9) for x in logits.flatten().tolist()],
            }, f)
            f.write("\n")
    return ok


def main():
    torch.set_num_threads(1)
    write = "--write" in sys.argv[1:]
    folders = [a for a in sys.argv[1:] if a != "--write"] or sorted(glob.glob(os.path.join(FIXTURES, "*", "")))
    if not folders:
        sys.exit(f"No export folders under {FIXTURES}: run UPDATE_FIXTURES=1 npx vitest run src/model/export.test.ts first.")
    results = [check(os.path.abspath(d), write) for d in folders]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
