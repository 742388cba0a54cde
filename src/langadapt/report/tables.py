"""Tables of result rows: one per stage kind, systems by metrics, values with 95% CIs."""

from __future__ import annotations

from dataclasses import dataclass, field

from langadapt.eval.stats import describe_p
from langadapt.report.budget import COLUMNS, budget_cells, budget_rows
from langadapt.report.findings import paired_verdict
from langadapt.report.store import RunData, system_label
from langadapt.runs import ResultRow

# Section titles for known stage kinds; any other kind gets a table titled by its kind.
TITLES = {"eval.bpb": "Held-out bits per byte", "eval.flores": "FLORES translation",
          "eval.ablation": "Adapter layer ablation", "eval.lens": "Logit lens",
          "eval.choice": "Multiple-choice benchmarks", "tokenizer.stats": "Tokenizer statistics",
          "tokenizer.extend": "Tokenizer extension", "train": "Training", "data.clean": "Cleaning"}
ORDER = ("eval.bpb", "eval.flores", "eval.ablation", "eval.choice", "eval.lens", "tokenizer")


@dataclass
class Table:
    """A systems × metrics table of one stage kind (and dataset)."""

    title: str
    columns: list[str]                       # metrics (systems when transposed)
    rows: list[tuple[str, list[ResultRow | None]]] = field(default_factory=list)
    corner: str = "system"                   # header of the first column
    notes: list[str] = field(default_factory=list)  # footnotes: what was left out and why


# Scores per token: comparable only between systems that cut the text into the same tokens.
PER_TOKEN = ("token_perplexity", "mean_nll", "loss")


def _tokenizations(rows: list[ResultRow]) -> set:
    """What tells two rows' tokenizers apart: token counts of the text, vocabulary, class."""
    keys = set()
    for r in rows:
        opts = (r.signature or {}).get("options") or {}
        key = (r.extra.get("tokens"), opts.get("vocab"), opts.get("tokenizer"))
        if any(k is not None for k in key):
            keys.add(key)
    return keys


def _cross_tokenizer(rows: list[ResultRow], metrics: list[str]) -> tuple[list[str], list[str]]:
    """The metrics to show, and a footnote for per-token ones left out across tokenizers."""
    dropped = [m for m in metrics if m in PER_TOKEN
               and len(_tokenizations([r for r in rows if r.metric == m])) > 1]
    if not dropped:
        return metrics, []
    counts = sorted({int(r.extra["tokens"]) for r in rows if r.metric in dropped and r.extra.get("tokens")})
    seen = f" ({' vs '.join(f'{c:,}' for c in counts)} tokens of the same text)" if len(counts) > 1 else ""
    note = (f"{', '.join(dropped)} left out: these systems use different tokenizers{seen}, and a "
            "per-token score is not comparable across tokenizers; bits per byte (and word "
            "perplexity) are. The per-token values stay in results.jsonl.")
    return [m for m in metrics if m not in dropped], [note]


def fmt_value(r: ResultRow | None) -> str:
    if r is None or r.value is None:
        return "–"
    v = r.value
    text = f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    if r.ci:
        lo, hi = r.ci
        text += f" [{lo:.4f}, {hi:.4f}]" if abs(v) < 10 else f" [{lo:.2f}, {hi:.2f}]"
    return text


def signature_line(sig: dict) -> str:
    """A compact, sacrebleu-style signature: tool versions, seed, hashes, options."""
    parts = [f"{k}={v}" for k, v in (sig.get("tools") or {}).items()]
    for key in ("seed", "config_hash", "data_hash", "git"):
        if sig.get(key) is not None:
            parts.append(f"{key.replace('_hash', '')}={sig[key]}")
    for k, v in sorted((sig.get("options") or {}).items()):
        if isinstance(v, (str, int, float, bool)) or v is None:
            parts.append(f"{k}={v}")
    return "|".join(parts)


def _kind_rank(kind: str) -> tuple[int, str]:
    for i, prefix in enumerate(ORDER):
        if kind.startswith(prefix):
            return i, kind
    return len(ORDER), kind


