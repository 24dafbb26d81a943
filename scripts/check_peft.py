"""Proves an exported PEFT LoRA adapter, applied to its base model in PyTorch, computes what the engine did.

    /usr/bin/python3 scripts/check_peft.py            # check the committed fixtures
    /usr/bin/python3 scripts/check_peft.py --write    # ... and (re)write their torch_logits.json

The fixtures (src/model/fixtures/peft/<name>/) are written by
`UPDATE_FIXTURES=1 npx vitest run src/model/peftExport.test.ts`: a LoRA adapter trained 6 steps on
the GPU engine over a tiny HF-format model (e2e/fixtures/tiny-hf-model/, llama tied BF16 and qwen2
untied F16), exported by src/model/peftExport.ts (adapter_model.safetensors + adapter_config.json,
as peft 0.13's save_pretrained writes them), merged/ (the merged model, src/model/export.ts's
format), and engine_logits.json: the LoRA engine's logits for a fixed input and the base model's
folder (with the sha256 of its weight files).

peft is not installed here, so this script applies the adapter by PEFT's own rules
(peft.tuners.lora.layer.Linear, peft 0.13): the saved key base_model.model.<module>.lora_A.weight
belongs to the nn.Linear <module> of the base model (PeftModelForCausalLM → LoraModel → the HF
model: two `base_model.model.` hops; the adapter name is stripped on save); each target module
(every Linear whose last name is in target_modules) must have exactly one A (r, in) and B (out, r);
scaling = lora_alpha / r (use_rslora false). Two ways, both in float64:
  merged    W' = W + scaling · B @ A, loaded into scripts/torch_llama.py's model (merge_and_unload)
  unmerged  forward hooks on the base Linears: y = x W^T + b + scaling · (x A^T) B^T (PEFT's forward)
Both must match the engine's float32 logits to 1e-4 (exit 1 otherwise), the base model alone must
be far from them (the adapter is not a no-op), and merged/ (the merged export) must match too.
--write stores the PEFT-forward logits (and merged/'s) in torch_logits.json, which
peftExport.test.ts compares with the engine on CI without torch.
"""
import glob
import hashlib
import json
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_llama import LlamaForCausalLM  # noqa: E402
from check_export import model_config, read_safetensors  # noqa: E402

ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "src", "model", "fixtures", "peft")
TOLERANCE = 1e-4
KEY = re.compile(r"^base_model\.model\.(.+)\.lora_([AB])\.weight$")


