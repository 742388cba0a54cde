"""The answer journal: every answer on disk the moment it arrives, so a killed run resumes.

Answers go to the one resumable engine's journal (`langadapt.resume`,
`.<OUT>.journal/journal.jsonl` beside the output), the store `langadapt translate` uses on
every backend, keyed by their request (`langadapt.gen.openai.requests_for`): a re-run asks
only what it never got an answer for, and a changed prompt or parameter never reuses a stale
one (so no run key is checked here: the key of each answer already holds its settings). Only
checked answers are written (`Answer` checks its types when made), and reading checks every
line again: one left by an older version, or cut by a kill, counts as not done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from langadapt.gen.client import Answer, Counts, Request
from langadapt.gen.openai import ask
from langadapt.gen.options import ServerOptions
from langadapt.resume import Journal, journal_path, read_records

__all__ = ["Journal", "ask_journalled", "journal_path", "open_journal", "read_journal"]
log = logging.getLogger(__name__)


def read_journal(path: Path) -> dict[str, dict]:
    """Well-formed answers stored by earlier runs, by key (a malformed or cut line is not done)."""
    return read_records(path, Answer)[2]


def open_journal(out: Path, cache_dir: Path | None = None, *, restart: bool = False) -> Journal:
    """The answer journal of `out`, with the answers of earlier runs in `.done`."""
    return Journal(journal_path(out, cache_dir), Answer, restart=restart)


def ask_journalled(opts: ServerOptions, key: str | None, pending: list[Request], journal: Journal,
                   on_answer: Callable[[Answer], None] | None, progress: bool
                   ) -> tuple[Counts, dict[str, dict], list]:
    """Send `pending`, journalling each answer; return the counts, new answers and failures."""

    def store(answer: Answer) -> None:
        journal.add(answer)
        if on_answer:
            on_answer(answer)

    return ask(opts, key, pending, store, progress)
