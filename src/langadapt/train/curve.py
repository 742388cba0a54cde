"""Learning curves: held-out bits per byte at step 0 and every N steps of a training run.

`curve.jsonl` in the output folder gets one row per (step, text):

    {"step", "tokens", "bytes", "text", "bpb", "ci": [low, high], "docs", "doc_nll", "doc_bytes"}

`tokens` are the training tokens read so far (HF `num_input_tokens_seen`) and `bytes`
the UTF-8 bytes of training text behind them: an extended tokenizer reads more text per
token, so a curve is drawn against both. Scoring is `langadapt.eval.perplexity`'s (lm-eval
rolling log-likelihood) on the model being trained, with the CI from `langadapt.eval.stats`
(bootstrap over documents); the per-document nats and bytes are kept for paired
comparisons in the report. A resumed run keeps the rows of the steps it already passed.
`langadapt.train.callbacks.CurveCallback` measures the points during training.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from langadapt.train.config import CurveOptions

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
