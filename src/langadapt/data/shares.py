"""Which part of the inputs each cleaning task reads (its share), and line numbers across parts.

Shares are contiguous in input order: task 0 reads the first files (or bytes),
task 1 the next, and so on, so concatenating the tasks' outputs in task order
gives the documents in input order, as one task would (exact dedup keeps the
first occurrence in that order). With at least as many files as tasks, each task
reads whole files, balanced by size. With fewer files than tasks, large plain
`.txt` (line mode) and `.jsonl` files are cut into line-aligned byte ranges;
compressed files, parquet, csv/tsv, paragraph-mode text and datasets are always
read whole by one task (a compressed file cannot be entered in the middle: split
it into several files to spread it).

A task reading a range that does not start the file cannot know how many lines
came before it without reading them, so it numbers its lines from 1, marks its
documents with `metadata["part"]`, and saves how many lines it read;
`LineOffsets` adds the lines of the earlier ranges afterwards (output stage and
rejected samples), giving every document the line it has in its file.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from langadapt.runs import atomic_write_json
from langadapt.textio import file_size, open_binary

MIN_PART_BYTES = 16 << 20  # smaller files are not worth splitting (each range sniffs 1 MiB)


@dataclass(frozen=True)
class Share:
    """One file, or byte range `[start, end)` of it (`part` of `parts`; moved to line starts when read)."""

    path: str
    part: int = 0
    parts: int = 1
    start: int = 0
    end: int | None = None


def plan_shares(
    paths: Sequence[str],
    sizes: Sequence[int | None],
    splittable: Sequence[bool],
    world_size: int,
    min_part_bytes: int = MIN_PART_BYTES,
) -> list[list[Share]]:
    """The shares of each of `world_size` tasks. `None` sizes (hub datasets) weigh as the mean."""
    known = [s for s in sizes if s is not None]
    mean = (sum(known) / len(known)) if known else 1.0
    weights = [float(s) if s is not None else mean for s in sizes]
    total = sum(weights) or 1.0
    units: list[tuple[Share, float]] = []
    for path, size, w, split in zip(paths, sizes, weights, splittable):
        n = 1
        if len(paths) < world_size and split and size:
            n = max(1, min(round(w * world_size / total), size // max(min_part_bytes, 1)))
        if n == 1:
            units.append((Share(path), w))
            continue
        cuts = [size * k // n for k in range(n + 1)]
        units += [(Share(path, k, n, cuts[k], cuts[k + 1]), cuts[k + 1] - cuts[k]) for k in range(n)]
    out: list[list[Share]] = [[] for _ in range(world_size)]
    done = 0.0
    for share, w in units:
        # the task whose slice of the total holds this unit's start: contiguous and balanced
        rank = min(world_size - 1, math.floor(world_size * done / total + 1e-9))
        out[rank].append(share)
        done += w
    return out


class CountingReader(io.RawIOBase):
    """A file's bytes up to offset `stop` (if given), counted: `bytes` is what was read from it."""

    def __init__(self, raw: BinaryIO, stop: int | None = None, counted: int = 0):
        super().__init__()
        self.raw, self.stop, self.bytes = raw, stop, counted

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        want = len(b) if self.stop is None else min(len(b), self.stop - self.raw.tell())
        if want <= 0:
            return 0
        data = self.raw.read(want)
        b[: len(data)] = data
        self.bytes += len(data)
        return len(data)

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.raw.close()
        super().close()


def _line_start(raw: BinaryIO, pos: int, size: int) -> tuple[int, int]:
    """Offset of the first line starting at or after `pos`, and the bytes read to find it."""
    if pos <= 0 or pos >= size:
        return max(0, min(pos, size)), 0
    raw.seek(pos - 1)
    skipped = len(raw.readline())
    return pos - 1 + skipped, skipped


def open_share(path: str, share: Share | None) -> CountingReader:
    """The bytes of `path`, or of its range `share` with both ends moved to line starts.

    Both neighbours of a boundary move it the same way, so every line is read by
    exactly one range; finding a boundary reads the one line it falls in.
    """
    raw = open_binary(path)
    if share is None or share.parts == 1:
        return CountingReader(raw)
    size = file_size(path)
    stop, n1 = _line_start(raw, size if share.end is None else share.end, size)
    start, n2 = _line_start(raw, share.start, size)
    raw.seek(start)
    return CountingReader(raw, stop, counted=n1 + n2)


def save_line_counts(folder: str | Path, rank: int, counts: dict[str, dict[int, int]]) -> None:
    """Lines read per (file, part) by task `rank`; only files read in more than one part."""
    atomic_write_json(Path(folder) / f"{rank:05d}.json", {f: {str(k): v for k, v in p.items()}
                                                          for f, p in sorted(counts.items())})


class LineOffsets:
    """Lines before each part of each split file, from the counts the reading tasks saved."""

    def __init__(self, folder: str | Path | None):
        counts: dict[str, dict[int, int]] = {}
        if folder is not None and Path(folder).is_dir():
            for f in sorted(Path(folder).glob("*.json")):
                for path, parts in json.loads(f.read_text()).items():
                    counts.setdefault(path, {}).update({int(k): v for k, v in parts.items()})
        self._before = {
            (path, k): sum(n for j, n in parts.items() if j < k)
            for path, parts in counts.items()
            for k in parts
        }

    def fix(self, doc_id: str, metadata: dict) -> str:
        """Turn a part-relative line in `metadata` into the file's line; return the fixed id."""
        part = metadata.pop("part", None)
        if not part:
            return doc_id
        source = metadata["source"]
        metadata["line"] += self._before[(source, part)]
        return f"{source}:{metadata['line']}"
