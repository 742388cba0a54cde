"""Plots of the data side: the cleaning funnel and tokenizer fertility."""

from __future__ import annotations

import json
from pathlib import Path

from langadapt.figures import save_figure
from langadapt.report.plots import Skip, bar_with_ci, plt, register_plot
from langadapt.report.store import RunData, system_label


def funnel_counts(stats: dict) -> tuple[int | None, int | None, dict[str, int]]:
    """(documents in, documents kept, {drop reason: count}) from a cleaning `stats.json`.

    Accepts `{"input"|"read"|"docs_in", "kept"|"docs_out", "dropped": {reason: n}}`,
    optionally nested under `"total"`.
    """
    stats = stats.get("total", stats) if isinstance(stats.get("total"), dict) else stats
    n_in = next((stats[k] for k in ("input", "read", "docs_in", "documents")
                 if isinstance(stats.get(k), int)), None)
    kept = next((stats[k] for k in ("kept", "docs_out", "output") if isinstance(stats.get(k), int)), None)
    dropped = stats.get("dropped") or stats.get("reasons") or {}
    if not isinstance(dropped, dict):
        dropped = {}
    dropped = {str(k): int(v) for k, v in dropped.items() if isinstance(v, (int, float)) and v}
    return n_in, kept, dropped


@register_plot("cleaning_funnel", "Cleaning funnel", "stats.json of a data.clean stage")
def plot_funnel(run: RunData, path: Path) -> str:
    found = [(s, json.loads(p.read_text(encoding="utf-8"))) for s, p in run.stage_files("stats.json")
             if s.kind == "data.clean"]
    found = [(s, funnel_counts(st)) for s, st in found]
    found = [(s, c) for s, c in found if c[1] is not None]
    if not found:
        raise Skip("no data.clean stage with kept/dropped counts")
    fig, axes = plt.subplots(len(found), 1, figsize=(7, 1.2 + 0.35 * max(len(c[2]) + 2 for _, c in found)
                                                          * len(found)), squeeze=False, layout="constrained")
    for ax, (stage, (n_in, kept, dropped)) in zip(axes[:, 0], found):
        labels = (["input"] if n_in is not None else []) + [f"dropped: {k}" for k in dropped] + ["kept"]
        values = ([n_in] if n_in is not None else []) + list(dropped.values()) + [kept]
        colors = (["#999999"] if n_in is not None else []) + ["#e45756"] * len(dropped) + ["#54a24b"]
        ax.barh(range(len(labels)), values, color=colors)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.annotate(f"{v:,}", (v, y), xytext=(3, -3), textcoords="offset points", fontsize=8)
        ax.set_title(stage.id, fontsize=9)
        ax.set_xlabel("documents")
    save_figure(fig, path)
    return "Documents read, dropped by reason, and kept by each cleaning stage."


@register_plot("fertility", "Tokenizer fertility", "rows with a 'fertility' metric (tokenizer.stats)")
def plot_fertility(run: RunData, path: Path) -> str:
    rows = [r for r in run.rows if "fertility" in r.metric.lower() and r.value is not None]
    if not rows:
        raise Skip("no fertility rows")
    groups = sorted({(r.metric, r.dataset or "") for r in rows})
    height = 0.8 + sum(0.4 * sum(1 for r in rows if (r.metric, r.dataset or "") == g) + 0.6 for g in groups)
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, height), squeeze=False, layout="constrained")
    for ax, (metric, ds) in zip(axes[:, 0], groups):
        sel = [r for r in rows if (r.metric, r.dataset or "") == (metric, ds)]
        labels = [system_label(r) for r in sel]
        bar_with_ci(ax, labels, [r.value for r in sel], [r.ci for r in sel], metric)
        ax.set_title(Path(ds).name or metric, fontsize=9)
    save_figure(fig, path)
    return "Tokens per word (fertility; lower means the tokenizer fits the language better)."
