"""Fertility against the number of added tokens: the curve users need to choose N.

BPE learning is greedy, so the first n merges of a run for N > n are exactly the
merges of a run for n: the sweep learns once, for the largest N, and writes one
extended tokenizer per requested size (`<out>/add<N>`), each checked like `extend`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from langadapt.errors import ConfigError
from langadapt.output_guard import check_out_dir, write_marker
from langadapt.runs import ResultRow
from langadapt.tokenizer.extend import Corpus, learn_merges, write_extension
from langadapt.tokenizer.files import load_files
from langadapt.tokenizer.options import CHECK_LINES
from langadapt.tokenizer.stats import stats_rows

log = logging.getLogger(__name__)


def check_sizes(adds: Sequence[int], key: str | None = "add") -> list[int]:
    """The requested sizes, refused when one is not positive or appears twice (a sweep point lost)."""
    if not adds:
        raise ConfigError("give at least one number of tokens to add", key=key)
    bad = [n for n in adds if n < 1]
    if bad:
        raise ConfigError(f"sizes must be positive numbers, got {', '.join(map(str, bad))}", key=key)
    twice = sorted({n for n in adds if list(adds).count(n) > 1})
    if twice:
        raise ConfigError(f"size {', '.join(map(str, twice))} is given twice; each sweep size "
                          "writes one folder (add<N>)", key=key)
    return list(adds)


def sweep(base_ref: str | Path, corpus: Corpus, adds: Sequence[int], out: str | Path, *,
          texts: Sequence[str | Path] = (), eval_files: Sequence[str | Path] = (),
          metrics: Sequence[str] = ("fertility",), check_lines: int = CHECK_LINES, seed: int = 0,
          ) -> list[ResultRow]:
    """Extend by every size in `adds`; rows of `metrics` on `texts` for the base and each size."""
    adds = sorted(check_sizes(adds))
    check_out_dir(out, [base_ref, *corpus.paths, *corpus.exclude, *eval_files, *texts])
    base = load_files(base_ref)
    merges, stats = learn_merges(base, corpus, adds[-1])
    folders = {}
    Path(out).mkdir(parents=True, exist_ok=True)
    write_marker(out, "tokenizer extend")  # the sweep's folder of add<N> folders is langadapt's too
    for n in adds:
        folder = Path(out) / f"add{n}"
        write_extension(base, merges[:n], folder, corpus=corpus, requested=n, eval_files=eval_files,
                        check_lines=check_lines, seed=seed, stats=stats)
        folders[n] = folder
    if not texts:
        return []
    rows = stats_rows([f"{base.name}={base.source}"], texts, metrics)
    for r in rows:
        r.variant, r.extra["added"] = "base", 0
    for n, folder in folders.items():
        for r in stats_rows([f"{base.name}+{n}={folder}"], texts, metrics):
            r.variant, r.extra["added"] = f"+{n}", min(n, len(merges))
            rows.append(r)
    return rows


def plot_sweep(rows: Sequence[ResultRow], out: str | Path, metric: str = "fertility") -> Path:
    """Line chart: `metric` against added tokens, one line per text file (PNG)."""
    from langadapt.figures import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for ds in dict.fromkeys(r.dataset for r in rows if r.metric == metric):
        pts = sorted((r.extra.get("added", 0), r.value) for r in rows
                     if r.metric == metric and r.dataset == ds)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=ds)
    ax.set_xlabel("added tokens")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
