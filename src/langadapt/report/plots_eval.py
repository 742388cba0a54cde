"""Registered report plots for layer analysis, drawn by `langadapt.report.plots_layers`."""

from __future__ import annotations

from pathlib import Path

from langadapt.report.findings import ablation_signs
from langadapt.report.plots import Skip, register_plot
from langadapt.report.store import RunData


@register_plot("ablation", "Adapter layer ablation", "eval.ablation rows")
def plot_ablation(run: RunData, path: Path) -> str:
    from langadapt.report.plots_layers import plot_ablation as draw

    rows = [r for r in run.rows if "ablate" in r.extra and r.value is not None]
    if not rows:
        raise Skip("no ablation rows")
    draw(rows, path)
    caption = ("Each point (or bar) switches the LoRA adapter off in one group of layers "
               "(none = the full adapter); a .delta panel shows that variant minus the full adapter, "
               "paired over the same items. "
               "A change for the worse marks layers whose adapter helps; a change for the better marks "
               "layers whose adapter does harm.")
    return " ".join([caption, *ablation_signs(rows)])


@register_plot("lens", "Logit lens", "eval.lens rows")
def plot_lens(run: RunData, path: Path) -> str:
    from langadapt.report.plots_layers import plot_lens as draw

    rows = [r for r in run.rows if r.metric.startswith("lens_") and "layer" in r.extra]
    if not rows:
        raise Skip("no logit-lens rows")
    draw(rows, path)
    caption = "Per layer: how close the intermediate prediction is to the final one, and to the base model."
    if any(r.metric == "lens_new_token_mass" for r in rows):
        caption += (" The new-token panel shows the next-token probability each layer puts on the "
                    "extended vocabulary's new tokens (mean over positions): where they become usable.")
    return caption
