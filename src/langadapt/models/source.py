"""A model named the way a user names one, written out as an ordinary HF folder.

The value decides how it is read: a `.gguf` file is imported (`langadapt.models.gguf`), a
local folder or a hub id is loaded by transformers (a hub id at `revision` where given)
and saved. A recipe's model stage (`model.load`) is this one call, so `model=` takes any
of the three without changing the stage's kind.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from langadapt.errors import ConfigError, DataError

log = logging.getLogger(__name__)

Source = Literal["gguf", "folder", "hub"]


def source_kind(model: str) -> Source:
    """`gguf` for a `.gguf` file, `folder` for a local folder, else `hub` (a hub id)."""
    path = Path(model).expanduser()
    if model.lower().endswith(".gguf"):
        if not path.is_file():
            raise DataError("GGUF file not found (run 'langadapt model fetch' for the known ones)",
                            file=model)
        return "gguf"
    if path.is_dir():
        return "folder"
    if model.startswith(("/", "./", "../", "~")) or path.exists():
        raise DataError("not a model: give a .gguf file, a model folder or a hub id", file=model)
    return "hub"


def write_model(model: str, out: str | Path, *, revision: str | None = None, dtype: str = "auto") -> Path:
    """Write `model` (a GGUF file, a local HF folder or a hub id) to `out` as an HF folder.

    Args:
        model: what to read; see `source_kind`.
        out: the folder to write; replaced whole and atomically.
        revision: a hub id's branch, tag or commit (not for a local file or folder).
        dtype: `auto` keeps the checkpoint's dtype (a GGUF file: float32, its dequantized
            values exactly), or `float32`, `bfloat16`, `float16`.

    Raises:
        DataError: a missing file, or a model transformers cannot load.
        ConfigError: a revision for a local model, or an unknown dtype.
    """
    kind = source_kind(model)
    if kind != "hub":
        model = str(Path(model).expanduser())
    if revision and kind != "hub":
        raise ConfigError(f"revision '{revision}' is for a hub id, and '{model}' is a local {kind}: "
                          "drop the revision", key="revision")
    if kind == "gguf":
        from langadapt.models.gguf import import_gguf

        return import_gguf(model, out, dtype="float32" if dtype == "auto" else dtype)
    return _save_pretrained(model, Path(out), kind, revision, dtype)


def _save_pretrained(model: str, out: Path, kind: Source, revision: str | None, dtype: str) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from langadapt.runs import atomic_dir, atomic_write_json

    dtypes = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in dtypes:
        raise ConfigError(f"dtype '{dtype}' is not one of {', '.join(dtypes)}", key="dtype")
    log.info("loading %s%s (%s)", model, f" at {revision}" if revision else "", kind)
    try:
        config = AutoConfig.from_pretrained(model, revision=revision)
        cls = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
        weights = cls.from_pretrained(model, revision=revision, dtype=dtypes[dtype])
        tok = AutoTokenizer.from_pretrained(model, revision=revision)
    except (OSError, ValueError) as e:
        where = "a model folder with config.json" if kind == "folder" else \
            "a hub id (with a hub connection) or a local model folder"
        first = (str(e).strip().splitlines() or [""])[0]  # transformers' advice runs to several lines
        raise DataError(f"cannot load a model from here ({e.__class__.__name__}: {first}); give {where}",
                        file=model) from None
    with atomic_dir(out) as tmp:
        weights.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        atomic_write_json(tmp / "model_source.json", {
            "source": model, "kind": kind, "revision": revision, "dtype": str(weights.dtype),
            # the commit a hub id resolved to, so a moving branch is on record
            "commit": getattr(config, "_commit_hash", None) if kind == "hub" else None})
    log.info("wrote %s", out)
    return out
