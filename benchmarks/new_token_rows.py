"""New-token rows: whole embedding matrices vs PEFT trainable tokens, side by side.

On tiny models of real architectures (real vocabularies, tied and untied heads) with the
last `--new` rows playing the new tokens, each way is built as the trainer builds it,
takes one AdamW step on a short batch, and is saved:

* `embeddings.new_rows_only`: before, both matrices trained (the old gradient mask kept
  old rows fixed but Adam still held state for every row) and a checkpoint held the whole
  model; now trainable tokens (`langadapt.models.adapters.trainable_tokens_config`).
* `lora.train_embeddings`: before, `modules_to_save` (a copy of each whole matrix in the
  adapter); now `trainable_token_indices` (`lora_config(..., train_embeddings=True)`).

Measured: Adam state bytes (exp_avg + exp_avg_sq), gradient bytes after backward, and
bytes on disk of what is saved. The same formula then gives the 7B figures of
docs/training.md. `ratio` = trainable tokens / before (smaller is better).

    python benchmarks/new_token_rows.py [--new 1000] [--hidden 64] [--arch qwen3 llama gemma3]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

TOKENIZER = {"qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3"}


def _state_bytes(opt: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for s in opt.state.values() for k, t in s.items() if k != "step")


def _disk_bytes(folder: Path, names: tuple[str, ...]) -> int:
    return sum((folder / n).stat().st_size for n in names if (folder / n).is_file())


def _step(model, ids: torch.Tensor) -> tuple[int, int]:
    """One AdamW step over the trainable parameters; (Adam state bytes, gradient bytes)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    model(input_ids=ids, labels=ids).loss.backward()
    grad = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    opt.step()
    return _state_bytes(opt), grad


def measure(model_dir: Path, way: str, new: int, work: Path) -> dict:
    """Build `way` on a fresh copy of the model, step once, save; return the byte counts."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from langadapt.models.adapters import lora_config, tied_tokens_quiet, trainable_tokens_config

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    rows = model.get_input_embeddings().weight.shape[0]
    ids = list(range(rows - new, rows))
    if way == "embeddings:whole":
        for p in model.parameters():
            p.requires_grad_(False)
        for mod in (model.get_input_embeddings(), model.get_output_embeddings()):
            mod.weight.requires_grad_(True)
        saved = ("model.safetensors",)
    elif way == "embeddings:tokens":
        with tied_tokens_quiet():
            model = get_peft_model(model, trainable_tokens_config(model, ids))
        saved = ("adapter_model.safetensors",)
    else:
        which = "all" if way == "lora:whole" else True
        cfg = lora_config(model, r=16, train_embeddings=which, token_ids=ids)
        with tied_tokens_quiet():
            model = get_peft_model(model, cfg)
        saved = ("adapter_model.safetensors",)
    batch = torch.randint(0, rows, (2, 64), generator=torch.Generator().manual_seed(0))
    adam, grad = _step(model, batch)
    out = work / way.replace(":", "-")
    model.save_pretrained(out)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"adam": adam, "grad": grad, "disk": _disk_bytes(out, saved), "trainable": trainable}


def seven_b(new: int = 16_000, hidden: int = 3584, vocab: int = 152_064, matrices: int = 2) -> dict:
    """Qwen2.5-7B (hidden 3584, untied head, 152,064 rows) + `new` tokens, fp32 Adam and grads."""
    rows = vocab + new
    whole, tokens = matrices * rows * hidden, matrices * new * hidden
    return {"whole_params": whole, "token_params": tokens,
            "adam_whole_gb": 8 * whole / 1e9, "adam_tokens_gb": 8 * tokens / 1e9,
            "adapter_whole_bf16_gb": 2 * whole / 1e9, "adapter_tokens_bf16_gb": 2 * tokens / 1e9}


def _row(name: str, value: float, unit: str, baseline: float) -> str:
    return json.dumps({"name": name, "value": value, "unit": unit, "baseline": baseline,
                       "ratio": value / baseline if baseline else None})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new", type=int, default=1000, help="rows playing the new tokens")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--arch", nargs="+", default=["qwen3", "llama", "gemma3"])
    a = ap.parse_args()
    from langadapt.models.tiny import make_tiny
    from langadapt.paths import tokenizers_root

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for arch in a.arch:
            model_dir = make_tiny(arch, tokenizers_root() / TOKENIZER[arch], work / arch, layers=2,
                                  hidden=a.hidden, heads=4, kv_heads=2, intermediate=2 * a.hidden)
            for method in ("embeddings", "lora"):
                before = measure(model_dir, f"{method}:whole", a.new, work / arch)
                after = measure(model_dir, f"{method}:tokens", a.new, work / arch)
                for key, unit in (("adam", "Adam state bytes"), ("grad", "gradient bytes"),
                                  ("disk", "bytes saved"), ("trainable", "trainable parameters")):
                    print(_row(f"{arch}.{method}.{key}", after[key], unit, before[key]), flush=True)
    est = seven_b()
    print(_row("qwen2.5-7b+16k.adam_gb", est["adam_tokens_gb"], "GB (fp32 Adam, computed)",
               est["adam_whole_gb"]))
    print(_row("qwen2.5-7b+16k.adapter_gb", est["adapter_tokens_bf16_gb"], "GB (bf16 rows, computed)",
               est["adapter_whole_bf16_gb"]))


if __name__ == "__main__":
    main()