def read_model_folder(folder, sha256=None):
    """config.json + model.safetensors (or the shards of model.safetensors.index.json) → (cfg, state)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = model_config(json.load(f))
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    state = {}
    for name in files:
        path = os.path.join(folder, name)
        if sha256 is not None:
            with open(path, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            assert got == sha256.get(name), f"{path}: sha256 {got}, the fixture was made on {sha256.get(name)}"
        part, _ = read_safetensors(path)
        assert not set(part) & set(state), f"{path}: tensors repeated across shards"
        state.update(part)
    return cfg, state


def build(cfg, state):
    model = LlamaForCausalLM(cfg).to(torch.float64)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def read_adapter(folder, model):
    """adapter_config.json + adapter_model.safetensors → (scaling, {module name: (A, B)}), checked against the model."""
    with open(os.path.join(folder, "adapter_config.json")) as f:
        ac = json.load(f)
    expect = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
              "use_dora": False, "modules_to_save": None, "lora_dropout": 0, "init_lora_weights": True, "inference_mode": True,
              "layers_to_transform": None, "rank_pattern": {}, "alpha_pattern": {}}
    for k, v in expect.items():
        assert ac.get(k) == v, f"adapter_config.json: {k} is {ac.get(k)!r}, expected {v!r}"
    assert ac["base_model_name_or_path"], "adapter_config.json: no base_model_name_or_path"
    r, alpha, targets = ac["r"], ac["lora_alpha"], set(ac["target_modules"])
    state, meta = read_safetensors(os.path.join(folder, "adapter_model.safetensors"))
    assert meta.get("format") == "pt", f"adapter __metadata__ {meta}: PEFT saves format 'pt'"
    pairs = {}
    for key, t in state.items():
        m = KEY.match(key)
        assert m, f"{key}: not a PEFT LoRA key (base_model.model.<module>.lora_A/B.weight, no adapter name)"
        pairs.setdefault(m.group(1), {})[m.group(2)] = t
    linears = {n: mod for n, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}
    wanted = {n for n in linears if n.split(".")[-1] in targets}
    assert set(pairs) == wanted, f"adapted modules {sorted(set(pairs) ^ wanted)} differ from target_modules {sorted(targets)}"
    out = {}
    for name, ab in pairs.items():
        lin = linears[name]
        A, B = ab["A"], ab["B"]
        assert tuple(A.shape) == (r, lin.in_features), f"{name}.lora_A: shape {tuple(A.shape)}, expected (r, in) = {(r, lin.in_features)}"
        assert tuple(B.shape) == (lin.out_features, r), f"{name}.lora_B: shape {tuple(B.shape)}, expected (out, r) = {(lin.out_features, r)}"
        out[name] = (A, B)
    return ac, alpha / r, out


def run(model, ids):
    with torch.no_grad():
        return model(ids)  # (B, T, V), plain causal attention: no padding in the input


def check(folder, write):
    with open(os.path.join(folder, "engine_logits.json")) as f:
        eng = json.load(f)
    base_dir = os.path.join(ROOT, eng["base_model"])
    cfg, base_state = read_model_folder(base_dir, eng.get("base_sha256"))
    ids = torch.tensor(eng["input_ids"], dtype=torch.long)
    want = torch.tensor(eng["logits"], dtype=torch.float64).reshape(eng["shape"])

    base = build(cfg, base_state)
    ac, scaling, adapter = read_adapter(folder, base)
    base_logits = run(base, ids)

    # Unmerged: PEFT's Linear forward, result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling.
    hooks = []
    for name, mod in base.named_modules():
        if name in adapter:
            A, B = adapter[name]
            hooks.append(mod.register_forward_hook(lambda m, inp, out, A=A, B=B: out + scaling * ((inp[0] @ A.T) @ B.T)))
    unmerged = run(base, ids)
    for h in hooks:
        h.remove()

    # Merged: W' = W + scaling · B @ A (merge_and_unload).
    merged_state = dict(base_state)
    for name, (A, B) in adapter.items():
        merged_state[f"{name}.weight"] = base_state[f"{name}.weight"] + scaling * (B @ A)
    merged = run(build(cfg, merged_state), ids)

    mcfg, mstate = read_model_folder(os.path.join(folder, "merged"))
    same = lambda c: {k: v for k, v in c.items() if k != "torch_dtype"}  # the export stores float32
    assert same(mcfg) == same(cfg), f"merged/config.json describes {mcfg}, the base {cfg}"
    export = run(build(mcfg, mstate), ids)

    err = {
        "unmerged": (unmerged - want).abs().max().item(),
        "merged": (merged - want).abs().max().item(),
        "merged_export": (export - want).abs().max().item(),
    }
    between = (unmerged - merged).abs().max().item()
    effect = (base_logits - want).abs().max().item()
    ok = all(e <= TOLERANCE for e in err.values()) and effect > 100 * TOLERANCE
    print(f"{os.path.relpath(folder, ROOT)}: {cfg['model_type']} + LoRA {sorted(ac['target_modules'])} r {ac['r']} alpha {ac['lora_alpha']} "
          f"({len(adapter)} modules), logits {tuple(want.shape)}: max |torch float64 - engine float32| "
          f"unmerged {err['unmerged']:.3e}, merged {err['merged']:.3e}, merged export {err['merged_export']:.3e}; "
          f"unmerged vs merged {between:.1e}; base alone off by {effect:.3f} "
          f"({'ok' if ok else 'FAIL'}, tolerance {TOLERANCE:g})")
    if write:
        with open(os.path.join(folder, "torch_logits.json"), "w") as f:
            json.dump({
                "description": "PyTorch (scripts/torch_llama.py, float64) logits for input_ids of base_model with this adapter applied by PEFT's "
                               "LoRA forward (logits) and of merged/ (merged_export_logits); written by scripts/check_peft.py --write.",
                "torch_version": torch.__version__, "input_ids": eng["input_ids"], "shape": list(want.shape),
                "max_abs_error_vs_engine": err, "max_abs_unmerged_vs_merged": between, "max_abs_base_vs_engine": effect,
                "logits": [round(x, 9) for x in unmerged.flatten().tolist()],
                "merged_export_logits": [round(x, 9) for x in export.flatten().tolist()],
            }, f)
            f.write("\n")
    return ok


def main():
    torch.set_num_threads(1)
    write = "--write" in sys.argv[1:]
    folders = [a for a in sys.argv[1:] if a != "--write"] or sorted(glob.glob(os.path.join(FIXTURES, "*", "")))
    if not folders:
        sys.exit(f"No adapter folders under {FIXTURES}: run UPDATE_FIXTURES=1 npx vitest run src/model/peftExport.test.ts first.")
    results = [check(os.path.abspath(d), write) for d in folders]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