def build_tables(run: RunData) -> list[Table]:
    """One table per (stage kind, dataset): rows are systems in run order, columns metrics."""
    groups: dict[tuple[str, str], list[ResultRow]] = {}
    for r in run.rows:
        groups.setdefault((str(r.extra.get("kind", "results")), r.dataset or ""), []).append(r)
    tables = []
    for (kind, ds) in sorted(groups, key=lambda g: (_kind_rank(g[0]), g[1])):
        rows = groups[(kind, ds)]
        metrics, notes = _cross_tokenizer(rows, list(dict.fromkeys(r.metric for r in rows)))
        systems = list(dict.fromkeys(system_label(r) for r in rows))
        title = TITLES.get(kind, kind) + (f" — {ds}" if ds else "")
        cell = {(system_label(r), r.metric): r for r in rows}
        if len(systems) == 1 and len(metrics) > 4:
            # One system with many metrics (e.g. a cleaning funnel) reads better down than across.
            t = Table(title=title, columns=systems, corner="metric")
            t.rows = [(m, [cell.get((systems[0], m))]) for m in metrics]
        else:
            t = Table(title=title, columns=metrics)
            t.rows = [(s, [cell.get((s, m)) for m in metrics]) for s in systems]
        t.notes = notes
        tables.append(t)
    budget = budget_rows(run)
    if budget:
        t = Table(title="Training budget", columns=[c for c, _ in COLUMNS], corner="training stage")
        t.rows = [(label, budget_cells(summary)) for label, summary in budget]
        tables.append(t)
    return tables


def table_signatures(t: Table) -> list[tuple[str, list[str]]]:
    """The table's distinct signatures, each with the cells (`row · column`) that carry it."""
    groups: dict[str, list[str]] = {}
    for name, cells in t.rows:
        for column, c in zip(t.columns, cells):
            if c is not None and c.signature:
                groups.setdefault(signature_line(c.signature), []).append(f"{name} · {column}")
    return list(groups.items())


def to_markdown(t: Table) -> str:
    head = f"| {t.corner} | " + " | ".join(t.columns) + " |\n|---|" + "---:|" * len(t.columns) + "\n"
    body = "".join(f"| {s} | " + " | ".join(fmt_value(c) for c in cells) + " |\n" for s, cells in t.rows)
    return head + body + "".join(f"\n* {n}\n" for n in t.notes)


def stage_table(run: RunData) -> str:
    """Markdown table of finished stages, their run time and the langadapt that computed them."""
    lines = ["| stage | kind | variant | seconds | langadapt |", "|---|---|---|---:|---|"]
    for s in run.stages:
        secs = "" if s.seconds is None else f"{s.seconds:.1f}"
        lines.append(f"| {s.id} | {s.kind} | {s.variant or ''} | {secs} | {s.info.get('langadapt', '')} |")
    return "\n".join(lines) + "\n"


def headlines(run: RunData) -> list[str]:
    """One sentence per held-out text: each variant's bits per byte against the base's."""
    out = []
    rows = [r for r in run.rows if r.metric.lower() in ("bpb", "bits_per_byte") and r.value is not None
            and r.extra.get("kind") != "eval.ablation"]  # (the ablation has its own sentences)
    for ds in dict.fromkeys(r.dataset or "" for r in rows):
        sel = sorted((r for r in rows if (r.dataset or "") == ds), key=lambda r: r.value)
        base = next((r for r in sel if system_label(r) == "base"), None)
        parts = []
        for r in sel:
            delta = f" ({(r.value - base.value) / base.value:+.1%} vs base)" if base and r is not base else ""
            parts.append(f"{system_label(r)} {r.value:.3f}{delta}")
        out.append(f"Bits per byte on {ds or 'held-out text'} (lower is better): " + "; ".join(parts) + ".")
    return out + paired_headlines(run)


VERDICTS = {"worse": "is WORSE than its base", "better": "is better than its base",
            "not distinguishable": "is not distinguishable from its base",
            "inconsistent": "has an interval and a p-value that disagree (scored by an older rule: "
                            "re-run the comparison)"}


def paired_headlines(run: RunData) -> list[str]:
    """One sentence per paired comparison (`bpb_delta` rows): better, worse, or no difference."""
    out = []
    for r in run.rows:
        if r.metric != "bpb_delta" or r.value is None:
            continue
        p = r.extra.get("p_value")
        if p is None:  # rows written before the delta row carried its own p-value
            p = next((q.value for q in run.rows if q.metric == "bpb_delta_p" and q.variant == r.variant
                      and q.dataset == r.dataset and q.extra.get("stage") == r.extra.get("stage")), None)
        verdict = VERDICTS[paired_verdict(r, p)]
        ci = f" [{r.ci[0]:+.4f}, {r.ci[1]:+.4f}]" if r.ci else ""
        test = r.extra.get("test") or "paired_bootstrap"
        p_text = f", {describe_p(p, test, r.extra.get('resamples'))}" if p is not None else ""
        out.append(f"On {r.dataset}, {system_label(r)} {verdict}: {r.value:+.4f} bits per byte"
                   f"{ci}{p_text}.")
    return out
