"""Learning curves: held-out bits per byte at step 0 and every N steps of a training run.

`curve.jsonl` in the output folder gets one row per (step, text):

    {"step", "tokens", "bytes", "text", "bpb", "ci": [low, high], "docs", "doc_nll", "doc_bytes"}

`tokens` are the training tokens read so far (HF `num_input_tokens_seen`) and `bytes`
the UTF-8 bytes of training text behind them: an extended tokenizer reads more text per
token, so a curve is drawn against both. Scoring is `langadapt.eval.perplexity`'s (lm-eval
rolling log-likelihood) on the model being trained, with the CI from `langadapt.eval.stats`
(bootstrap over documents); the per-document nats and bytes are kept for paired
comparisons in the report. A resumed run keeps the rows of the steps it already passed.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from langadapt.train.config import CurveOptions

log = logging.getLogger(__name__)
CURVE_NAME = "curve.jsonl"


def split_label(item: str) -> tuple[str, str]:
    """(`label`, `path`) of `NAME=path`; a bare path is labelled by its file name."""
    name, sep, path = item.partition("=")
    if sep and name and "/" not in name:
        return name, path
    return Path(item).name, item


@dataclass
class CurveText:
    label: str
    texts: list[str]


def load_texts(opts: CurveOptions) -> list[CurveText]:
    """The documents of every curve text (read once, before training)."""
    from langadapt.errors import DataError
    from langadapt.textio import iter_texts

    out = []
    for item in opts.texts:
        label, path = split_label(item)
        texts = list(iter_texts([path], field=opts.field, limit=opts.max_docs))
        if not texts:
            raise DataError("no documents to score for the learning curve (empty file)", file=path)
        out.append(CurveText(label, texts))
    return out


def read_curve(path: str | Path) -> list[dict]:
    """The rows of a `curve.jsonl` (empty when absent); unreadable lines are skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "step" in row and "bpb" in row:
            rows.append(row)
    return rows


def score_point(loaded, doc_texts: list[str], opts: CurveOptions, seed: int) -> dict:
    """bpb of `doc_texts` under `loaded` with its bootstrap CI and per-document statistics."""
    from langadapt.eval.options import BpbScoring
    from langadapt.eval.perplexity import BYTES, NLL, score_documents
    from langadapt.eval.stats import bootstrap_ci, ratio

    scoring = BpbScoring(max_length=opts.max_length, batch_size=opts.batch_size)
    stats = score_documents(loaded, doc_texts, scoring)
    value, low, high = bootstrap_ci(stats, ratio(NLL, BYTES, 1 / math.log(2)),
                                    resamples=opts.resamples, seed=seed)
    return {"bpb": value, "ci": None if low is None else [low, high], "docs": len(stats),
            "doc_nll": [round(float(x), 6) for x in stats[:, NLL]],
            "doc_bytes": [int(x) for x in stats[:, BYTES]]}


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
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        log.info("curve at step %d: %s", state.global_step,
                 ", ".join(f"{r['text']} {r['bpb']:.4f}" for r in rows))

    def on_train_begin(self, args, state, control, model=None, **kw):
        if state.global_step == 0:
            self._measure(state, model)

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step % self.opts.every == 0 or state.global_step >= state.max_steps:
            self._measure(state, model)
