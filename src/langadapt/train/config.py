"""The training config: one strict schema for every objective and method.

`langadapt train cpt|sft|mt CONFIG.yaml` and the `train` recipe stage both read this
schema, so an unknown key is an error with file, line and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from langadapt.config import Seed, StrictModel, load_config

Objective = Literal["cpt", "sft", "mt"]
OBJECTIVES: tuple[str, ...] = ("cpt", "sft", "mt")


def _as_list(v):
    if v is None or isinstance(v, list):
        return v
    return [v]


def _at_least_one(v, info: ValidationInfo):
    """Counts must be >= 1 when set: HF reads 0 or a negative `max_steps` as "use epochs"."""
    if v is not None and v < 1:
        raise PydanticCustomError("count", "{key} must be ≥ 1 (got {value})",
                                  {"key": info.field_name, "value": v})
    return v


def _not_negative(v, info: ValidationInfo):
    if v is not None and v < 0:
        raise PydanticCustomError("count", "{key} must be ≥ 0 (got {value})",
                                  {"key": info.field_name, "value": v})
    return v


class DataOptions(StrictModel):
    """Where the text comes from; read with `langadapt.textio` (txt, jsonl[.gz|.zst], folders, tsv)."""

    train: list[str]
    eval: list[str] | None = None
    field: str = "text"                  # JSONL field for cpt
    limit: int | None = None             # at most this many training documents / records
    eval_limit: int | None = None
    eval_fraction: float = Field(0.0, ge=0.0, lt=1.0)  # hold out the tail of `train` when no `eval`
    replay: list[str] | None = None      # cpt: a second corpus mixed in (e.g. the base language)
    replay_ratio: float = Field(0.0, ge=0.0, lt=1.0)   # share of replay tokens in the training mix
    shuffle_documents: bool = True       # cpt: shuffle documents (seeded) before packing
    separate_documents: bool = True      # cpt: packed documents attend only to themselves
    padding_free: bool = True            # sft, causal mt: a batch is its examples end to end, no padding

    _lists = field_validator("train", "eval", "replay", mode="before")(_as_list)
    _counts = field_validator("limit", "eval_limit")(_at_least_one)


class LoraOptions(StrictModel):
    """LoRA settings; `layers` takes the selections of `langadapt.models.families.resolve_layers`."""

    r: int = Field(16, ge=1)
    alpha: float = 32.0
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None   # default: the family's attention + MLP projections
    layers: str | int | list = "all"          # all | last:4 | 0-3 | early,late | ...
    encoder_layers: str | int | list | None = None  # seq2seq: default = same as `layers`
    rslora: bool = False
    # true: the new tokens' rows of the input embeddings + head train alongside (PEFT trainable
    # tokens; new rows as for embeddings.new_rows_only); all: both whole matrices (modules_to_save)
    train_embeddings: Literal[False, True, "all"] = False


class EmbeddingOptions(StrictModel):
    """Embeddings-only training (`method: embeddings`)."""

    new_rows_only: bool = False    # train only rows >= base_vocab_size; every other value stays bit-identical
    base_vocab_size: int | None = None  # default: len(tokenizer) - lines of new_tokens.jsonl beside it

    _counts = field_validator("base_vocab_size")(_at_least_one)


class MtOptions(StrictModel):
    """Translation pairs: a TSV `col0<TAB>col1` (or JSONL with fields named by the codes)."""

    columns: tuple[str, str] = ("khk_Cyrl", "eng_Latn")  # language code of each column
    directions: Literal["both", "forward", "backward"] = "both"
    prompt: str = "Translate the following {src_name} text into {tgt_name}.\n\n{src}"
    max_target_length: int | None = None   # seq2seq: default seq_len

    _counts = field_validator("max_target_length")(_at_least_one)


class CurveOptions(StrictModel):
    """`curve:` of a training run: which held-out texts to score, and how often."""

    every: int = Field(ge=1)                  # score every N optimizer steps (and at step 0 and the end)
    texts: list[str] = Field(min_length=1)    # `NAME=path` or a path (its file name is the label)
    max_docs: int | None = Field(64, ge=1)    # first N documents of each text
    max_length: int | None = Field(256, ge=2)  # tokens per scoring window (None: the model's context)
    batch_size: int = Field(8, ge=1)          # windows per forward pass
    field: str = "text"                       # JSONL field holding the text
    resamples: int = Field(200, ge=0)         # bootstrap resamples of each point's 95% CI

    _lists = field_validator("texts", mode="before")(_as_list)


class TrainSettings(StrictModel):
    """Every training option except where outputs go (the `train` recipe stage uses this)."""

    model: str
    tokenizer: str | None = None         # default: the model folder
    data: DataOptions
    method: Literal["full", "lora", "embeddings", "qlora"] = "lora"
    lora: LoraOptions = Field(default_factory=LoraOptions)
    embeddings: EmbeddingOptions = Field(default_factory=EmbeddingOptions)
    mt: MtOptions = Field(default_factory=MtOptions)
    max_steps: int | None = None
    epochs: float | None = None
    seq_len: int = 512
    batch_size: int = 8
    eval_batch_size: int | None = None
    grad_accum: int = 1
    # A NaN, infinite, zero or negative rate trains nothing or turns every weight NaN.
    lr: float = Field(2e-4, gt=0, allow_inf_nan=False)
    embedding_lr: float | None = Field(None, gt=0, allow_inf_nan=False)  # own lr for embeddings/head
    weight_decay: float = 0.0
    warmup_steps: int = 0
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    seed: Seed = 0
    save_steps: int | None = None        # checkpoint every N steps (kept: save_total_limit)
    save_total_limit: int | None = 2
    eval_steps: int | None = None        # held-out loss every N steps (and always at the end)
    logging_steps: int = 1
    resume: bool | str = False           # true: last checkpoint in output_dir; or a checkpoint path
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    gradient_checkpointing: bool = False
    tensorboard: bool | None = None      # default: on when tensorboard is installed
    num_workers: int = 0
    curve: CurveOptions | None = None    # held-out bpb at step 0 and every N steps (curve.jsonl)

    _counts = field_validator("max_steps", "batch_size", "eval_batch_size", "grad_accum", "save_steps",
                              "save_total_limit", "eval_steps", "logging_steps")(_at_least_one)
    _non_negative = field_validator("warmup_steps", "num_workers")(_not_negative)

    @field_validator("epochs")
    @classmethod
    def _positive_epochs(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise PydanticCustomError("count", "epochs must be > 0 (got {value})", {"value": v})
        return v

    @field_validator("seq_len")
    @classmethod
    def _min_seq_len(cls, v: int) -> int:
        if v < 8:
            raise PydanticCustomError("count", "seq_len must be ≥ 8 (got {value})", {"value": v})
        return v

    @model_validator(mode="after")
    def _check(self) -> TrainSettings:
        if self.max_steps is None and self.epochs is None:
            self.epochs = 1.0
        if self.method not in ("lora", "qlora") and self.lora.train_embeddings:
            raise ValueError("lora.train_embeddings only applies to method lora/qlora")
        return self


class TrainConfig(TrainSettings):
    """Options of one training run (see docs/training.md for each key)."""

    output_dir: str


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a training YAML (unknown keys fail with file:line:key) and apply `key=value` overrides."""
    return load_config(TrainConfig, path, overrides)
