"""Loading any model langadapt handles: a local HF folder, a hub id, or a PEFT adapter folder.

`load_model` picks the causal or seq2seq Auto class from the config, loads the base
of an adapter folder (adapter_config.json) and attaches the adapter, and returns the
model with its tokenizer. Evaluators accept an already loaded `Loaded` too, so an
in-memory variant (e.g. an adapter with some layers switched off) is scored the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

from langadapt.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    name: str
    is_seq2seq: bool
    is_peft: bool = False


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a tokenizer from a local folder (or a hub id when online)."""
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot load a tokenizer from here ({e.__class__.__name__}): give a folder "
                        "with tokenizer.json or a hub id", file=str(path)) from None


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """`auto` is bf16 on a GPU that supports it, float32 elsewhere (CPU numerics stay exact)."""
    if dtype in (None, "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def _auto_class(config) -> type:
    return AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM


def load_model(path: str | Path | Loaded, *, device: str | None = None, dtype: str | None = "auto",
               tokenizer: str | Path | None = None, base: str | Path | None = None) -> Loaded:
    """Load a model folder / hub id / PEFT adapter folder with its tokenizer, in eval mode."""
    if isinstance(path, Loaded):
        return path
    path_s = str(path)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dtype, dev)
    try:
        if is_adapter_dir(path_s):
            from peft import PeftModel

            adapter_cfg = json.loads((Path(path_s) / "adapter_config.json").read_text())
            base_path = str(base or adapter_cfg.get("base_model_name_or_path") or "")
            if not base_path:
                raise DataError("adapter names no base model; pass base=", file=path_s)
            config = AutoConfig.from_pretrained(base_path)
            model = _auto_class(config).from_pretrained(base_path, dtype=torch_dtype)
            tok_src = tokenizer or (path_s if (Path(path_s) / "tokenizer_config.json").exists()
                                    else base_path)
            tok = AutoTokenizer.from_pretrained(str(tok_src))
            if model.get_input_embeddings().weight.shape[0] != len(tok):
                model.resize_token_embeddings(len(tok))
            model = PeftModel.from_pretrained(model, path_s)
            is_peft = True
        else:
            config = AutoConfig.from_pretrained(path_s)
            model = _auto_class(config).from_pretrained(path_s, dtype=torch_dtype)
            tok = AutoTokenizer.from_pretrained(str(tokenizer or path_s))
            is_peft = False
    except OSError as e:
        raise DataError(f"cannot load a model from here ({e}); give a local model folder, an "
                        "adapter folder or a hub id", file=path_s) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.to(dev).eval()
    return Loaded(model=model, tokenizer=tok, name=path_s, is_seq2seq=config.is_encoder_decoder,
                  is_peft=is_peft)
