"""Training callbacks: `train_log.jsonl` rows, the quiet progress bar, the learning-curve points.

`train_log.jsonl` has one JSON object per logged step (and per evaluation), on the main process.

Training rows are `{"step", "loss", "learning_rate", "tokens_per_second", "epoch"}`
and evaluation rows `{"step", "eval_loss"}`; the report draws loss curves from them.
Tokens per second are non-pad input tokens (HF `num_input_tokens_seen`, summed over
processes) per second of wall time since the previous logged step.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from langadapt.runs import jsonl_text
from langadapt.train.config import CurveOptions
from langadapt.train.curve import load_texts, read_curve, score_point

LOG_NAME = "train_log.jsonl"
log = logging.getLogger(__name__)


def truncate_log(path: Path, after_step: int) -> None:
    """Drop rows logged after `after_step` (a resumed run logs those steps again)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= after_step]
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


def read_log(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


class JsonlLogCallback(TrainerCallback):
    """Append loss / lr / tokens-per-second rows to `train_log.jsonl`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._t = None
        self._tokens = 0

    def on_train_begin(self, args, state, control, **kw):
        self._t, self._tokens = time.perf_counter(), state.num_input_tokens_seen

    def _write(self, row: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            now = time.perf_counter()
            tokens = state.num_input_tokens_seen
            dt = max(now - self._t, 1e-9) if self._t is not None else None
            tps = (tokens - self._tokens) / dt if dt else None
            self._t, self._tokens = now, tokens
            self._write({"step": state.global_step, "loss": float(logs["loss"]),
                         "learning_rate": float(logs.get("learning_rate", 0.0)),
                         "tokens_per_second": tps, "epoch": state.epoch})
        if "eval_loss" in logs:
            self._write({"step": state.global_step, "eval_loss": float(logs["eval_loss"])})

    def on_evaluate(self, args, state, control, **kw):
        # time spent evaluating is not training throughput
        self._t = time.perf_counter()


class QuietProgress(ProgressCallback):
    """The HF progress bar (on stderr) without printing every log dict to stdout.

    The library never prints: stdout stays free for `--json` rows; the logs are in
    `train_log.jsonl` (and TensorBoard).
    """

    def on_log(self, args, state, control, logs=None, **kw):
        return None


def quiet_progress(trainer) -> None:
    """Swap the Trainer's stdout log printers for `QuietProgress` (or nothing without tqdm)."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if not trainer.args.disable_tqdm:
        trainer.add_callback(QuietProgress)


class CurveCallback(TrainerCallback):
    """Score the curve texts at step 0, every `opts.every` steps and at the last step.

    Runs on the main process only (other ranks wait at their next collective); a step
    whose rows are already in the file (a resumed run) is not scored again.
    """

    def __init__(self, path: str | Path, opts: CurveOptions, tokenizer, is_seq2seq: bool,
                 bytes_for, seed: int = 0):
        self.path = Path(path)
        self.opts = opts
        self.tokenizer = tokenizer
        self.is_seq2seq = is_seq2seq
        self.bytes_for = bytes_for        # training tokens -> bytes of training text
        self.seed = seed
        self.texts = load_texts(opts)

    def _done_steps(self) -> set[int]:
        return {int(r["step"]) for r in read_curve(self.path)}

    def _measure(self, state, model) -> None:
        if not state.is_world_process_zero or state.global_step in self._done_steps():
            return
        from langadapt.models.loading import Loaded

        loaded = Loaded(model=model, tokenizer=self.tokenizer, name="training",
                        is_seq2seq=self.is_seq2seq, is_peft=hasattr(model, "peft_config"))
        was_training = model.training
        model.eval()  # no dropout while scoring
        try:
            tokens = int(state.num_input_tokens_seen)
            rows = [{"step": state.global_step, "tokens": tokens, "bytes": self.bytes_for(tokens),
                     "text": t.label, **score_point(loaded, t.texts, self.opts, self.seed)}
                    for t in self.texts]
        finally:
            model.train(was_training)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(jsonl_text(rows))
        log.info("curve at step %d: %s", state.global_step,
                 ", ".join(f"{r['text']} {r['bpb']:.4f}" for r in rows))

    def on_train_begin(self, args, state, control, model=None, **kw):
        if state.global_step == 0:
            self._measure(state, model)

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step % self.opts.every == 0 or state.global_step >= state.max_steps:
            self._measure(state, model)
