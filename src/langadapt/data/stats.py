"""`stats.json`: the cleaning funnel, built from datatrove's per-task stats files.

Schema (documented in docs/data.md):

    {"read": N, "kept": K, "dropped": {reason: n}, "invariant_ok": N == K + sum(dropped),
     "encodings": {encoding: files}, "undecodable_bytes": n, "undecodable_docs": {file: n},
     "steps": [{"step": name, "in": n, "kept": n, "dropped": {reason: n},
                "docs_changed": {fix: n}, "chars_changed": {fix: n}, "lines_dropped": n}]}

Only counters go in (no timings), so a resumed run writes the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from langadapt.runs import atomic_write_json

# datatrove steps that only move documents; they are not funnel steps
_PLUMBING = {
    "read_shard",
    "write",
    "exact_cluster",
    "🎯 MinHash stage 1",
    "🎯 MinHash stage 2",
    "🎯 MinHash stage 3",
}
_STEP_NAMES = {"🎯 MinHash stage 4": "near_dedup"}
_DEFAULT_REASON = {"near_dedup": "duplicate_near"}


def _count(v) -> int:
    return int(v["total"] if isinstance(v, dict) else v)


def _sum_tasks(folder: Path) -> list[tuple[str, Counter]]:
    """Per step (in pipeline order): counters summed over all tasks of one stage."""
    steps: dict[str, Counter] = {}
    for f in sorted((folder / "stats").glob("*.json")):
        for step in json.loads(f.read_text()):
            name = step["name"].split(": ", 1)[-1]
            c = steps.setdefault(name, Counter())
            for k, v in step["stats"].items():
                c[k] += _count(v)
    return list(steps.items())


def _step_row(name: str, c: Counter) -> dict:
    dropped = {k.removeprefix("dropped_"): v for k, v in c.items() if k.startswith("dropped_")}
    unexplained = c.get("dropped", 0) - sum(dropped.values())
    if unexplained > 0:
        dropped[_DEFAULT_REASON.get(name, name)] = unexplained
    row = {
        "step": name,
        "in": c.get("total", 0),
        "kept": c.get("forwarded", 0),
        "dropped": dict(sorted(dropped.items())),
    }
    if name == "normalize":
        row["docs_changed"] = {
            k.removeprefix("changed_"): v for k, v in sorted(c.items()) if k.startswith("changed_")
        }
        row["chars_changed"] = {
            k.removeprefix("chars_"): v for k, v in sorted(c.items()) if k.startswith("chars_")
        }
    if c.get("lines_dropped"):
        row["lines_dropped"] = c["lines_dropped"]
    return row


def collect_stats(logs: Path, stage_names: list[str]) -> dict:
    """Funnel stats of a finished run from `logs/<stage>/stats/<task>.json`."""
    read, kept = 0, 0
    encodings: Counter = Counter()
    undecodable = 0
    undecodable_docs: dict[str, int] = {}
    rows = []
    for stage in stage_names:
        if stage == "minhash_sig":  # re-applies the exact filter only to number documents alike
            continue
        for name, c in _sum_tasks(Path(logs) / stage):
            if name == "read":
                read = c.get("documents", 0)
                undecodable = c.get("undecodable_bytes", 0)
                undecodable_docs = {
                    k.split(":", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("undecodable_docs:")
                }
                encodings.update(
                    {k.removeprefix("encoding_"): v for k, v in c.items() if k.startswith("encoding_")}
                )
            elif name == "write" and stage == "output":
                kept = c.get("documents", 0)
            elif name not in _PLUMBING:
                rows.append(_step_row(_STEP_NAMES.get(name, name), c))
    dropped: Counter = Counter()
    for r in rows:
        dropped.update(r["dropped"])
    return {
        "read": read,
        "kept": kept,
        "dropped": dict(sorted(dropped.items())),
        "invariant_ok": read == kept + sum(dropped.values()),
        "encodings": dict(sorted(encodings.items())),
        "undecodable_bytes": undecodable,
        "undecodable_docs": undecodable_docs,
        "steps": rows,
    }


def write_outputs(out: Path, stats: dict, limit: int) -> None:
    """`stats.json` and `rejected/<reason>.jsonl.gz` of a finished run."""
    from langadapt.data.outputs import merge_rejects

    merge_rejects(Path(out) / "work" / "rejected", Path(out) / "rejected", limit)
    atomic_write_json(Path(out) / "stats.json", stats)


def format_table(stats: dict) -> str:
    """The funnel as a small text table (the CLI prints it)."""
    lines = [f"{'step':<16}{'in':>9}{'kept':>9}  dropped by reason"]
    for r in stats["steps"]:
        why = ", ".join(f"{k}={v}" for k, v in r["dropped"].items())
        lines.append(f"{r['step']:<16}{r['in']:>9}{r['kept']:>9}  {why}")
    lines.append(
        f"read {stats['read']}, kept {stats['kept']}, dropped {sum(stats['dropped'].values())}"
        f" (invariant {'ok' if stats['invariant_ok'] else 'BROKEN'})"
    )
    return "\n".join(lines)


def funnel_rows(stats: dict, *, dataset: str | None = None, signature: dict | None = None) -> list:
    """Result rows of a run: `docs_read`, `docs_kept`, `docs_dropped:<reason>` (value = n)."""
    from langadapt.runs import ResultRow

    def row(metric: str, n: int) -> ResultRow:
        return ResultRow(metric=metric, value=float(n), n=n, dataset=dataset, signature=signature or {})

    rows = [row("docs_read", stats["read"]), row("docs_kept", stats["kept"])]
    rows += [row(f"docs_dropped:{reason}", n) for reason, n in stats["dropped"].items()]
    return rows
