"""Training methods: which parameters train. `full`, `embeddings`, `lora`, `qlora`.

A method is one registered function `prepare(model, cfg, tok) -> Prepared`; it
freezes/wraps the model and names the embedding parameters, which get their own
optimizer group (`embedding_lr`, no weight decay).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from langadapt.errors import ConfigError
from langadapt.models.adapters import lora_config
from langadapt.train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    model: Any
    embedding_params: list[torch.nn.Parameter] = field(default_factory=list)


_METHODS: dict[str, Callable[..., Prepared]] = {}


def register_method(name: str):
    def deco(fn):
        _METHODS[name] = fn
        return fn
    return deco


def prepare_model(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    if cfg.method not in _METHODS:
        raise ConfigError(f"unknown method '{cfg.method}'; choose one of {', '.join(_METHODS)}",
                          key="method")
    return _METHODS[cfg.method](model, cfg, tok)


def _embedding_weights(model: Any) -> list[torch.nn.Parameter]:
    """Input embedding weight and, when untied, the output head weight (no duplicates)."""
    out = []
    for mod in (model.get_input_embeddings(), model.get_output_embeddings()):
        if mod is not None and all(mod.weight is not p for p in out):
            out.append(mod.weight)
    return out


def trainable_summary(model: Any) -> dict[str, int]:
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"trainable_params": trainable, "total_params": total}


@register_method("full")
def full(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    for p in model.parameters():
        p.requires_grad_(True)
    return Prepared(model, _embedding_weights(model) if cfg.embedding_lr else [])


def base_vocab_size(cfg: TrainConfig, tok: Any) -> int:
    """Rows below this id are 'old'. From config, else from `new_tokens.jsonl` beside the tokenizer."""
    if cfg.embeddings.base_vocab_size is not None:
        return cfg.embeddings.base_vocab_size
    for folder in (cfg.tokenizer, cfg.model):
        f = Path(folder or "") / "new_tokens.jsonl"
        if folder and f.is_file():
            n_new = sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
            return len(tok) - n_new
    raise ConfigError("new_rows_only needs embeddings.base_vocab_size (or a new_tokens.jsonl beside "
                      "the tokenizer) to know which rows are new", key="embeddings.base_vocab_size")


@register_method("embeddings")
def embeddings(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    """Input embeddings + output head only; optionally only the rows of new tokens."""
    for p in model.parameters():
        p.requires_grad_(False)
    weights = _embedding_weights(model)
    for w in weights:
        w.requires_grad_(True)
    if cfg.embeddings.new_rows_only:
        _check_unsharded()
        first_new = base_vocab_size(cfg, tok)
        if not 0 < first_new < weights[0].shape[0]:
            raise ConfigError(f"base vocabulary size {first_new} leaves no new rows in an embedding "
                              f"of {weights[0].shape[0]} rows", key="embeddings.base_vocab_size")
        for w in weights:
            mask = torch.zeros(w.shape[0], 1, dtype=w.dtype, device=w.device)
            mask[first_new:] = 1
            # zero gradients of old rows; with Adam and no weight decay their update is exactly 0
            w.register_hook(lambda g, m=mask: g * m)
        log.info("embeddings: training rows %d.. only", first_new)
    return Prepared(model, weights)


def sharding_engine() -> str | None:
    """The sharding engine an `accelerate launch` config turned on (`FSDP`, `DeepSpeed`), else None."""
    from accelerate.utils import parse_flag_from_env

    for var, engine in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
        if parse_flag_from_env(var):
            return engine
    return None


def _check_unsharded() -> None:
    """new_rows_only masks gradients with a hook on the whole weight; FSDP swaps the weight for
    sharded copies (the hook would be lost and every row trained), so refuse rather than drift."""
    engine = sharding_engine()
    if engine:
        raise ConfigError(f"new_rows_only is not supported under {engine}: its gradient mask would "
                          "not reach the sharded weights; launch plain data-parallel instead "
                          "(accelerate launch --num_processes N, or torchrun)",
                          key="embeddings.new_rows_only")


@register_method("lora")
def lora(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    from peft import get_peft_model

    lc = cfg.lora
    pcfg = lora_config(model, r=lc.r, alpha=lc.alpha, dropout=lc.dropout, layers=lc.layers,
                       encoder_layers=lc.encoder_layers, target_modules=lc.target_modules,
                       rslora=lc.rslora, train_embeddings=lc.train_embeddings)
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input
    peft_model = get_peft_model(model, pcfg)
    emb = []
    if lc.train_embeddings:
        names = set(pcfg.modules_to_save or [])
        emb = [p for n, p in peft_model.named_parameters()
               if p.requires_grad and "modules_to_save" in n and any(f".{m}." in n for m in names)]
    return Prepared(peft_model, emb)


@register_method("qlora")
def qlora(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    """LoRA on a 4-bit base; the 4-bit loading itself happens in `load_for_training`."""
    from peft import prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return lora(model, cfg, tok)


def qlora_quantization(dtype: torch.dtype):
    """BitsAndBytes 4-bit config; a clear error without bitsandbytes or a CUDA GPU."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("method qlora needs bitsandbytes: pip install bitsandbytes", key="method")
    if not torch.cuda.is_available():
        raise ConfigError("method qlora needs a CUDA GPU (4-bit bitsandbytes kernels); use lora on "
                          "this machine", key="method")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)
