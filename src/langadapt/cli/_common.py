"""Small helpers shared by the CLI groups: output of result rows, not-built groups."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable

from langadapt.errors import NotBuiltError
from langadapt.runs import ResultRow


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON lines")


def print_rows(rows: Iterable[ResultRow], as_json: bool, out=None) -> None:
    """Print result rows as JSON lines (`--json`) or a human table."""
    out = out or sys.stdout
    rows = list(rows)
    if as_json:
        for r in rows:
            out.write(r.to_json() + "\n")
        return
    header = ("metric", "value", "95% CI", "n", "dataset", "model", "variant")
    table = [header] + [(
        r.metric, "n/a" if r.value is None else f"{r.value:.4f}",
        "" if not r.ci else f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]", "" if r.n is None else str(r.n),
        r.dataset or "", r.model or "", r.variant or "") for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
    notes = [r for r in rows if r.extra.get("note")]
    for r in notes:
        out.write(f"note: {r.metric}: {r.extra['note']}\n")


def print_json(obj, out=None) -> None:
    (out or sys.stdout).write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def not_built(sub, name: str, summary: str, issue: str) -> None:
    """Register a group whose stage is not built yet: its help says so, calling it exits 2."""
    help_text = f"{summary} [not built yet: {issue}]"
    p = sub.add_parser(name, help=help_text, description=help_text)

    def run(_args):
        raise NotBuiltError(f"'langadapt {name}' is not built yet ({issue})")

    p.set_defaults(func=run)


def arg_paths(args: argparse.Namespace, *skip: str) -> list[str]:
    """Every command-line value naming an existing local file or folder, but those of `skip`.

    The inputs an output must not hold or be: taking every such value (not a list per
    command) keeps a new input flag from slipping past `langadapt.output_guard`.
    """
    found = []
    for name, value in vars(args).items():
        if name in skip or name == "func":
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v and "://" not in v:
                for part in {v, v.partition("=")[2]} - {""}:  # NAME=PATH arguments too
                    if os.path.lexists(os.path.expanduser(part)):
                        found.append(os.path.expanduser(part))
    return found
