"""Resume bookkeeping: recognise a finished run, never train past the end, add up segments.

HF Trainer restores model, optimizer, scheduler and RNG from a checkpoint, but:

* resumed from its final checkpoint, it trains one more step whenever `max_steps` is
  not a multiple of the steps per epoch (its loop checks for the end only after a step),
  so the weights change and the schedule wraps;
* its `training_loss` and speed cover only the resumed segment.

So a finished run is recognised before anything loads (its `train_summary.json` records
the hash of its options), a checkpoint at or past the target step is never trained on,
and the whole run is read back from the checkpoint's `trainer_state.json` log history:
the trainer logs at every checkpoint and at the last step (`LogAtCheckpoints`), so every
step's loss is in a logged row, and each loss row carries `run_time_s`, the training wall
time of the run up to that step, summed over segments.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback, TrainerState
from transformers.trainer import TRAINER_STATE_NAME

from langadapt.errors import ConfigError
from langadapt.runs import cache_key, content_id

log = logging.getLogger(__name__)
SUMMARY_NAME = "train_summary.json"
RUN_TIME = "run_time_s"
_MODEL_FILES = ("config.json", "adapter_config.json")


def options_hash(cfg, objective: str) -> str:
    """What makes two runs the same run: every option except where it writes and `resume`,
    the contents of the model, tokenizer and data files it names (a file changed in place
    is a new run), and langadapt's version (an upgrade trains again).
    """
    d = cfg.data
    files = [cfg.model, cfg.tokenizer, *d.train, *(d.eval or []), *(d.replay or [])]
    return cache_key({"objective": objective,
                      **cfg.model_dump(mode="json", exclude={"resume", "output_dir"}),
                      "contents": [content_id(f) if f else None for f in files]})


def finished_summary(out: Path, options: str) -> dict | None:
    """The summary of a finished run of the same options in `out`, else None."""
    path = out / SUMMARY_NAME
    if not path.is_file() or not any((out / name).is_file() for name in _MODEL_FILES):
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return summary if summary.get("options_hash") == options else None


@dataclass
class Checkpoint:
    """Where a resumed run starts: nothing (step 0) or a checkpoint folder."""

    path: str | None = None
    step: int = 0
    run_time_s: float = 0.0   # training wall time of the run up to `step`

    @classmethod
    def read(cls, path: str | None) -> Checkpoint:
        if not path:
            return cls()
        state = TrainerState.load_from_json(str(Path(path) / TRAINER_STATE_NAME))
        return cls(path, state.global_step, run_time(state.log_history, state.global_step))


def run_time(history: list[dict], upto: int) -> float:
    """`run_time_s` of the last loss row at or before step `upto` (0 without one)."""
    rows = [r for r in history if RUN_TIME in r and r.get("step", 0) <= upto]
    return float(rows[-1][RUN_TIME]) if rows else 0.0


def mean_train_loss(history: list[dict], steps: int) -> float | None:
    """Mean training loss over steps 1..`steps` from HF log rows.

    Each loss row is the mean over the steps since the previous loss row, so it weighs
    as many steps as it covers.
    """
    total, prev = 0.0, 0
    for row in history:
        step = row.get("step", 0)
        if "loss" in row and prev < step <= steps:
            total += float(row["loss"]) * (step - prev)
            prev = step
    return total / prev if prev else None


def target_steps(trainer) -> int:
    """The step this run ends at, as HF's training loop computes it (max_steps or epochs)."""
    return int(trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1])


def check_checkpoint(trainer, ckpt: Checkpoint) -> bool:
    """True when `ckpt` already is the run's last step; a checkpoint past it is refused."""
    if ckpt.path is None:
        return False
    target = target_steps(trainer)
    if ckpt.step > target:
        raise ConfigError(f"checkpoint {ckpt.path} is at step {ckpt.step}, past this run's last step "
                          f"{target}; a run cannot be shortened: raise max_steps (or epochs) or use a "
                          "new output_dir", key="max_steps")
    return ckpt.step == target


def load_final_checkpoint(trainer, ckpt: Checkpoint) -> None:
    """Put the weights and state of a checkpoint at the last step into `trainer`, training nothing."""
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        raise ConfigError(f"checkpoint {ckpt.path} is already at the last step but the run's summary is "
                          "missing; finishing it from a sharded checkpoint is not supported: rerun "
                          "without FSDP/DeepSpeed, or raise max_steps", key="resume")
    # the loader HF's own resume uses (plain, PEFT and sharded-safetensors checkpoints)
    trainer._load_from_checkpoint(ckpt.path)
    trainer.state = TrainerState.load_from_json(str(Path(ckpt.path) / TRAINER_STATE_NAME))
    log.info("%s is at the last step (%d): finishing the run without training", ckpt.path, ckpt.step)


class LogAtCheckpoints(TrainerCallback):
    """Log the loss at every checkpoint step and at the last step.

    A checkpoint then holds every step's loss in its log history: without this, steps
    between the last log row and the checkpoint are averaged into a row that is never
    saved, and the resumed run could not report the mean loss of the whole run.
    Runs after HF's `DefaultFlowCallback`, which decides `should_save`.
    """

    def on_step_end(self, args, state, control, **kw):
        if control.should_save or state.global_step >= state.max_steps:
            control.should_log = True
        return control
