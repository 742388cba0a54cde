"""The report's first screen: one table, variant × what a reader came for, with verdicts.

Rows are the models a run evaluated, joined across stages by the model folder they read
(seeded copies, `<stage>.seedN`, count as one variant). Columns, where the run has them:

* held-out bits per byte, one column per text scored against a baseline (`bpb_delta` rows):
  the variant's bpb, its paired Δ to the baseline with the 95% CI, the relative change
  (for English this is the cost of the adaptation), and the verdict of the one decision
  rule (`findings.paired_verdict`), combined over seeds as `seeds.seed_verdict` does;
* useful bytes per second (continuations that pass the quality thresholds), greedy and
  sampled, with raw bytes/s and the share that passed;
* FLORES chrF++ with its CI, for the models that translated.

With several seeds a cell shows the mean over seeds and their standard deviation beside
the evaluation CI of the recipe's own seed, so training noise and sampling noise are both
on the screen.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import PurePath

from langadapt.report.findings import paired_verdict
from langadapt.report.seeds import SEED_FOLDER, SEED_LABEL, SeedGroup, seed_verdict
from langadapt.report.store import RunData, system_label
from langadapt.runs import ResultRow

_DECODING = re.compile(r", sampled$")


@dataclass
class VerdictTable:
    columns: list[str]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _variant_key(r: ResultRow) -> str | None:
    """The model folder without its seed suffix: one key per variant across stages and seeds."""
    if not r.model:
        return f"output:{r.variant}" if r.extra.get("kind") == "eval.flores" and r.variant else None
    p = PurePath(str(r.model))
    return str(p.with_name(SEED_FOLDER.sub("", p.name)))


def _seed(r: ResultRow) -> int:
    return int(r.extra.get("seed") or 0)


def _label(r: ResultRow) -> str:
    return _DECODING.sub("", SEED_LABEL.sub("", system_label(r)))


def _sampled(r: ResultRow) -> bool:
    return float((r.signature.get("options") or {}).get("temperature") or 0) > 0


def _spread(values: list[float], fmt: str) -> str:
    if len(values) < 2:
        return ""
    return f" ± {format(statistics.stdev(values), fmt)} sd over {len(values)} seeds"


def _bpb_cell(deltas: list[ResultRow], scores: list[ResultRow], label: str) -> tuple[str, str]:
    """(cell, verdict words) for one variant on one text."""
    by_seed = {_seed(r): r for r in deltas}
    first = by_seed[min(by_seed)]
    d = [r.value for r in by_seed.values()]
    mean_d = statistics.fmean(d)
    text = ""
    if scores:
        s = statistics.fmean(r.value for r in scores)
        base = s - mean_d
        rel = f" ({mean_d / base:+.1%})" if base else ""
        text = f"{s:.3f}, "
    else:
        rel = ""
    f = ".4f" if abs(mean_d) < 0.01 else ".3f"  # a tiny but real difference keeps its digits
    ci = f" [{first.ci[0]:+{f}}, {first.ci[1]:+{f}}]" if first.ci else ""
    whose = "" if len(d) == 1 else f" of seed {min(by_seed)}"
    text += f"Δ {mean_d:+{f}}{rel}{_spread(d, f)}; CI{whose}{ci}"
    if len(by_seed) > 1:
        words = seed_verdict(SeedGroup("", first.metric, first.dataset or "", label, by_seed))
    else:
        words = paired_verdict(first)
    return text, words


def _speed_cell(rows: list[ResultRow]) -> str:
    parts = []
    for name, sampled in (("greedy", False), ("sampled", True)):
        sel = [r for r in rows if _sampled(r) == sampled]
        useful = [r.value for r in sel if r.metric == "speed.useful_bytes_per_second"]
        raw = [r.value for r in sel if r.metric == "speed.bytes_per_second"]
        passed = [r.value for r in sel if r.metric == "speed.pass_share"]
        if not useful:
            continue
        parts.append(f"{name} {statistics.fmean(useful):.1f}{_spread(useful, '.1f')} "
                     f"(raw {statistics.fmean(raw):.1f}, {statistics.fmean(passed):.0%} pass)")
    return "; ".join(parts) or "–"


def _flores_cell(rows: list[ResultRow]) -> str:
    parts = []
    for r in rows:
        ci = f" [{r.ci[0]:.1f}, {r.ci[1]:.1f}]" if r.ci else ""
        parts.append(f"{r.variant}: {r.value:.1f}{ci}" if len(rows) > 1 else f"{r.value:.1f}{ci}")
    return "; ".join(parts) or "–"


def verdict_table(run: RunData) -> VerdictTable | None:
    """The first-screen table, or None when the run compared nothing against a baseline."""
    rows = [r for r in run.rows if r.value is not None]
    deltas = [r for r in rows if r.metric == "bpb_delta" and r.extra.get("kind") == "eval.bpb"]
    if not deltas:
        return None
    texts = list(dict.fromkeys(r.dataset or "" for r in deltas))
    baselines = {str(r.extra.get("baseline")) for r in deltas if r.extra.get("baseline")}
    bpb = [r for r in rows if r.metric == "bpb" and r.extra.get("kind") == "eval.bpb"]
    base_models = {_variant_key(r) for r in bpb if any(b.endswith("/" + str(r.extra.get("stage")))
                                                          for b in baselines)}
    speed = [r for r in rows if r.extra.get("kind") == "eval.speed" and r.metric.startswith("speed.")]
    flores = [r for r in rows if r.extra.get("kind") == "eval.flores" and r.metric == "chrf++"]
    keys = list(dict.fromkeys(k for k in [*base_models, *map(_variant_key, deltas),
                                          *map(_variant_key, flores)] if k))
    table = VerdictTable(columns=[f"bits per byte, {t or 'held-out text'}" for t in texts]
                         + ["useful bytes/s (raw, share passing)", "FLORES chrF++", "verdict"])
    for key in keys:
        mine = [r for r in rows if _variant_key(r) == key]
        named = next((r for kind in ("eval.bpb", "eval.speed", "eval.flores") for r in mine
                      if r.extra.get("kind") == kind), None)
        if named is None:
            continue
        label = _label(named)
        cells, words = [], []
        for t in texts:
            d = [r for r in deltas if _variant_key(r) == key and (r.dataset or "") == t]
            s = [r for r in bpb if _variant_key(r) == key and (r.dataset or "") == t]
            if d:
                cell, word = _bpb_cell(d, s, label)
                words.append(f"{t}: {word}")
            elif key in base_models and s:
                cell = f"{statistics.fmean(r.value for r in s):.3f} (the baseline)"
            else:
                cell = "–"
            cells.append(cell)
        cells.append(_speed_cell([r for r in speed if _variant_key(r) == key]))
        cells.append(_flores_cell([r for r in flores if _variant_key(r) == key]))
        cells.append("; ".join(words) if words else ("the baseline" if key in base_models else "–"))
        table.rows.append((label, cells))
    seeds = sorted({_seed(r) for r in deltas})
    table.notes.append(
        "Δ is the paired difference to the baseline on the same documents (lower bits per byte is "
        "better), the CI its 95% bootstrap interval"
        + (f"; with seeds {', '.join(map(str, seeds))} a value is the mean over seeds ± their sd, and a "
           "verdict holds only when every seed's own verdict agrees" if len(seeds) > 1 else "")
        + ". Useful bytes/s counts only continuations that pass the quality thresholds of the speed stage.")
    return table


def to_markdown(t: VerdictTable) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| variant | " + " | ".join(map(esc, t.columns)) + " |",
             "|---" * (len(t.columns) + 1) + "|"]
    lines += ["| " + esc(label) + " | " + " | ".join(map(esc, cells)) + " |" for label, cells in t.rows]
    return "\n".join(lines) + "\n\n" + "".join(f"{n}\n" for n in t.notes)
