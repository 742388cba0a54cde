"""Learning curves in the report: held-out bits per byte against tokens and bytes of text read.

Each training stage with a `curve:` wrote `curve.jsonl` (`langadapt.train.curve`): one
point per (step, held-out text) with its 95% bootstrap CI. The plot draws one line per
variant (one per seed where a recipe ran several), against training tokens and against
training bytes side by side: an extended tokenizer reads more text per token, so the two
axes can tell different stories. The sentences say, per pair of variants and text, from
which point on one stays below the other, or that they never cross.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from langadapt.figures import save_figure
from langadapt.report.findings import format_bytes
from langadapt.report.plots import Skip, plt, register_plot
from langadapt.report.store import RunData

_SEED = re.compile(r"@seed\d+$")
# Written by `langadapt.train.curve`; read here by name, as the report reads train_log.jsonl,
# because importing `langadapt.train` would load torch and transformers into every report.
CURVE_NAME = "curve.jsonl"


def read_curve(path: Path) -> list[dict]:
    """The points of a `curve.jsonl`; lines that are not whole points are skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and {"step", "tokens", "bpb", "text"} <= set(row):
            rows.append(row)
    return rows


@dataclass
class Curve:
    """One variant's points on one text: `points[seed] = rows sorted by step`."""

    spec: str
    variant: str
    text: str
    points: dict[int | None, list[dict]] = field(default_factory=dict)


