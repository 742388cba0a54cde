"""Read raw documents from many formats: txt, jsonl(.gz|.zst), parquet, tsv/csv, HF datasets.

Every record is `(source, line, text)`: `line` is the 1-based line (txt, jsonl, csv)
or record number (parquet, datasets) in that source, so a kept or dropped document
can always be traced back. Text goes through `langadapt.textio`'s opener and line
rules (documents: universal newlines, whitespace-only lines skipped). Inputs are
local paths or fsspec URLs (`file://`, `memory://`, `s3://`, `hf://` ...; dataset
folders are local only). `InputReader` is the datatrove step that turns them into
`Document`s; each task reads only its share (`langadapt.data.shares`).

A truncated or corrupt compressed file, a binary file and a file in which no
document could be decoded raise `DataError` naming the file and how far it got.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from langadapt.data import encoding as enc
from langadapt.data.shares import MIN_PART_BYTES, Share, open_share, plan_shares, save_line_counts
from langadapt.errors import DataError
from langadapt.textio import (
    CountedLines,
    corrupt_errors,
    decompress_error,
    file_size,
    is_compressed,
    is_url,
    json_objects,
    open_binary,
    open_text,
    url_files,
)

TEXT_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".parquet", ".tsv", ".csv")
Record = tuple[str, int, str]


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files, the readable files inside folders (sorted), HF dataset folders and hub ids.

    Local paths or fsspec URLs (a URL folder lists its files, as datatrove's `DataFolder` does).
    """
    out: list[str] = []
    for raw in inputs:
        if is_url(raw):
            out.extend(url_files(raw, TEXT_SUFFIXES))
            continue
        p = Path(raw)
        if p.is_dir() and not _is_hf_folder(p):
            found = sorted(str(q) for q in p.rglob("*") if q.is_file() and q.name.endswith(TEXT_SUFFIXES))
            if not found:
                raise DataError(f"folder holds no readable files ({', '.join(TEXT_SUFFIXES)})", file=raw)
            out.extend(found)
        elif p.exists() or _looks_like_hub_id(raw):
            out.append(raw)
        else:
            raise DataError("input not found (a file, a folder or a hub dataset id)", file=raw)
    return out


def _is_hf_folder(p: Path) -> bool:
    return (
        (p / "dataset_info.json").is_file()
        or (p / "state.json").is_file()
        or (p / "dataset_dict.json").is_file()
    )


def _looks_like_hub_id(raw: str) -> bool:
    return raw.count("/") == 1 and not raw.startswith((".", "/")) and not Path(raw).suffix


def is_dataset(path: str) -> bool:
    """An HF dataset folder or hub id rather than a file."""
    return not is_url(path) and (Path(path).is_dir() or not Path(path).exists())


