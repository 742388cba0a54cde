"""The plain sentences on the report's first screen: what a reader must not miss.

Each function reads the run and returns sentences (possibly none): adapted variants that
score worse than their base, variants of one stage that were trained on different amounts
of text, and ablation deltas read with their real sign (switching an adapter off can make
the score better, not only worse).
"""

from __future__ import annotations

import json

from langadapt.eval.stats import ALPHA, verdict
from langadapt.report.store import RunData, system_label
from langadapt.runs import ResultRow

LOWER_IS_BETTER = ("nll", "loss", "bpb", "bits_per_byte", "perplexity", "ter")
HIGHER_IS_BETTER = ("bleu", "chrf", "acc", "f1", "exact")


def lower_is_better(metric: str) -> bool | None:
    """True/False for known score directions; None when the metric's name does not say."""
    m = metric.lower().removesuffix(".delta").removesuffix("_delta")
    if any(k in m for k in HIGHER_IS_BETTER):
        return False
    if any(k in m for k in LOWER_IS_BETTER):
        return True
    return None


DECISION_RULE = (f"A paired difference is called better or worse when its two-sided p < {ALPHA:g}; "
                 "for the paired bootstrap the p-value and the 95% interval come from the same "
                 "resamples, so that is exactly when the interval excludes 0 (approximate "
                 "randomisation has a p-value only).")


def paired_verdict(r: ResultRow, p: float | None = None) -> str:
    """The words of `langadapt.eval.stats.verdict` for a `.delta`/`_delta` row (every report verdict)."""
    name = r.metric.removesuffix(".delta").removesuffix("_delta")
    p = r.extra.get("p_value") if p is None else p
    return verdict(r.value, p, r.ci, lower_is_better(name))


def decision_rule(run: RunData) -> list[str]:
    """The rule, stated once, when the run holds a paired comparison."""
    paired = any(r.metric.endswith((".delta", "_delta")) for r in run.rows)
    return [DECISION_RULE] if paired else []


def worse_than_base(run: RunData) -> list[str]:
    """One sentence per held-out text where an adapted variant has higher bits per byte than `base`."""
    rows = [r for r in run.rows if r.metric in ("bpb", "bits_per_byte") and r.value is not None
            and r.extra.get("kind") != "eval.ablation"]  # (the ablation has its own sentences)
    out = []
    for ds in dict.fromkeys(r.dataset or "" for r in rows):
        sel = [r for r in rows if (r.dataset or "") == ds]
        base = next((r for r in sel if system_label(r) == "base"), None)
        if base is None:
            continue
        worse = [r for r in sel if r is not base and r.value > base.value]
        if not worse:
            if len(sel) > 1:
                where = ds or "held-out text"
                out.append(f"No adapted variant has higher bits per byte than the base on {where}.")
            continue
        parts = [f"{system_label(r)} {r.value:.3f} vs {base.value:.3f}" + _paired_note(run, r, base)
                 for r in worse]
        out.append(f"Worse than the base on {ds or 'held-out text'}: " + "; ".join(parts) + " bits per byte.")
    return out


def _paired_note(run: RunData, r: ResultRow, base: ResultRow) -> str:
    """The paired verdict against the base when there is one, else whether the two CIs overlap."""
    delta = next((d for d in run.rows if d.metric == "bpb_delta" and d.value is not None
                  and d.dataset == r.dataset and system_label(d) == system_label(r)), None)
    if delta is not None:
        return f" (paired: {paired_verdict(delta)})"
    if r.ci and base.ci and r.ci[0] <= base.ci[1]:
        return " (95% CIs overlap)"
    return ""


def text_budgets(run: RunData) -> list[str]:
    """One sentence per training stage whose variants read different numbers of tokens or bytes."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for stage, path in run.stage_files("train_summary.json"):
        if not stage.variant:
            continue
        stem = stage.id.removesuffix(f".{stage.variant}")
        groups.setdefault(stem, []).append((stage.variant, json.loads(path.read_text(encoding="utf-8"))))
    out = []
    for stem, members in groups.items():
        if len(members) < 2:
            continue
        tokens = {s.get("total_tokens") for _, s in members}
        text = {s.get("total_bytes") for _, s in members}
        if len(tokens) == 1 and len(text) == 1:
            continue
        what = ("the same number of tokens but different amounts of text" if len(tokens) == 1
                else "different numbers of tokens and different amounts of text" if len(text) > 1
                else "different numbers of tokens of the same text")
        parts = [f"{v} {_count(s.get('total_tokens'))} tokens = {format_bytes(s.get('total_bytes'))}"
                 for v, s in members]
        out.append(f"The {stem} variants were trained on {what}: " + "; ".join(parts) + ".")
    return out


def _count(n) -> str:
    return "?" if n is None else f"{int(n):,}"


def format_bytes(n, digits: int = 2) -> str:
    """A byte count in words: `1.23 MB`, `512 bytes`, `? bytes` when unknown."""
    if n is None:
        return "? bytes"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.{digits}f} {unit}"
    return f"{int(n)} bytes"


def ablation_signs(rows: list[ResultRow]) -> list[str]:
    """What switching the adapter off in each layer group did, with the sign read correctly.

    Uses the paired `.delta` rows (variant minus the full adapter) where present, else the
    plain scores against the `none` variant.
    """
    rows = [r for r in rows if "ablate" in r.extra and r.value is not None]
    deltas = [r for r in rows if r.metric.endswith(".delta")]
    if not deltas:
        full = {r.metric: r.value for r in rows if r.extra["ablate"] == "none"}
        deltas = [r.model_copy(update={"value": r.value - full[r.metric], "ci": None}) for r in rows
                  if r.metric in full and r.extra["ablate"] != "none"]
    out = []
    for metric in dict.fromkeys(r.metric for r in deltas):
        sel = [r for r in deltas if r.metric == metric]
        name = metric.removesuffix(".delta")
        lower = lower_is_better(name)
        helps, hurts, unclear = [], [], []
        for r in sel:
            label = r.extra["ablate"]
            ci = f" [{r.ci[0]:+.4f}, {r.ci[1]:+.4f}]" if r.ci else ""
            p = r.extra.get("p_value")
            item = f"{label} {r.value:+.4f}{ci}" + (f" p = {p:.3g}" if p is not None else "")
            words = paired_verdict(r) if lower is not None else "direction unknown"
            if words == "worse":  # the score got worse without the adapter there
                helps.append(item)
            elif words == "better":
                hurts.append(item)
            else:
                unclear.append(item)
        parts = []
        if hurts:
            parts.append(f"switching the adapter off made {name} BETTER in {', '.join(hurts)}"
                         " (the adapter in those layers does harm)")
        if helps:
            parts.append(f"switching the adapter off made {name} worse in {', '.join(helps)}"
                         " (the adapter in those layers helps)")
        if unclear:
            parts.append(f"no clear change in {', '.join(unclear)}")
        if parts:
            direction = {True: "lower is better", False: "higher is better", None: "direction unknown"}[lower]
            text = "; ".join(parts)
            out.append(f"Ablation ({name}, {direction}, change from the full adapter): "
                       f"{text[0].upper()}{text[1:]}.")
    return out


def findings(run: RunData) -> list[str]:
    """Every first-screen sentence, in reading order."""
    rows = [r for r in run.rows if "ablate" in r.extra]
    return worse_than_base(run) + text_budgets(run) + ablation_signs(rows) + decision_rule(run)
