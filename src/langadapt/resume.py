"""The one resumable engine: a journal of finished items beside an output until it is written.

File translation on every backend (`langadapt.translate.translate_file`) and synthetic
data (`langadapt.synth.run`) keep their finished work here: one append-only JSON Lines file,
`.<OUT>.journal/journal.jsonl` beside the output, one record per item keyed by its id (a
hash of its content or request), so a killed run, re-run, does only what is missing.

The first line records the run key (what decides the output: model, languages, options);
a re-run with another key is refused until `--restart` discards the journal, so outputs of
two settings never mix. Records are checked when made (strict pydantic dataclasses) and
again when read: a line cut by a kill, or one that is not a well-formed record, counts as
not done. The caller writes the output atomically once every item is done, then `finish()`
removes the journal.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from langadapt.errors import ConfigError

log = logging.getLogger(__name__)
JOURNAL = "journal.jsonl"
REFUSED = ("unfinished translations here were made with another model, languages or generation "
           "settings; re-run with --restart to discard them")


def journal_path(out: Path, cache_dir: Path | None = None) -> Path:
    """Where unfinished work of `out` is kept (beside it unless `cache_dir` is given)."""
    return (cache_dir or out.parent) / f".{out.name}.journal" / JOURNAL


def _is_header(obj: Any) -> bool:
    return isinstance(obj, dict) and set(obj) == {"run_key"}


def read_records(path: Path, record: type, *, cut: bool = False) -> tuple[str | None, bool, dict[str, dict]]:
    """The run key, whether a header was found, and the well-formed records by key (later wins).

    Args:
        record: the record type (a strict pydantic dataclass with a `key` field).
        cut: drop a last line cut short by a kill from the file (only the writer may do this).
    """
    if not path.is_file():
        return None, False, {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
        if cut:
            with open(path, "r+b") as f:
                f.truncate(len(data))
    lines = data.splitlines()
    run_key, header = None, False
    if lines:
        try:
            first = json.loads(lines[0])
        except ValueError:
            first = None
        if _is_header(first):
            run_key, header, lines = first["run_key"], True, lines[1:]
    done, bad = {}, 0
    for line in lines:
        try:
            rec = asdict(record(**json.loads(line)))
        except (ValueError, TypeError):  # not JSON, not UTF-8, not a mapping, or wrong types
            bad += 1
            continue
        done[rec["key"]] = rec
    if bad:
        log.warning("%s: %d malformed record(s) ignored; they are done again", path, bad)
    return run_key, header, done


class Journal:
    """Append-only store of finished items; each is on disk before the next one is made.

    Args:
        path: the journal file (`journal_path`); None stores nothing (work done once).
        record: the record type; `add` takes only its instances, so only checked records are written.
        run_key: what decides the output; a journal made under another one is refused.
            None: records are keyed by everything that decides them, so no key is checked.
        restart: discard the journal first.
    """

    def __init__(self, path: Path | None, record: type, *, run_key: str | None = None,
                 restart: bool = False):
        self.path, self.record, self.run_key = path, record, run_key
        self.f = None
        self.done: dict[str, dict] = {}
        if path is None:
            return
        if restart:
            shutil.rmtree(path.parent, ignore_errors=True)
        stored, header, self.done = read_records(path, record, cut=True)
        if run_key is not None and (header or self.done) and stored != run_key:
            raise ConfigError(REFUSED, file=str(path.parent))

    def add(self, rec: Any) -> None:
        """Append one record (an instance of the record type: checked when it was made)."""
        if not isinstance(rec, self.record):
            raise TypeError(f"a journal of {self.record.__name__} got {type(rec).__name__}")
        if self.path is None:
            return
        if self.f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
            if self.f.tell() == 0:
                self.f.write(json.dumps({"run_key": self.run_key}) + "\n")
        self.f.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
        self.f.flush()  # in the OS's hands: survives a killed process
        self.done[rec.key] = asdict(rec)

    def close(self) -> None:
        if self.f is not None:
            os.fsync(self.f.fileno())
            self.f.close()
            self.f = None

    def finish(self) -> None:
        """Every item done and the output written: the journal goes."""
        self.close()
        if self.path is not None:
            shutil.rmtree(self.path.parent, ignore_errors=True)
