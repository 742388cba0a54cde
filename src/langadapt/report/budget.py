"""The training budget of every training stage: steps, tokens, bytes of text, wall time.

An extended tokenizer reads more text per token, so an equal token budget is not an
equal text budget; the report states both (from each stage's `train_summary.json`).
"""

from __future__ import annotations

import json

from langadapt.report.store import RunData
from langadapt.runs import ResultRow

SUMMARY = "train_summary.json"
# (column, summary key)
COLUMNS = (("steps", "steps"), ("tokens", "total_tokens"), ("bytes of text", "total_bytes"),
           ("wall seconds", "wall_time_s"), ("tokens/s", "tokens_per_second"),
           ("trainable params", "trainable_params"))


def budget_rows(run: RunData) -> list[tuple[str, dict]]:
    """(stage label, summary) for each finished stage with a training summary, in run order."""
    out = []
    for stage, path in run.stage_files(SUMMARY):
        summary = json.loads(path.read_text(encoding="utf-8"))
        label = stage.id if not stage.variant else f"{stage.id} ({stage.variant})"
        out.append((label, summary))
    return out


def budget_cells(summary: dict) -> list[ResultRow | None]:
    """One cell per column; a key the summary lacks is shown as missing."""
    cells: list[ResultRow | None] = []
    for name, key in COLUMNS:
        v = summary.get(key)
        cells.append(None if v is None else ResultRow(metric=name, value=float(v)))
    return cells
