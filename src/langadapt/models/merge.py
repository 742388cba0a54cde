"""Merge a PEFT adapter (LoRA, trainable tokens) into its base model and save an ordinary HF folder.

The merged folder loads with `AutoModelFor*` and vLLM without peft. Before writing, the
merged model's logits are compared with the adapter model's on a probe, so a merge that
changed behaviour is never written silently; `merge.json` records the comparison.
`merge_in_place` turns a training output folder holding a trainable-tokens adapter into
a model folder (the `embeddings` method with `new_rows_only`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch

from langadapt.errors import DataError, LangadaptError
from langadapt.models.resize_checks import logits_of, probe_ids
from langadapt.runs import (
    ResultRow,
    atomic_dir,
    atomic_write_json,
    cache_key,
    code_version,
    content_id,
    signature,
)
from langadapt.textio import iter_texts

log = logging.getLogger(__name__)

REPORT = "merge.json"


def _probe(tok, check_text: str | Path | None, seed: int) -> tuple[torch.Tensor, str]:
    if check_text:
        return probe_ids(tok, list(iter_texts([check_text], limit=64))), str(check_text)
    # Without text, random ids exercise the same weights; ids stay below the tokenizer size.
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, len(tok), (2, 32), generator=gen), "random ids"


def _named_base(adapter: Path) -> str:
    """The base model an adapter folder names (`base_model_name_or_path`)."""
    path = adapter / "adapter_config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"unreadable adapter config ({e})", file=str(path)) from None
    return str(cfg.get("base_model_name_or_path") or "")


def merge_adapter(adapter: str | Path, out: str | Path, *, base: str | Path | None = None,
                  dtype: str = "auto", device: str | None = None, check_text: str | Path | None = None,
                  seed: int = 0, force: bool = False) -> list[ResultRow]:
    """Merge the LoRA adapter folder `adapter` into its base and save the result under `out`."""
    from langadapt.models.loading import is_adapter_dir, load_model

    adapter, out = Path(adapter), Path(out)
    if not is_adapter_dir(adapter):
        raise DataError("not a PEFT adapter folder (no adapter_config.json)", file=str(adapter))
    # Contents, not paths (a base or text rewritten in place is a new input), and langadapt's
    # version, so an upgrade merges again rather than reusing what older code wrote.
    key = cache_key({"adapter": content_id(adapter), "base": content_id(base or _named_base(adapter)),
                     "dtype": dtype, "check_text": content_id(check_text) if check_text else None,
                     "seed": seed})
    if not force and (out / REPORT).is_file():
        done = json.loads((out / REPORT).read_text())
        if done.get("key") == key:
            log.info("%s already holds this merge; reusing it", out)
            return _rows(done)
    loaded = load_model(adapter, base=base, device=device, dtype=dtype)
    ids, source = _probe(loaded.tokenizer, check_text, seed)
    before = logits_of(loaded.model, ids)
    merged = loaded.model.merge_and_unload()
    after = logits_of(merged, ids)
    diff = (after - before).abs().max().item()
    # Merging reorders the arithmetic (W + BA instead of Wx + B(Ax)), so allow rounding.
    atol = 1e-4 if merged.dtype == torch.float32 else 5e-2
    report = {"key": key, "langadapt": code_version(), "adapter": str(adapter),
              "base": str(base or merged.config._name_or_path),
              "out": str(out), "dtype": str(merged.dtype), "seed": seed, "check_source": source,
              "check": {"max_abs_diff": diff, "atol": atol, "passed": diff <= atol,
                        "tokens": ids.numel()}}
    if diff > atol:
        raise LangadaptError(f"merged model differs from the adapter model by {diff:.3g} (> {atol:g}); "
                             "nothing was written")
    with atomic_dir(out, [adapter, base], command="model merge", also_ours=(REPORT,)) as tmp:
        merged.save_pretrained(tmp)
        loaded.tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / REPORT, report)
    log.info("merged %s into %s (max |logit diff| %.3g)", adapter, out, diff)
    return _rows(report)


ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "README.md")


def merge_in_place(folder: str | Path, *, base: str | Path, dtype: torch.dtype) -> None:
    """Replace the adapter in `folder` by its base merged with it; other files stay.

    For trainable tokens the merge writes the trained rows into the base matrices
    (an exact copy), so every other value of the base is kept bit for bit.
    """
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from langadapt.models.adapters import tied_tokens_quiet

    folder = Path(folder)
    config = AutoConfig.from_pretrained(str(base))
    auto = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
    model = auto.from_pretrained(str(base), dtype=dtype)
    with tied_tokens_quiet():
        merged = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".merged.", suffix=".tmp"))
    try:
        merged.save_pretrained(tmp)
        # the model files arrive before the adapter leaves: the folder always loads as one or the other
        for f in tmp.iterdir():
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in ADAPTER_FILES:
        (folder / name).unlink(missing_ok=True)
    log.info("merged the trained rows of %s into a model folder", folder)


def _rows(report: dict) -> list[ResultRow]:
    chk = report["check"]
    return [ResultRow(metric="merge.max_abs_logit_diff", value=chk["max_abs_diff"], n=chk["tokens"],
                      dataset=report["check_source"], model=report["out"], variant="merged",
                      signature=signature(options={"atol": chk["atol"], "dtype": report["dtype"]},
                                          seed=report["seed"], config=report["key"]),
                      extra={"atol": chk["atol"], "passed": chk["passed"], "adapter": report["adapter"]})]
