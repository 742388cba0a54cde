"""How well a tokenizer fits a text: fertility, bytes/characters per token, splits, usage, speed.

Statistics are computed per line (sacrebleu style: per-segment counts, then sums), so
any metric is a ratio of corpus totals. Rows are standard `ResultRow`s with
`model` = tokenizer name and `dataset` = text file name.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from langadapt.runs import ResultRow, signature
from langadapt.textio import read_lines
from langadapt.tokenizer.files import load_files

_WORD = re.compile(r"\S+")
# metric -> (description, higher is better)
METRICS = {
    "fertility": ("tokens per whitespace-separated word", False),
    "bytes_per_token": ("UTF-8 bytes per token", True),
    "chars_per_token": ("characters per token", True),
    "split_word_share": ("share of words split into 2 or more tokens", False),
    "vocab_used_share": ("share of the vocabulary the text uses", True),
    "new_token_share": ("share of tokens that are new (extended tokenizers)", True),
    "roundtrip_exact": ("share of lines with decode(encode(x)) == x", True),
    "encode_chars_per_s": ("batch encoding speed, characters per second", True),
}


@dataclass
class NamedTokenizer:
    """A tokenizer with the name rows carry and the ids of its new tokens (if extended)."""

    name: str
    tokenizer: Tokenizer
    new_ids: frozenset = frozenset()
    source: str = ""


def open_tokenizer(ref: str) -> NamedTokenizer:
    """`PATH`, `NAME=PATH` or a hub id; reads `new_tokens.jsonl` when the folder has one."""
    name, _, path = ref.partition("=") if "=" in ref else ("", "", ref)
    files = load_files(path)
    new_ids: frozenset = frozenset()
    jsonl = Path(path) / "new_tokens.jsonl"
    if jsonl.is_file():
        new_ids = frozenset(json.loads(line)["id"] for line in jsonl.read_text("utf-8").splitlines()
                            if line.strip())
    return NamedTokenizer(name or files.name, files.tokenizer, new_ids, files.source)


def _word_token_counts(text: str, offsets: list[tuple[int, int]]) -> list[int]:
    """Tokens per whitespace word; a token belongs to the word of its first non-space character."""
    owner = [-1] * len(text)
    spans = list(_WORD.finditer(text))
    for w, m in enumerate(spans):
        owner[m.start():m.end()] = [w] * (m.end() - m.start())
    counts = [0] * len(spans)
    for s, e in offsets:
        w = next((owner[i] for i in range(s, min(e, len(text))) if owner[i] >= 0), -1)
        if w >= 0:
            counts[w] += 1
    return counts


def text_stats(tok: NamedTokenizer, lines: Sequence[str]) -> dict[str, float]:
    """All metrics of one tokenizer on one text (a list of non-empty lines)."""
    start = time.perf_counter()
    encs = tok.tokenizer.encode_batch(list(lines), add_special_tokens=False)
    seconds = time.perf_counter() - start
    decoded = tok.tokenizer.decode_batch([e.ids for e in encs], skip_special_tokens=False)
    n_tok = sum(len(e.ids) for e in encs)
    n_chars = sum(len(x) for x in lines)
    n_bytes = sum(len(x.encode("utf-8")) for x in lines)
    per_word = [c for x, e in zip(lines, encs) for c in _word_token_counts(x, e.offsets)]
    n_words = sum(len(x.split()) for x in lines)
    used = {i for e in encs for i in e.ids}
    new = sum(1 for e in encs for i in e.ids if i in tok.new_ids)
    return {
        "fertility": n_tok / max(n_words, 1),
        "bytes_per_token": n_bytes / max(n_tok, 1),
        "chars_per_token": n_chars / max(n_tok, 1),
        "split_word_share": sum(c >= 2 for c in per_word) / max(len(per_word), 1),
        "vocab_used_share": len(used) / tok.tokenizer.get_vocab_size(with_added_tokens=True),
        "new_token_share": new / max(n_tok, 1),
        "roundtrip_exact": sum(x == y for x, y in zip(lines, decoded)) / max(len(lines), 1),
        "encode_chars_per_s": n_chars / max(seconds, 1e-9),
    }


def stats_rows(tokenizers: Sequence[str], texts: Sequence[str | Path],
               metrics: Sequence[str] | None = None) -> list[ResultRow]:
    """Rows for every tokenizer x text file x metric."""
    opened = [open_tokenizer(t) for t in tokenizers]
    rows = []
    for path in texts:
        lines = [x for x in read_lines(path) if x.strip()]
        sig = signature(options={"words": "whitespace", "special_tokens": False}, data=[path],
                        tools=("tokenizers",))
        for tok in opened:
            values = text_stats(tok, lines)
            for metric in metrics or METRICS:
                if metric == "new_token_share" and not tok.new_ids:
                    continue
                rows.append(ResultRow(metric=metric, value=values[metric], n=len(lines),
                                      dataset=Path(path).name, model=tok.name, signature=sig,
                                      extra={"tokenizer": tok.source,
                                             "higher_is_better": METRICS[metric][1]}))
    return rows


def comparison_table(rows: Sequence[ResultRow]) -> str:
    """A human table: one line per text x tokenizer, one column per metric."""
    metrics = list(dict.fromkeys(r.metric for r in rows))
    keys = list(dict.fromkeys((r.dataset, r.model) for r in rows))
    value = {(r.dataset, r.model, r.metric): r.value for r in rows}
    header = ["text", "tokenizer", *metrics]
    table = [header] + [[ds, model, *("" if value.get((ds, model, m)) is None else
                                      f"{value[(ds, model, m)]:.4g}" for m in metrics)]
                        for ds, model in keys]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table) + "\n"


def plot_rows(rows: Sequence[ResultRow], out: str | Path, metric: str = "fertility",
              title: str | None = None) -> Path:
    """Grouped bar chart of one metric: a group per text file, a bar per tokenizer (PNG)."""
    from langadapt.figures import pyplot, save_figure

    plt = pyplot()

    rows = [r for r in rows if r.metric == metric]
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    value = {(r.dataset, r.model): r.value for r in rows}
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(datasets) * max(len(models), 2) / 2), 3.6))
    for k, model in enumerate(models):
        xs = [d + k * width for d in range(len(datasets))]
        ys = [value.get((ds, model), 0.0) for ds in datasets]
        bars = ax.bar(xs, ys, width, label=model)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks([d + width * (len(models) - 1) / 2 for d in range(len(datasets))], datasets)
    ax.set_ylabel(METRICS.get(metric, (metric,))[0])
    ax.set_title(title or metric)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
