"""Training methods: which parameters train. `full`, `embeddings`, `lora`, `qlora`.

A method is one registered function `prepare(model, cfg, tok) -> Prepared`; it
freezes/wraps the model and names the embedding parameters, which get their own
optimizer group (`embedding_lr`, no weight decay).

New-token rows train through PEFT's trainable tokens (`embeddings.new_rows_only`,
`lora.train_embeddings: true`): the trainable parameters, their optimizer state and the
saved adapter hold only the rows of the new tokens; the rest of each matrix is frozen
by construction (tied output heads share the same rows), so sharded launches work too.
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
from langadapt.registry import Registry
from langadapt.train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    model: Any
    embedding_params: list[torch.nn.Parameter] = field(default_factory=list)
    # run on the main process after the trainer saved the output folder (e.g. merge an adapter)
    finish: Callable[[Path], None] | None = None


METHODS: Registry[Callable[..., Prepared]] = Registry("method", key="method")


def register_method(name: str):
    """Decorator: register `prepare(model, cfg, tok) -> Prepared` as training method `name`."""
    return METHODS.register(name)


def prepare_model(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    return METHODS.get(cfg.method)(model, cfg, tok)


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


def base_vocab_size(cfg: TrainConfig, tok: Any, key: str = "embeddings.new_rows_only") -> int:
    """Rows below this id are 'old'. From config, else from `new_tokens.jsonl` beside the tokenizer."""
    if cfg.embeddings.base_vocab_size is not None:
        return cfg.embeddings.base_vocab_size
    for folder in (cfg.tokenizer, cfg.model):
        f = Path(folder or "") / "new_tokens.jsonl"
        if folder and f.is_file():
            n_new = sum(1 for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
            return len(tok) - n_new
    raise ConfigError(f"{key} needs embeddings.base_vocab_size (or a new_tokens.jsonl beside the "
                      "tokenizer) to know which rows are new", key="embeddings.base_vocab_size")


def new_token_ids(model: Any, cfg: TrainConfig, tok: Any, key: str = "embeddings.new_rows_only") -> list[int]:
    """Ids of the new rows: `base_vocab_size` to the last row of the embedding matrix."""
    first_new = base_vocab_size(cfg, tok, key)
    rows = model.get_input_embeddings().weight.shape[0]
    if not 0 < first_new < rows:
        raise ConfigError(f"base vocabulary size {first_new} leaves no new rows in an embedding "
                          f"of {rows} rows", key="embeddings.base_vocab_size")
    return list(range(first_new, rows))


def token_deltas(peft_model: Any) -> list[torch.nn.Parameter]:
    """The trainable-token rows PEFT added (one tensor per untied matrix)."""
    return [p for n, p in peft_model.named_parameters() if p.requires_grad and "trainable_tokens_delta" in n]


@register_method("embeddings")
def embeddings(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    """Input embeddings + output head only; optionally only the rows of new tokens."""
    if cfg.embeddings.new_rows_only:
        return _new_rows(model, cfg, tok)
    for p in model.parameters():
        p.requires_grad_(False)
    weights = _embedding_weights(model)
    for w in weights:
        w.requires_grad_(True)
    return Prepared(model, weights)


def _new_rows(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    """Trainable tokens on the new rows; the saved adapter is merged into an HF model folder."""
    from peft import get_peft_model

    from langadapt.models.adapters import tied_tokens_quiet, trainable_tokens_config
    from langadapt.models.merge import merge_in_place

    ids = new_token_ids(model, cfg, tok)
    dtype = model.dtype
    with tied_tokens_quiet():
        peft_model = get_peft_model(model, trainable_tokens_config(model, ids))
    log.info("embeddings: training rows %d.. only (%d rows, PEFT trainable tokens)", ids[0], len(ids))
    # merged from the saved adapter (not the live model), so a sharded run merges the gathered rows
    return Prepared(peft_model, token_deltas(peft_model),
                    finish=lambda out: merge_in_place(out, base=cfg.model, dtype=dtype))


def sharding_engine() -> str | None:
    """The sharding engine an `accelerate launch` config turned on (`FSDP`, `DeepSpeed`), else None."""
    from accelerate.utils import parse_flag_from_env

    for var, engine in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
        if parse_flag_from_env(var):
            return engine
    return None


@register_method("lora")
def lora(model: Any, cfg: TrainConfig, tok: Any) -> Prepared:
    from peft import get_peft_model

    lc = cfg.lora
    ids = new_token_ids(model, cfg, tok, "lora.train_embeddings") if lc.train_embeddings is True else None
    pcfg = lora_config(model, r=lc.r, alpha=lc.alpha, dropout=lc.dropout, layers=lc.layers,
                       encoder_layers=lc.encoder_layers, target_modules=lc.target_modules,
                       rslora=lc.rslora, train_embeddings=lc.train_embeddings, token_ids=ids)
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input
    peft_model = get_peft_model(model, pcfg)
    emb = []
    if lc.train_embeddings == "all":
        names = set(pcfg.modules_to_save or [])
        emb = [p for n, p in peft_model.named_parameters()
               if p.requires_grad and "modules_to_save" in n and any(f".{m}." in n for m in names)]
    elif lc.train_embeddings:
        emb = token_deltas(peft_model)
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
