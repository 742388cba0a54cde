"""Read a run folder for reporting: result rows and finished stages. Reads only."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from langadapt.errors import DataError
from langadapt.runs import DONE, ResultRow, read_results


@dataclass
class StageInfo:
    """A finished stage: its folder and what its DONE.json marker says."""

    id: str
    kind: str
    variant: str | None
    dir: Path
    seconds: float | None
    info: dict = field(default_factory=dict)


@dataclass
class RunData:
    """Everything a report needs from one run folder."""

    root: Path
    name: str
    rows: list[ResultRow]
    stages: list[StageInfo]

    def rows_for(self, metrics: Iterable[str] | None = None, kind_prefix: str | None = None
                 ) -> list[ResultRow]:
        """Rows with one of `metrics` (case-insensitive), from stages of a kind prefix."""
        wanted = {m.lower() for m in metrics} if metrics else None
        return [r for r in self.rows
                if (wanted is None or r.metric.lower() in wanted)
                and (kind_prefix is None or str(r.extra.get("kind", "")).startswith(kind_prefix))]

    def stages_of(self, kind_prefix: str) -> list[StageInfo]:
        return [s for s in self.stages if s.kind.startswith(kind_prefix)]

    def stage_files(self, name: str) -> list[tuple[StageInfo, Path]]:
        """(stage, path) for every finished stage that has `name` at its top level."""
        return [(s, s.dir / name) for s in self.stages if (s.dir / name).is_file()]


def system_label(row: ResultRow) -> str:
    """How a row's system is named in tables and plots: variant, else model, else stage."""
    model = Path(row.model).name if row.model else None
    if model and model.startswith("."):  # a stage's temp folder (older runs recorded those)
        model = None
    return row.variant or model or str(row.extra.get("stage", "?"))


def _plan_order(root: Path) -> list[str]:
    p = root / "recipe.resolved.yaml"
    if not p.is_file():
        return []
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    return [s["id"] for s in data.get("plan", []) if isinstance(s, dict) and "id" in s]


def load_run(root: str | Path) -> RunData:
    """Read a run folder; a folder with neither results nor stages is an error."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("run folder not found", file=str(root))
    stages: list[StageInfo] = []
    stage_root = root / "stages"
    markers = sorted(stage_root.glob(f"*/{DONE}")) if stage_root.is_dir() else []
    for m in markers:
        info = json.loads(m.read_text(encoding="utf-8"))
        stages.append(StageInfo(id=m.parent.name, kind=info.get("kind", "?"), variant=info.get("variant"),
                                dir=m.parent, seconds=info.get("seconds"), info=info))
    order = _plan_order(root)
    stages.sort(key=lambda s: (order.index(s.id) if s.id in order else len(order),
                               s.info.get("finished", 0)))
    rows = read_results(root / "results.jsonl")
    if not rows and not stages:
        raise DataError("no results.jsonl and no finished stages: is this a run folder?", file=str(root))
    name = root.resolve().name
    return RunData(root=root, name=name, rows=rows, stages=stages)
