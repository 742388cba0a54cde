"""One trainer lifecycle for every objective and method, on HF `Trainer` + accelerate.

    load model + tokenizer -> objective builds data -> method picks trainable params
    -> HF Trainer (checkpoints, resume, eval, DDP/FSDP/DeepSpeed via `accelerate launch`)
    -> final model / adapter + tokenizer, `train_log.jsonl`, `train_summary.json`

Output folder layout (the contract other stages rely on):

    <output_dir>/            HF model folder (full, embeddings) or PEFT adapter (lora, qlora)
                             + tokenizer files, loadable by `langadapt.models.loading.load_model`
    <output_dir>/train_log.jsonl
    <output_dir>/train_summary.json   written last: the finished run (a rerun with `resume` returns it)
    <output_dir>/checkpoints/checkpoint-N/   resumable checkpoints (`save_steps`)
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from langadapt.errors import ConfigError, DataError, LangadaptError
from langadapt.models.loading import load_tokenizer
from langadapt.paths import expand
from langadapt.runs import ResultRow, atomic_write_json, signature
from langadapt.train.callbacks import (
    LOG_NAME,
    CurveCallback,
    JsonlLogCallback,
    quiet_progress,
    read_log,
    truncate_log,
)
from langadapt.train.config import OBJECTIVES, TrainConfig
from langadapt.train.curve import CURVE_NAME
from langadapt.train.methods import prepare_model, qlora_quantization, sharding_engine, trainable_summary
from langadapt.train.objectives import build_data
from langadapt.train.resume import (
    RUN_TIME,
    SUMMARY_NAME,
    Checkpoint,
    LogAtCheckpoints,
    check_checkpoint,
    finished_summary,
    load_final_checkpoint,
    mean_train_loss,
    options_hash,
)

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"


@dataclass
class TrainResult:
    output_dir: Path
    summary: dict
    log: list[dict]

    def rows(self, variant: str | None = None, config: Any = None) -> list[ResultRow]:
        """Final training / held-out loss and throughput as result rows."""
        s = self.summary
        sig = signature(options={"objective": s["objective"], "method": s["method"]}, seed=s["seed"],
                        config=config, data=s.get("data_files"))
        out = []
        for metric in ("train_loss", "eval_loss", "tokens_per_second"):
            if s.get(metric) is not None:
                out.append(ResultRow(metric=metric, value=float(s[metric]), model=str(self.output_dir),
                                     variant=variant, dataset=s.get("dataset"), signature=sig))
        return out


def _local_or_hub(value: str) -> str:
    """Expand placeholders; an existing local path becomes absolute (adapters record their base)."""
    v = expand(value)
    p = Path(v)
    return str(p.resolve()) if p.exists() else v


def resolve_paths(cfg: TrainConfig) -> TrainConfig:
    """A copy of `cfg` with `${data}`-style placeholders expanded and local paths made absolute."""
    d = cfg.data
    data = d.model_copy(update={
        "train": [expand(p) for p in d.train],
        "eval": [expand(p) for p in d.eval] if d.eval else None,
        "replay": [expand(p) for p in d.replay] if d.replay else None})
    curve = cfg.curve and cfg.curve.model_copy(update={"texts": [expand(t) for t in cfg.curve.texts]})
    return cfg.model_copy(update={
        "curve": curve,
        "model": _local_or_hub(cfg.model), "data": data,
        "tokenizer": _local_or_hub(cfg.tokenizer) if cfg.tokenizer else None,
        "output_dir": expand(cfg.output_dir)})


def _dtypes(cfg: TrainConfig) -> tuple[torch.dtype, bool]:
    """(weight dtype, bf16 autocast). On a GPU, full/embeddings keep fp32 master weights."""
    if cfg.dtype == "auto":
        if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
            return torch.float32, False
        frozen_base = cfg.method in ("lora", "qlora")
        return (torch.bfloat16 if frozen_base else torch.float32), True
    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[cfg.dtype]
    return dt, dt == torch.bfloat16


def load_for_training(cfg: TrainConfig) -> tuple[Any, Any, bool]:
    """(model, tokenizer, is_seq2seq) for a local folder or hub id."""
    tok = load_tokenizer(cfg.tokenizer or cfg.model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    try:
        config = AutoConfig.from_pretrained(cfg.model)
    except OSError as e:
        raise DataError(f"cannot load a model config ({e.__class__.__name__}); give a model folder or "
                        "a hub id", file=cfg.model) from None
    is_s2s = bool(getattr(config, "is_encoder_decoder", False))
    check_sequence_lengths(cfg, config, is_s2s)
    auto = AutoModelForSeq2SeqLM if is_s2s else AutoModelForCausalLM
    dtype, _ = _dtypes(cfg)
    kw: dict = {"dtype": dtype}
    if cfg.method == "qlora":
        kw["quantization_config"] = qlora_quantization(torch.bfloat16)
    model = auto.from_pretrained(cfg.model, **kw)
    rows = model.get_input_embeddings().weight.shape[0]
    # published models often pad the matrix (Qwen2.5: 151,936 rows for 151,665 tokens); fewer rows
    # than tokens means the tokenizer was extended without resizing the model
    if rows < len(tok):
        raise ConfigError(f"the model has {rows} embedding rows but the tokenizer has {len(tok)} tokens: "
                          "resize first with 'langadapt model resize'", key="tokenizer")
    return model, tok, is_s2s


def max_positions(config) -> int | None:
    """The longest sequence the model was built for (text config of multimodal ones, e.g. Gemma 3)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(text, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_sequence_lengths(cfg: TrainConfig, config, is_s2s: bool) -> None:
    """Refuse sequences longer than the model's positions.

    RoPE models run past `max_position_embeddings` without an error but with positions
    they never saw in pretraining, which quietly degrades them; a learned or sinusoidal
    table (NLLB) is likewise untrained beyond it. Sliding-window models (Gemma 3) still
    have one global limit, `max_position_embeddings`.
    """
    limit = max_positions(config)
    if limit is None:
        return
    lengths = [("seq_len", cfg.seq_len)]
    if is_s2s and cfg.mt.max_target_length is not None:
        lengths.append(("mt.max_target_length", cfg.mt.max_target_length))
    for key, value in lengths:
        if value > limit:
            raise ConfigError(f"{key} {value} is longer than the model's max_position_embeddings "
                              f"{limit}; use {key} ≤ {limit}", key=key)


class LangadaptTrainer(Trainer):
    """HF Trainer whose optimizer gives embedding parameters their own group (lr, no decay)."""

    def __init__(self, *args, embedding_params=(), embedding_lr: float | None = None, **kw):
        self._emb_params = list(embedding_params)
        self._emb_lr = embedding_lr
        super().__init__(*args, **kw)

    def create_optimizer(self, model=None):
        if not self._emb_params or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        emb_ids = {id(p) for p in self._emb_params}
        decay = set(self.get_decay_parameter_names(opt_model))
        groups = [{"params": [p for p in self._emb_params if p.requires_grad], "weight_decay": 0.0,
                   "lr": self._emb_lr or self.args.learning_rate}]
        for wd, want in ((self.args.weight_decay, True), (0.0, False)):
            groups.append({"weight_decay": wd, "params": [
                p for n, p in opt_model.named_parameters()
                if p.requires_grad and id(p) not in emb_ids and (n in decay) == want]})
        groups = [g for g in groups if g["params"]]
        cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = cls(groups, **kwargs)
        return self.optimizer

    run_clock: tuple[float, float] | None = None   # (run time before this segment, its perf_counter start)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        # every loss row carries the run's training time so far: a checkpoint's log history
        # then tells a resumed run how long the earlier segments trained
        if "loss" in logs and self.run_clock is not None:
            before, t0 = self.run_clock
            logs = {**logs, RUN_TIME: before + time.perf_counter() - t0}
        super().log(logs, start_time)

    def training_step(self, model, inputs, *args, **kwargs):
        loss = super().training_step(model, inputs, *args, **kwargs)
        # HF drops a NaN/inf loss from its logs (a diverged run would end "successfully" with
        # every weight NaN): stop at the first such step, before anything is saved as final.
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if self.args.world_size > 1:   # every rank stops together instead of one hanging
            bad = self.accelerator.reduce(bad, "sum")
        if bad.item() > 0:
            raise LangadaptError(
                f"training loss became non-finite ({float(loss.detach().float())}) at step "
                f"{self.state.global_step + 1} of {self.state.max_steps} (lr {self.args.learning_rate:g}): "
                "lower lr, keep max_grad_norm on or check the data; no final model or summary was "
                "written (checkpoints of earlier steps are kept)")
        return loss

    def compute_loss(self, model, inputs, *args, **kwargs):
        # A training forward needs no KV cache; without one transformers also honours packed
        # `position_ids` (per-document attention, see train/packing.py) instead of ignoring them.
        return super().compute_loss(model, {**inputs, "use_cache": False}, *args, **kwargs)


def training_arguments(cfg: TrainConfig, has_eval: bool, padded: bool = True) -> TrainingArguments:
    _, bf16 = _dtypes(cfg)
    tb = cfg.tensorboard
    if tb is None:
        tb = importlib.util.find_spec("tensorboard") is not None
    out = Path(cfg.output_dir)
    eval_steps = cfg.eval_steps if (has_eval and cfg.eval_steps) else None
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS), max_steps=cfg.max_steps or -1,
        num_train_epochs=cfg.epochs or 1.0, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size or cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps, lr_scheduler_type=cfg.scheduler, max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed, data_seed=cfg.seed, logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no", save_steps=cfg.save_steps or 500,
        save_total_limit=cfg.save_total_limit, eval_strategy="steps" if eval_steps else "no",
        eval_steps=eval_steps, report_to=["tensorboard"] if tb else "none",
        bf16=bf16, activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        # packed blocks have no padding and no attention mask: every input token is real
        include_num_input_tokens_seen="non_padding" if padded else "all",
        dataloader_num_workers=cfg.num_workers,
        remove_unused_columns=False, ddp_find_unused_parameters=False,
        dataloader_pin_memory=torch.cuda.is_available(), use_cpu=_cpu_data_parallel())


