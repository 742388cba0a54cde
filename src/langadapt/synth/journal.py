"""The answer journal: every answer on disk the moment it arrives, so a killed run resumes.

Answers are appended to `.<OUT>.answers/answers.jsonl` beside the output, keyed by their
request (`langadapt.gen.openai.requests_for`), so a re-run asks only what it never got an
answer for, and a changed prompt or parameter never reuses a stale one. Only checked
answers are written (`Answer` checks its types when made), and reading checks every line
again: one left by an older version, or cut by a kill, counts as not done.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from langadapt.gen.openai import ask
from langadapt.synth.client import Answer, Counts, Request
from langadapt.synth.options import ServerOptions

log = logging.getLogger(__name__)
JOURNAL = "answers.jsonl"


def read_journal(path: Path) -> dict[str, dict]:
    """Answers stored by earlier runs; a line cut by a kill is dropped (and cut off the file).

    A line that is not a well-formed answer (an older version stored unchecked answers) counts
    as not done: it is asked again, and the new answer, appended later, wins.
    """
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
        with open(path, "r+b") as f:
            f.truncate(len(data))
    done, bad = {}, 0
    for line in data.splitlines():
        try:
            rec = asdict(Answer(**json.loads(line)))
        except (ValueError, TypeError):  # not JSON, not UTF-8, not a mapping, or wrong types
            bad += 1
            continue
        done[rec["key"]] = rec
    if bad:
        log.warning("%s: %d malformed answer(s) ignored; they are asked again", path, bad)
    return done


class Journal:
    """Append-only answer store; each answer is on disk before the next one is asked for.

    With no path, nothing is stored (answers asked for once, e.g. hypotheses).
    """

    def __init__(self, path: Path | None):
        self.f = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def add(self, answer: Answer) -> None:
        if self.f is not None:
            self.f.write(json.dumps(asdict(answer), ensure_ascii=False) + "\n")
            self.f.flush()  # in the OS's hands: survives a killed process

    def close(self) -> None:
        if self.f is not None:
            os.fsync(self.f.fileno())
            self.f.close()


def journal_path(out: Path, cache_dir: Path | None = None) -> Path:
    """Where the answers for `out` are kept until it is written (beside it unless `cache_dir`)."""
    return (cache_dir or out.parent) / f".{out.name}.answers" / JOURNAL



def ask_journalled(opts: ServerOptions, key: str | None, pending: list[Request], journal_file: Path | None,
                   on_answer: Callable[[Answer], None] | None, progress: bool
                   ) -> tuple[Counts, dict[str, dict], list]:
    """Send `pending`, journalling each answer; return the counts, new answers and failures."""
    journal = Journal(journal_file)

    def store(answer: Answer) -> None:
        journal.add(answer)
        if on_answer:
            on_answer(answer)

    try:
        return ask(opts, key, pending, store, progress)
    finally:
        journal.close()
