"""Reading text for training, tokenizers and evaluation: one function, many formats.

`iter_texts` yields documents from `.txt` (one per line), `.jsonl`, `.jsonl.gz`,
`.jsonl.zst` (a chosen field, `text` by default) and folders of those (e.g. the
`data/` shards written by `langadapt data clean`). Empty lines are skipped and
counted by `count_texts`. The cleaning pipeline has richer readers (encodings,
parquet, csv); this is the fast path for already clean text.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from langadapt.errors import DataError

SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")


def _open_text(path: Path) -> io.TextIOBase:
    name = path.name
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    if name.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")),
                                encoding="utf-8")
    return open(path, encoding="utf-8-sig")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the text files inside folders named (sorted); missing ones are errors."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.name.endswith(SUFFIXES))
            if not found:
                raise DataError("folder holds no text files (.txt, .jsonl[.gz|.zst])", file=str(p))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError("input not found", file=str(p))
    return out


def json_objects(lines: Iterable[str], path: str | Path) -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) for each non-blank JSON line; bad lines raise DataError."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON ({e.msg})", file=str(path), line=n) from None
        if not isinstance(rec, dict):
            raise DataError("record is not a JSON object", file=str(path), line=n)
        yield n, rec


def iter_records(path: Path, field: str = "text") -> Iterator[tuple[int, str]]:
    """(1-based line number, text) for each non-empty document of one file."""
    is_json = ".jsonl" in path.name or path.name.endswith(".json.gz")
    try:
        with _open_text(path) as f:
            if is_json:
                for n, rec in json_objects(f, path):
                    if field not in rec:
                        raise DataError(f"record has no field '{field}'", file=str(path), line=n)
                    if rec[field]:
                        yield n, str(rec[field])
                return
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n").rstrip("\r")
                if line.strip():
                    yield n, line
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 ({e.reason}); clean it with 'langadapt data clean' first",
                        file=str(path)) from None


def iter_texts(paths: Iterable[str | Path], field: str = "text", limit: int | None = None) -> Iterator[str]:
    """Documents from all `paths`, in order; at most `limit` of them."""
    n = 0
    for p in expand_paths(paths):
        for _, text in iter_records(p, field):
            if limit is not None and n >= limit:
                return
            n += 1
            yield text


def read_lines(path: str | Path) -> list[str]:
    """All lines of a line-aligned text file (keeps empty lines: alignment matters)."""
    p = Path(path)
    if not p.is_file():
        raise DataError("file not found", file=str(p))
    with open(p, encoding="utf-8-sig") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]