def _cpu_data_parallel() -> bool:
    """A multi-process launch without GPUs: accelerate only picks gloo DDP when told `cpu`."""
    cpu_ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    if cpu_ddp and sharding_engine() == "FSDP":
        log.warning("FSDP needs GPUs: without them accelerate runs this launch as plain data "
                    "parallel (every rank holds the whole model)")
    return cpu_ddp


def _resume_from(cfg: TrainConfig) -> str | None:
    if cfg.resume is False:
        return None
    if isinstance(cfg.resume, str):
        if not Path(cfg.resume).is_dir():
            raise ConfigError("checkpoint to resume from not found", key="resume", file=cfg.resume)
        return cfg.resume
    ckpts = Path(cfg.output_dir) / CHECKPOINTS
    last = get_last_checkpoint(str(ckpts)) if ckpts.is_dir() else None
    if last is None:
        log.info("resume: no checkpoint in %s yet; starting from step 0", ckpts)
    return last


def train(cfg: TrainConfig, objective: str = "cpt", callbacks: list | None = None) -> TrainResult:
    """Train `cfg.model` with `objective` (cpt | sft | mt); return the output folder and summary.

    `callbacks` are extra HF `TrainerCallback`s (early stopping, custom logging, ...).
    With `resume`, a finished run of the same options is not trained again: its summary is
    returned as it is (see `langadapt.train.resume`).
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")
    cfg = resolve_paths(cfg)
    out = Path(cfg.output_dir)
    options = options_hash(cfg, objective)
    if cfg.resume is not False and (done := finished_summary(out, options)) is not None:
        log.info("%s holds the finished run of these options (%d steps): nothing to train", out,
                 done["steps"])
        return TrainResult(out, done, read_log(out / LOG_NAME))
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)  # before loading: new weights (LoRA, resized rows) must not depend on history
    model, tok, is_s2s = load_for_training(cfg)
    data = build_data(objective, cfg, tok, is_s2s)
    prepared = prepare_model(model, cfg, tok)
    params = trainable_summary(prepared.model)
    log.info("trainable parameters: %d of %d (%.2f%%), method %s, objective %s",
             params["trainable_params"], params["total_params"],
             100.0 * params["trainable_params"] / max(1, params["total_params"]), cfg.method, objective)
    args = training_arguments(cfg, data.eval is not None, data.padded)
    if cfg.curve is not None:
        if sharding_engine() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # rank 0 scores alone; a sharded model needs every rank for a forward pass
            raise ConfigError(f"curve: the model is sharded by {sharding_engine()}; measure learning "
                              "curves with one process or plain data parallel", key="curve")
        callbacks = [CurveCallback(out / CURVE_NAME, cfg.curve, tok, is_s2s, data.bytes_for, cfg.seed),
                     *(callbacks or [])]
    trainer = LangadaptTrainer(
        model=prepared.model, args=args, train_dataset=data.train, eval_dataset=data.eval,
        data_collator=data.collator, processing_class=tok,
        callbacks=[JsonlLogCallback(out / LOG_NAME), LogAtCheckpoints(), *(callbacks or [])],
        embedding_params=prepared.embedding_params, embedding_lr=cfg.embedding_lr)
    quiet_progress(trainer)
    ckpt = Checkpoint.read(_resume_from(cfg))
    at_end = check_checkpoint(trainer, ckpt)
    if trainer.is_world_process_zero():
        truncate_log(out / LOG_NAME, ckpt.step)
        truncate_log(out / CURVE_NAME, ckpt.step)  # points measured up to the checkpoint are kept
    wall = _run(trainer, ckpt, at_end)
    final_eval = _final_eval(trainer) if data.eval is not None else None
    trainer.save_model(str(out))
    if prepared.finish is not None:
        if trainer.is_world_process_zero():
            prepared.finish(out)
        trainer.accelerator.wait_for_everyone()
    summary = {"objective": objective, "method": cfg.method, "seed": cfg.seed, **params,
               **_run_totals(trainer.state, data, wall), "eval_loss": final_eval,
               "resumed_from": ckpt.path, "world_size": args.world_size,
               "dataset": ", ".join(Path(p).name for p in cfg.data.train),
               "data_files": [*cfg.data.train, *(cfg.data.eval or []), *(cfg.data.replay or [])],
               "options_hash": options}
    if trainer.is_world_process_zero():
        atomic_write_json(out / SUMMARY_NAME, summary)
    return TrainResult(out, summary, read_log(out / LOG_NAME))


def _run(trainer: LangadaptTrainer, ckpt: Checkpoint, at_end: bool) -> float:
    """Train from `ckpt` to the last step (or only load it, when it is the last step).

    Returns the run's training wall time: the earlier segments' plus this one's.
    """
    t0 = time.perf_counter()
    trainer.run_clock = (ckpt.run_time_s, t0)
    if at_end:
        load_final_checkpoint(trainer, ckpt)
        return ckpt.run_time_s
    trainer.train(resume_from_checkpoint=ckpt.path)
    return ckpt.run_time_s + time.perf_counter() - t0


def _run_totals(state, data, wall: float) -> dict:
    """Steps, tokens, bytes, time and mean loss of the whole run, from step 0."""
    tokens = int(state.num_input_tokens_seen)
    return {"steps": state.global_step, "total_tokens": tokens, "total_bytes": data.bytes_for(tokens),
            "tokens_per_epoch": data.num_train_tokens, "bytes_per_epoch": data.num_train_bytes,
            "wall_time_s": wall, "tokens_per_second": tokens / wall if wall > 0 else None,
            "train_loss": mean_train_loss(state.log_history, state.global_step)}


def _final_eval(trainer: Trainer) -> float:
    """Held-out loss after the last step (reused when the eval schedule just ran it)."""
    for row in trainer.state.log_history[-3:]:
        if "eval_loss" in row and row.get("step") == trainer.state.global_step:
            return float(row["eval_loss"])
    return float(trainer.evaluate()["eval_loss"])