def detect_encoding(path: str, legacy: list[str]) -> str:
    """Encoding of a plain text file; compressed and binary formats are UTF-8 by definition.

    Raises:
        DataError: the file holds NUL bytes (a binary file, or UTF-16/32 without a BOM).
    """
    if path.endswith((".gz", ".zst", ".parquet")) or is_dataset(path):
        return "utf-8"
    with open_binary(path) as f:
        sample = f.read(enc.SAMPLE_BYTES)
    nul = enc.nul_bytes(sample)
    if nul > max(2, len(sample) // 10_000):
        raise DataError(
            f"not a text file: {nul:,} NUL bytes in its first {len(sample):,} bytes "
            "(a binary file, or UTF-16/32 without a byte-order mark?); give txt, jsonl, csv/tsv or parquet",
            file=path,
        )
    return enc.detect_bytes(sample, legacy)


def _txt_lines(f: Iterable[str], path: str) -> Iterator[Record]:
    for n, line in enumerate(f, 1):
        if line.strip():
            yield path, n, line


def _txt_paragraphs(f: Iterable[str], path: str) -> Iterator[Record]:
    buf: list[str] = []
    start = 0
    for n, line in enumerate(f, 1):
        if line.strip():
            start = start or n
            buf.append(line)
        elif buf:
            yield path, start, "\n".join(buf)
            buf, start = [], 0
    if buf:
        yield path, start, "\n".join(buf)


def _jsonl(f: Iterable[str], path: str, field: str) -> Iterator[Record]:
    for n, rec in json_objects(f, path):
        if field not in rec:
            raise DataError(f"record has no field '{field}' (choose one with --field)", file=path, line=n)
        if rec[field]:
            yield path, n, str(rec[field])


def _table(f: Iterable[str], path: str, field: str) -> Iterator[Record]:
    # Very long cells (whole articles) are normal in corpora.
    csv.field_size_limit(sys.maxsize)
    delim = "\t" if path.endswith(".tsv") else ","
    reader = csv.reader(f, delimiter=delim, quoting=csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL)
    if field.isdigit():
        col, first = int(field), 1
    else:
        header = next(reader, [])
        if field not in header:
            raise DataError(
                f"no column '{field}' in header {header[:8]} (choose one with --field, "
                "or a 0-based column number for files without a header)",
                file=path,
                line=1,
            )
        col, first = header.index(field), 2
    for n, row in enumerate(reader, first):
        if col < len(row) and row[col].strip():
            yield path, reader.line_num if delim == "," else n, row[col]


def _parquet(path: str, field: str) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    bad = (pa.ArrowException, OSError)
    try:
        pf = pq.ParquetFile(open_binary(path) if is_url(path) else path)
    except bad as e:
        raise DataError(f"cannot read parquet ({' '.join(str(e).split())})", file=path) from None
    if field not in pf.schema_arrow.names:
        raise DataError(f"no column '{field}' (columns: {pf.schema_arrow.names[:8]})", file=path)
    n = 0
    batches = pf.iter_batches(columns=[field], batch_size=1024)
    while True:
        try:
            batch = next(batches, None)
        except bad as e:
            raise DataError(
                f"cannot read parquet after record {n:,} ({' '.join(str(e).split())}); "
                "the file is truncated or corrupt",
                file=path,
            ) from None
        if batch is None:
            return
        for value in batch.column(0).to_pylist():
            n += 1
            if value:
                yield path, n, str(value)


def _hf(path: str, field: str, split: str) -> Iterator[Record]:
    import datasets

    if Path(path).is_dir():
        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
    else:
        try:
            ds = datasets.load_dataset(path, split=split, streaming=True)
        except Exception as e:  # offline, unknown id, no such split: one clear line for the CLI
            raise DataError(f"cannot load dataset '{path}' (split '{split}'): {e}", file=path) from None
    for n, rec in enumerate(ds, 1):
        if field not in rec:
            raise DataError(f"record has no field '{field}' (choose one with --field)", file=path, line=n)
        if rec[field]:
            yield path, n, str(rec[field])


def splittable(path: str, txt_mode: str = "line") -> bool:
    """Whether `path` can be read in line-aligned byte ranges: plain `.jsonl`, `.txt` in line
    mode, in an encoding where a byte 0x0A is always a line break (not UTF-16/32)."""
    if is_compressed(path) or is_dataset(path):
        return False
    if not (path.endswith(".jsonl") or (path.endswith(".txt") and txt_mode == "line")):
        return False
    with open_binary(path) as f:
        head = f.read(4)
    return not any(head.startswith(bom) for bom, name in enc.BOMS if name != "utf-8-sig")


def iter_records(
    path: str,
    *,
    field: str = "text",
    txt_mode: str = "line",
    encoding: str = "utf-8",
    split: str = "train",
    share: Share | None = None,
    progress: dict | None = None,
) -> Iterator[Record]:
    """Records of one input (or of its byte range `share`), in file order.

    In a range that does not start the file, lines are numbered from its start. When
    the input is done, `progress` (if given) holds `lines` (lines read) and `bytes`
    (bytes read from the file).
    """
    if is_dataset(path):
        yield from _hf(path, field, split)
        return
    if path.endswith(".parquet"):
        yield from _parquet(path, field)
        return
    raw = open_share(path, share)
    if share is not None and share.part > 0:
        encoding = encoding.removesuffix("-sig")  # the BOM is at the start of part 0 only
    f = open_text(path, encoding, errors=enc.ERROR_HANDLER, raw=raw)
    table = path.endswith((".tsv", ".csv"))
    lines = CountedLines(f, strip=not table)
    name = Path(path).name
    try:
        if ".jsonl" in name or path.endswith(".json.gz"):
            yield from _jsonl(lines, path, field)
        elif table:
            yield from _table(lines, path, field)
        elif txt_mode == "paragraph":
            yield from _txt_paragraphs(lines, path)
        else:
            yield from _txt_lines(lines, path)
    except corrupt_errors() as e:
        if not is_compressed(path):
            raise
        raise decompress_error(path, lines.n, raw.tell(), e) from None
    finally:
        f.close()
        raw.close()  # GzipFile and the zstd stream leave the file they were given open
        if progress is not None:
            progress.update(lines=lines.n, bytes=raw.bytes)


class InputReader(PipelineStep):
    """Reads the inputs; task `rank` reads only its share (`langadapt.data.shares`).

    Shares are contiguous in input order, so the tasks' outputs in task order are the
    documents in input order whatever the number of tasks. With `limit`, every task
    reads the inputs from the start up to `limit` documents and keeps documents
    `rank, rank + world_size, ...` (the first `limit` are the same for any count).
    Split files save their line counts in `lines_folder` (see `shares.LineOffsets`).
    """

    name = "read"
    type = "📖 - READER"

    def __init__(
        self,
        inputs: list[str],
        field: str = "text",
        txt_mode: str = "line",
        legacy_encodings: tuple[str, ...] = ("cp1251", "koi8_r"),
        split: str = "train",
        limit: int | None = None,
        lines_folder: str | None = None,
        min_part_bytes: int = MIN_PART_BYTES,
    ):
        super().__init__()
        self.inputs, self.field, self.txt_mode = list(inputs), field, txt_mode
        self.legacy, self.split, self.limit = list(legacy_encodings), split, limit
        self.lines_folder, self.min_part_bytes = lines_folder, min_part_bytes

    def shares(self, rank: int, world_size: int) -> list[Share]:
        """What task `rank` of `world_size` reads."""
        if world_size == 1:
            return [Share(p) for p in self.inputs]
        many = len(self.inputs) >= world_size
        sizes = [None if is_dataset(p) else file_size(p) for p in self.inputs]
        split = [
            not many and s is not None and splittable(p, self.txt_mode) for p, s in zip(self.inputs, sizes)
        ]
        return plan_shares(self.inputs, sizes, split, world_size, self.min_part_bytes)[rank]

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if self.limit is not None:
            yield from self._run_limited(rank, world_size)
            return
        counts: dict[str, dict[int, int]] = {}
        for share in self.shares(rank, world_size):
            progress: dict = {}
            yield from self._read(share, progress)
            if share.parts > 1:
                counts.setdefault(share.path, {})[share.part] = progress["lines"]
        if self.lines_folder and counts:
            save_line_counts(self.lines_folder, rank, counts)

    def _read(self, share: Share, progress: dict):
        """Documents of one file (or of its range `share`), all of them kept by this task."""
        path = share.path
        encoding = detect_encoding(path, self.legacy)
        enc.reset_count()
        if share.part == 0:
            self.stat_update(f"encoding_{encoding}", unit="file")
        docs = broken = 0
        part = share.part
        for source, line, text in iter_records(
            path, field=self.field, txt_mode=self.txt_mode, encoding=encoding, split=self.split,
            share=share, progress=progress,
        ):
            docs += 1
            broken += "\ufffd" in text
            self.stat_update("documents")
            meta = {"source": source, "line": line, "encoding": encoding}
            if part:
                meta["part"] = part
            yield Document(text=text, id=f"{source}:{line}", metadata=meta)
        sniffed = 0 if path.endswith((".gz", ".zst", ".parquet")) or is_dataset(path) else enc.SAMPLE_BYTES
        sniffed = min(sniffed, file_size(path)) if sniffed else 0  # what detect_encoding read
        self.stat_update("input_bytes", value=progress.get("bytes", 0) + sniffed, unit="byte")
        self._check_decoded(path, encoding, docs, broken, count=True)

    def _run_limited(self, rank: int, world_size: int):
        i = 0
        for path in self.inputs:
            if i >= self.limit:
                break
            encoding = detect_encoding(path, self.legacy)
            enc.reset_count()
            if rank == 0:
                self.stat_update(f"encoding_{encoding}", unit="file")
            docs = broken = 0
            for source, line, text in iter_records(
                path, field=self.field, txt_mode=self.txt_mode, encoding=encoding, split=self.split
            ):
                if i >= self.limit:
                    break
                docs += 1
                broken += "\ufffd" in text
                mine = i % world_size == rank
                i += 1
                if not mine:
                    continue
                self.stat_update("documents")
                yield Document(
                    text=text,
                    id=f"{source}:{line}",
                    metadata={"source": source, "line": line, "encoding": encoding},
                )
            self._check_decoded(path, encoding, docs, broken, count=rank == 0)

    def _check_decoded(self, path: str, encoding: str, docs: int, broken: int, count: bool) -> None:
        """Fail on a file (or range) with nothing decodable; count undecodable bytes and documents."""
        replaced = enc.undecodable_bytes()
        if not replaced:
            return
        if broken == docs:
            raise DataError(
                f"nothing decodable: all {docs:,} documents hold bytes that are not valid {encoding} "
                f"({replaced:,} bytes replaced); is the file in an encoding the language profile "
                "does not list (legacy_encodings), or not text at all?",
                file=path,
            )
        if count:
            self.stat_update("undecodable_bytes", value=replaced, unit="byte")
            self.stat_update(f"undecodable_docs:{path}", value=broken, unit="doc")
