"""Training noise in the report: every score of a recipe run with `seeds`, seed by seed.

A bootstrap CI covers the evaluation sample, not the training run: with several seeds
(`langadapt.recipe_seeds`; rows carry `extra.seed` and `@seedN` labels) each score gets
a row (one table per dataset) of its per-seed values with their evaluation CIs, beside the spread over
seeds (mean, sd, min, max). A paired comparison is called better or worse only when
every seed's own verdict (`findings.paired_verdict`, the one decision rule) says so;
otherwise it is "mixed across seeds".
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from langadapt.report.findings import paired_verdict
from langadapt.report.store import RunData, system_label
from langadapt.report.tables import Table
from langadapt.runs import ResultRow

SEED_LABEL = re.compile(r"@seed\d+$")   # the label suffix of a seeded row
SEED_FOLDER = re.compile(r"\.seed\d+$")  # the folder suffix of a seeded stage


@dataclass
class SeedGroup:
    """One score of one variant over seeds: `rows[seed]`."""

    stage: str        # the stage instance without its seed suffix, e.g. `bpb.embeddings`
    metric: str
    dataset: str
    label: str        # the row label without `@seedN`
    rows: dict[int, ResultRow] = field(default_factory=dict)


def seed_groups(run: RunData) -> list[SeedGroup]:
    """Scores that were measured for two or more seeds, in run order."""
    groups: dict[tuple, SeedGroup] = {}
    for r in run.rows:
        seed = r.extra.get("seed")
        if seed is None or r.value is None:
            continue
        stage = SEED_FOLDER.sub("", str(r.extra.get("stage", "")))
        label = SEED_LABEL.sub("", system_label(r))
        key = (stage, r.metric, r.dataset or "", label)
        groups.setdefault(key, SeedGroup(*key)).rows[int(seed)] = r
    return [g for g in groups.values() if len(g.rows) > 1]


def is_comparison(metric: str) -> bool:
    return metric.endswith(("_delta", ".delta"))


def seed_verdict(group: SeedGroup) -> str:
    """`better for every seed` / `worse for every seed` / `mixed across seeds (...)` / no difference."""
    words = {s: paired_verdict(r) for s, r in sorted(group.rows.items())}
    n = len(words)
    kinds = set(words.values())
    if len(kinds) == 1:
        only = kinds.pop()
        if only in ("better", "worse"):
            return f"{only} for every seed ({n} of {n})"
        return f"{only} for every seed"
    parts = [f"{w} for seed{'s' * (sum(v == w for v in words.values()) > 1)} "
             + ", ".join(str(s) for s, v in words.items() if v == w) for w in dict.fromkeys(words.values())]
    return "mixed across seeds (" + "; ".join(parts) + ")"


def _spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    mean = statistics.fmean(values)
    return f"mean {mean:+.4f} ± {sd:.4f} sd (min {min(values):+.4f}, max {max(values):+.4f})"


def seed_sentences(run: RunData) -> list[str]:
    """One sentence per paired comparison measured over several seeds."""
    out = []
    for g in seed_groups(run):
        if not is_comparison(g.metric):
            continue
        values = [r.value for _, r in sorted(g.rows.items())]
        cis = "; ".join(f"seed {s} [{r.ci[0]:+.4f}, {r.ci[1]:+.4f}]" for s, r in sorted(g.rows.items())
                        if r.ci)
        out.append(f"Across {len(values)} seeds, on {g.dataset or 'the held-out text'}, {g.label} "
                   f"({g.metric}) is {seed_verdict(g)}: {_spread(values)}"
                   + (f"; per-seed 95% CIs {cis}" if cis else "") + ".")
    return out


def tabled(group: SeedGroup) -> bool:
    """Scores worth a row: not p-values (the verdicts use them), not per-token perplexities or
    training losses (bits per byte is the comparable score)."""
    kind = str(next(iter(group.rows.values())).extra.get("kind", ""))
    return not (group.metric.endswith("_p") or "perplexity" in group.metric or kind == "train")


def seed_tables(run: RunData) -> list[Table]:
    """Per dataset: each variant's score per seed with its CI, then the spread over seeds."""
    groups = [g for g in seed_groups(run) if tabled(g)]
    tables = []
    for ds in dict.fromkeys(g.dataset for g in groups):
        sel = [g for g in groups if g.dataset == ds]
        seeds = sorted({s for g in sel for s in g.rows})
        cols = [f"seed {s}" for s in seeds] + ["mean over seeds", "sd", "min", "max"]
        t = Table(title="Across seeds" + (f" — {ds}" if ds else ""), columns=cols, corner="variant: metric")
        for g in sel:
            values = [r.value for r in g.rows.values()]
            spread = [statistics.fmean(values), statistics.stdev(values), min(values), max(values)]
            t.rows.append((f"{g.label}: {g.metric}", [g.rows.get(s) for s in seeds]
                           + [ResultRow(metric=c, value=v) for c, v in zip(cols[len(seeds):], spread)]))
            if is_comparison(g.metric):
                t.notes.append(f"{g.label} ({g.metric}): {seed_verdict(g)}.")
        t.notes.append("Per-seed cells carry their evaluation 95% CI (documents resampled); the "
                       "spread over seeds is the training noise the CIs do not cover.")
        tables.append(t)
    return tables