def plan_seeds(root: Path) -> dict[str, int]:
    """Stage instance id -> seed, for the instances in a seed dimension (recipe.resolved.yaml)."""
    p = root / "recipe.resolved.yaml"
    plan = (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("plan", []) if p.is_file() else []
    return {s["id"]: s["seed"] for s in plan if isinstance(s, dict) and s.get("seed") is not None}


def load_curves(run: RunData) -> list[Curve]:
    """Every curve of the run, grouped by (training stage, variant, text), seeds together."""
    seeds = plan_seeds(run.root)
    curves: dict[tuple[str, str, str], Curve] = {}
    for stage, path in run.stage_files(CURVE_NAME):
        spec = str(stage.info.get("spec") or stage.id.split(".")[0])
        variant = _SEED.sub("", stage.variant or "") or spec
        for row in read_curve(path):
            key = (spec, variant, str(row["text"]))
            curve = curves.setdefault(key, Curve(spec, variant, str(row["text"])))
            curve.points.setdefault(seeds.get(stage.id), []).append(row)
    for curve in curves.values():
        for rows in curve.points.values():
            rows.sort(key=lambda r: r["step"])
    return list(curves.values())


def mean_curve(curve: Curve) -> list[dict]:
    """Per step measured in every seed: mean bpb, tokens, bytes, and the CI of a lone seed."""
    by_seed = [{r["step"]: r for r in rows} for rows in curve.points.values()]
    steps = sorted(set.intersection(*(set(s) for s in by_seed)))
    out = []
    for step in steps:
        rows = [s[step] for s in by_seed]
        out.append({"step": step, "tokens": rows[0]["tokens"], "bytes": rows[0].get("bytes"),
                    "bpb": sum(r["bpb"] for r in rows) / len(rows),
                    "ci": rows[0].get("ci") if len(rows) == 1 else None})
    return out


def crossover(a: Curve, b: Curve) -> str | None:
    """One sentence on where `a` and `b` (same text) stand against each other along training."""
    pa, pb = mean_curve(a), mean_curve(b)
    common = sorted({p["step"] for p in pa} & {p["step"] for p in pb})
    if len(common) < 2:
        return None
    ra = {p["step"]: p for p in pa}
    rb = {p["step"]: p for p in pb}
    diffs = [ra[s]["bpb"] - rb[s]["bpb"] for s in common]
    seeds = max(len(a.points), len(b.points))
    avg = f" (mean of {seeds} seeds)" if seeds > 1 else ""
    where = f"On {a.text}{avg}"
    if all(d < 0 for d in diffs) or all(d > 0 for d in diffs):
        low, high = (a, b) if diffs[0] < 0 else (b, a)
        return f"{where}, {low.variant} is below {high.variant} at every point: no crossover."
    if diffs[-1] == 0:
        return f"{where}, {a.variant} and {b.variant} end level after crossing."
    lead, other, sign = (a, b, -1) if diffs[-1] < 0 else (b, a, 1)
    k = len(diffs) - 1
    while k > 0 and diffs[k - 1] * sign > 0:
        k -= 1
    step = common[k]
    rl, ro = (ra, rb) if lead is a else (rb, ra)
    crossings = sum(1 for x, y in zip(diffs, diffs[1:]) if (x < 0) != (y < 0))
    more = f" (the curves cross {crossings} times)" if crossings > 1 else ""
    return (f"{where}, {lead.variant} is below {other.variant} from {rl[step]['tokens']:,} tokens on "
            f"(step {step}; {format_bytes(rl[step].get('bytes'), 1)} of training text read by "
            f"{lead.variant}, {format_bytes(ro[step].get('bytes'), 1)} by {other.variant}){more}"
            f"{_last_ci(rl[common[-1]], ro[common[-1]])}.")


def _last_ci(a: dict, b: dict) -> str:
    if not a.get("ci") or not b.get("ci"):
        return ""
    apart = a["ci"][1] < b["ci"][0] or b["ci"][1] < a["ci"][0]
    return "; at the last point their 95% CIs " + ("are apart" if apart else "overlap")


def curve_sentences(run: RunData) -> list[str]:
    """A crossover sentence per training stage, text and pair of its variants."""
    curves = load_curves(run)
    out = []
    for spec, text in dict.fromkeys((c.spec, c.text) for c in curves):
        group = [c for c in curves if c.spec == spec and c.text == text]
        for a, b in itertools.combinations(group, 2):
            sentence = crossover(a, b)
            if sentence:
                out.append(f"Learning curve ({spec}): {sentence}")
    return out


@register_plot("curves", "Learning curves: held-out bits per byte along training (lower is better)",
               "curve.jsonl in training stages (train option `curve`)")
def plot_curves(run: RunData, path: Path) -> str:
    curves = load_curves(run)
    if not curves:
        raise Skip("no learning curves")
    panels = list(dict.fromkeys((c.spec, c.text) for c in curves))
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.2 * len(panels)), squeeze=False,
                             layout="constrained")
    for (spec, text), row in zip(panels, axes):
        group = [c for c in curves if c.spec == spec and c.text == text]
        for i, curve in enumerate(group):
            for j, (seed, pts) in enumerate(sorted(curve.points.items(), key=lambda kv: kv[0] or 0)):
                label = curve.variant if j == 0 else None
                for ax, x in zip(row, ("tokens", "bytes")):
                    _draw(ax, pts, x, f"C{i % 10}", label, seed)
        for ax, x in zip(row, ("training tokens read", "bytes of training text read")):
            ax.set_xlabel(x)
            ax.set_ylabel("bits per byte")
            ax.set_title(f"{spec}: {text}", fontsize=9)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8)
    save_figure(fig, path)
    return ("Held-out bits per byte at step 0 and every few steps of each training stage, against "
            "the tokens read (left) and the bytes of training text behind them (right); bands are "
            "95% bootstrap CIs over documents, one line per seed where several ran.")


def _draw(ax, pts: list[dict], x: str, color: str, label: str | None, seed: int | None) -> None:
    pts = [p for p in pts if p.get(x) is not None]
    if not pts:
        return
    xs = [p[x] for p in pts]
    ax.plot(xs, [p["bpb"] for p in pts], color=color, marker="o", markersize=3, linewidth=1.2,
            label=label, alpha=0.9 if seed is None else 0.7)
    if all(p.get("ci") for p in pts):
        ax.fill_between(xs, [p["ci"][0] for p in pts], [p["ci"][1] for p in pts], color=color, alpha=0.12)
