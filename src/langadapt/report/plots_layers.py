"""PNG plots for layer analysis: logit-lens curves, the top-1 heat map, the ablation bars.

All functions take result rows (as `langadapt eval layers` writes them to
results.jsonl) or the lens detail dict, write one PNG atomically and return its
path. Figures use matplotlib's object API with the Agg canvas, so nothing touches
the global backend or needs a display.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

from langadapt.figures import save_figure
from langadapt.runs import ResultRow

LENS_PANELS = (
    ("to final: KL(final ‖ layer), nats", ("lens_kl_to_final",)),
    ("to final: agreement", ("lens_cos_to_final", "lens_top1_to_final")),
    ("base vs adapted, per layer", ("lens_base_cos", "lens_base_top1")),
    ("probability on the new tokens", ("lens_new_token_mass", "lens_base_new_token_mass")),
)
LABELS = {"lens_cos_to_final": "cosine", "lens_top1_to_final": "top-1 agreement",
          "lens_base_cos": "cosine(base, adapted)", "lens_base_top1": "top-1 agreement",
          "lens_base_new_token_mass": "(base)"}


def _series(rows: list[ResultRow], metric: str) -> dict[str, tuple[list[int], list[float]]]:
    """{model/variant label: (layers, values)} for one lens metric."""
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        if r.metric == metric and r.value is not None and "layer" in r.extra:
            label = r.variant or (Path(r.model).name if r.model else "model")
            out.setdefault(label, {})[int(r.extra["layer"])] = r.value
    return {k: (sorted(v), [v[i] for i in sorted(v)]) for k, v in out.items()}


def plot_lens(rows: Iterable[ResultRow], path: str | Path) -> Path:
    """Per-layer curves: KL and agreement with the final output, and base-vs-adapted similarity."""
    rows = list(rows)
    panels = [(t, ms) for t, ms in LENS_PANELS if any(_series(rows, m) for m in ms)]
    if not panels:
        raise ValueError("no logit-lens rows to plot")
    fig = Figure(figsize=(4.2 * len(panels), 3.4))
    for k, (title, metrics) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for m in metrics:
            for label, (xs, ys) in _series(rows, m).items():
                name = LABELS.get(m, "")
                ax.plot(xs, ys, marker="o", ms=3, label=f"{label} {name}".strip())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("layer (-1 = embeddings)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_lens_heatmap(detail: dict, path: str | Path, title: str = "logit lens: top-1 token") -> Path:
    """Layers × positions of the first text: colour = top-1 probability, text = the token."""
    grid, layers = detail.get("top1"), detail.get("layers")
    if not grid:
        raise ValueError("no logit-lens detail to plot")
    probs = [[p for _, p in row] for row in grid]
    n_pos = len(grid[0])
    fig = Figure(figsize=(max(4.0, 0.75 * n_pos), max(2.5, 0.38 * len(layers))))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(probs, aspect="auto", origin="lower", cmap="viridis", vmin=0,
                   vmax=max(max(r) for r in probs) or 1)
    for y, row in enumerate(grid):
        for x, (token, _) in enumerate(row):
            ax.text(x, y, token.replace("\n", "⏎")[:8], ha="center", va="center", fontsize=6,
                    color="white")
    ax.set_yticks(range(len(layers)), ["emb" if v < 0 else str(v) for v in layers])
    ax.set_xlabel("position")
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="top-1 probability")
    return save_figure(fig, path)


def plot_ablation(rows: Iterable[ResultRow], path: str | Path) -> Path:
    """One panel per metric, one point (a bar for `.delta` rows) per variant, 95% CIs as error bars."""
    rows = [r for r in rows if "ablate" in r.extra and r.value is not None]
    if not rows:
        raise ValueError("no ablation rows to plot")
    metrics = list(dict.fromkeys(r.metric for r in rows))
    fig = Figure(figsize=(3.6 * len(metrics), 3.4))
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), k + 1)
        sel = [r for r in rows if r.metric == metric]
        xs = range(len(sel))
        err = None
        if all(r.ci for r in sel):
            err = [[r.value - r.ci[0] for r in sel], [r.ci[1] - r.value for r in sel]]
        if metric.endswith(".delta"):  # differences from the full adapter: bars from zero
            ax.bar(xs, [r.value for r in sel], yerr=err, capsize=3, color="#4c72b0")
            ax.axhline(0, color="black", lw=0.8)
        else:  # absolute scores: points, so small differences are not flattened by a 0 axis
            ax.errorbar(xs, [r.value for r in sel], yerr=err, fmt="o", capsize=3, color="#4c72b0")
        labels = [r.extra["ablate"] for r in sel]
        if len(set(labels)) < len(labels):  # several recipe variants: name them in full
            labels = [r.variant or r.extra["ablate"] for r in sel]
        ax.set_xticks(list(xs), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("LoRA off in")
        ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
