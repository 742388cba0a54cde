"""Plot registry and the core plots: held-out bits per byte, training-loss curves.

A plot is a function `fn(run, path) -> caption` registered with `register_plot`; it
draws one PNG at `path` or raises `Skip(reason)` when the rows or files it needs are
absent, and the report says so. Other modules add plots the same way (listed in
`PLOT_MODULES`, imported when a report is built).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from langadapt.figures import pyplot, save_figure
from langadapt.registry import Registry
from langadapt.report.store import RunData, system_label

plt = pyplot()  # Agg: files only, no display

PLOT_MODULES = ("langadapt.report.plots", "langadapt.report.plots_data", "langadapt.report.plots_eval",
                "langadapt.report.plots_layers", "langadapt.report.curves")
BPB_METRICS = ("bpb", "bits_per_byte")


class Skip(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a plot whose inputs are absent; the message is shown as a note."""


@dataclass
class PlotSpec:
    name: str               # file stem of the PNG
    title: str
    needs: str              # what it reads, shown when it is skipped
    fn: Callable[[RunData, Path], str]


PLOTS: Registry[PlotSpec] = Registry("plot", modules=PLOT_MODULES)


def register_plot(name: str, title: str, needs: str):
    """Decorator: register `fn(run, path) -> caption` as plot `name`."""
    def deco(fn):
        PLOTS.add(name, PlotSpec(name, title, needs, fn))
        return fn
    return deco


def plots() -> list[PlotSpec]:
    return list(PLOTS.as_dict().values())


def bar_with_ci(ax, labels: list[str], values: list[float], cis: list, xlabel: str) -> None:
    """Horizontal bars with 95% CI whiskers where known, each labelled with its value."""
    ys = range(len(labels))
    err = [[max(0.0, v - c[0]) if c else 0.0 for v, c in zip(values, cis)],
           [max(0.0, c[1] - v) if c else 0.0 for v, c in zip(values, cis)]]
    ax.barh(list(ys), values, xerr=err, capsize=4, color="#4c78a8")
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    for y, v in zip(ys, values):
        ax.annotate(f"{v:.3f}", (v, y), xytext=(4, -10), textcoords="offset points", fontsize=8)


@register_plot("bpb", "Held-out bits per byte by variant (lower is better)",
               "rows with metric 'bpb' (eval.bpb stages)")
def plot_bpb(run: RunData, path: Path) -> str:
    rows = [r for r in run.rows_for(BPB_METRICS) if r.value is not None]
    if not rows:
        raise Skip("no bits-per-byte rows")
    datasets = sorted({r.dataset or "" for r in rows})
    fig, axes = plt.subplots(len(datasets), 1, figsize=(7, 0.5 + 0.45 * len(rows) + 0.6 * len(datasets)),
                             squeeze=False, layout="constrained")
    for ax, ds in zip(axes[:, 0], datasets):
        sel = [r for r in rows if (r.dataset or "") == ds]
        bar_with_ci(ax, [system_label(r) for r in sel], [r.value for r in sel], [r.ci for r in sel],
                    "bits per UTF-8 byte")
        ax.set_title(Path(ds).name or "held-out text", fontsize=9)
    fig.suptitle("Held-out bits per byte (95% bootstrap CI)")
    save_figure(fig, path)
    return "Bits per UTF-8 byte on held-out text; whiskers are 95% bootstrap CIs over documents."


def read_train_log(path: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, loss) and (step, eval_loss) pairs from a `train_log.jsonl`; bad lines are skipped."""
    loss, evals = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict) or "step" not in rec:
            continue
        if rec.get("loss") is not None:
            loss.append((rec["step"], float(rec["loss"])))
        if rec.get("eval_loss") is not None:
            evals.append((rec["step"], float(rec["eval_loss"])))
    return loss, evals


@register_plot("train_loss", "Training loss", "train_log.jsonl in training stages")
def plot_train_loss(run: RunData, path: Path) -> str:
    logs = [(s, read_train_log(p)) for s, p in run.stage_files("train_log.jsonl")]
    logs = [(s, lv) for s, lv in logs if lv[0] or lv[1]]
    if not logs:
        raise Skip("no training logs")
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (stage, (loss, evals)) in enumerate(logs):
        color = f"C{i % 10}"
        if loss:
            ax.plot(*zip(*loss), color=color, label=f"{stage.id} train", linewidth=1.2)
        if evals:
            ax.plot(*zip(*evals), color=color, marker="o", linestyle="--", label=f"{stage.id} eval")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return ("Training loss per step (solid) and held-out loss (dashed) of each training stage. "
            "Losses are per token, so stages with different tokenizers are not comparable here: "
            "compare bits per byte.")
