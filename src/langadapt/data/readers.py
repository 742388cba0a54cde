"""Read raw documents from many formats: txt, jsonl(.gz|.zst), parquet, tsv/csv, HF datasets.

Every record is `(source, line, text)`: `line` is the 1-based line (txt, jsonl, csv)
or record number (parquet, datasets) in that source, so a kept or dropped document
can always be traced back. `InputReader` is the datatrove step that turns them into
`Document`s and shares them round-robin between the pipeline's tasks.

A truncated or corrupt compressed file, a binary file and a file in which no
document could be decoded raise `DataError` naming the file and how far it got.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep

from langadapt.data import encoding as enc
from langadapt.errors import DataError
from langadapt.textio import json_objects

TEXT_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".parquet", ".tsv", ".csv")
Record = tuple[str, int, str]


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files, the readable files inside plain folders (sorted), HF dataset folders and hub ids."""
    out: list[str] = []
    for raw in inputs:
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


def detect_encoding(path: str, legacy: list[str]) -> str:
    """Encoding of a plain text file; compressed and binary formats are UTF-8 by definition.

    Raises:
        DataError: the file holds NUL bytes (a binary file, or UTF-16/32 without a BOM).
    """
    if path.endswith((".gz", ".zst", ".parquet")) or Path(path).is_dir() or not Path(path).exists():
        return "utf-8"
    with open(path, "rb") as f:
        sample = f.read(enc.SAMPLE_BYTES)
    nul = enc.nul_bytes(sample)
    if nul > max(2, len(sample) // 10_000):
        raise DataError(
            f"not a text file: {nul:,} NUL bytes in its first {len(sample):,} bytes "
            "(a binary file, or UTF-16/32 without a byte-order mark?); give txt, jsonl, csv/tsv or parquet",
            file=path,
        )
    return enc.detect_bytes(sample, legacy)


class _ZstdStream(io.RawIOBase):
    """Decompress a `.zst` file frame by frame; ending inside a frame is an error.

    Hand-written because zstandard's `stream_reader` returns what it has and stops
    silently when the file is cut short, which would drop the rest of a corpus unnoticed.
    """

    def __init__(self, raw: io.BufferedReader):
        import zstandard

        super().__init__()
        self.raw, self._new = raw, zstandard.ZstdDecompressor().decompressobj
        self._d, self._in_frame = self._new(), False
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._d.eof:  # the next frame of a multi-frame file
                self._d = self._new()
            out.append(self._d.decompress(data))
            self._in_frame = not self._d.eof
            data = self._d.unused_data if self._d.eof else b""
        return b"".join(out)

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            chunk = self.raw.read(1 << 17)
            if not chunk:
                if self._in_frame:
                    raise EOFError("compressed file ended before the end of a zstd frame")
                return 0
            self._buf, self._pos = self._decompress(chunk), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n


def _open(path: str, encoding: str) -> tuple[io.TextIOBase, io.BufferedReader | None]:
    """The text stream of `path` and, for compressed files, the raw file (its position locates errors)."""
    if path.endswith((".gz", ".zst")):
        raw = open(path, "rb")
        inner = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else io.BufferedReader(_ZstdStream(raw))
        return io.TextIOWrapper(inner, encoding="utf-8", errors=enc.ERROR_HANDLER), raw
    return enc.open_text(path, encoding), None


class _CountedLines:
    """The lines of a text stream, counted, so a decompression error can say how far it got."""

    def __init__(self, f: io.TextIOBase):
        self.f, self.n = f, 0

    def __iter__(self) -> _CountedLines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.n += 1
        return line


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    # EOFError: cut short; OSError: bad gzip header or CRC (BadGzipFile); zlib/zstd: bad data
    return (EOFError, OSError, zlib.error, zstandard.ZstdError)


def _decompress_error(path: str, lines: int, raw: io.BufferedReader, e: BaseException) -> DataError:
    size, pos = os.path.getsize(path), raw.tell()
    reason = " ".join(str(e).split()) or type(e).__name__
    return DataError(
        f"cannot decompress after line {lines:,} (byte {pos:,} of {size:,}): {reason}; "
        "the file is truncated or corrupt: download or compress it again",
        file=path,
    )


def _txt_lines(f: Iterable[str], path: str) -> Iterator[Record]:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\r\n")
        if line.strip():
            yield path, n, line


def _txt_paragraphs(f: Iterable[str], path: str) -> Iterator[Record]:
    buf: list[str] = []
    start = 0
    for n, line in enumerate(f, 1):
        line = line.rstrip("\r\n")
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
        pf = pq.ParquetFile(path)
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


def iter_records(
    path: str, *, field: str = "text", txt_mode: str = "line", encoding: str = "utf-8", split: str = "train"
) -> Iterator[Record]:
    """Records of one input, in file order."""
    p = Path(path)
    if p.is_dir() or not p.exists():
        yield from _hf(path, field, split)
    elif path.endswith(".parquet"):
        yield from _parquet(path, field)
    else:
        f, raw = _open(path, encoding)
        lines = _CountedLines(f)
        try:
            if ".jsonl" in p.name or path.endswith(".json.gz"):
                yield from _jsonl(lines, path, field)
            elif path.endswith((".tsv", ".csv")):
                yield from _table(lines, path, field)
            elif txt_mode == "paragraph":
                yield from _txt_paragraphs(lines, path)
            else:
                yield from _txt_lines(lines, path)
        except _corrupt_errors() as e:
            if raw is None:
                raise
            raise _decompress_error(path, lines.n, raw, e) from None
        finally:
            f.close()
            if raw is not None:  # GzipFile and the zstd stream leave the file they were given open
                raw.close()


class InputReader(PipelineStep):
    """Reads all inputs; task `rank` keeps documents `rank, rank + world_size, ...`.

    Round-robin by document (not by file) so one big file still spreads over all
    workers. Every task reads every record, so each can tell that a file held nothing
    decodable; only task 0 counts per-file facts (encodings, undecodable bytes and
    documents).
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
    ):
        super().__init__()
        self.inputs, self.field, self.txt_mode = list(inputs), field, txt_mode
        self.legacy, self.split, self.limit = list(legacy_encodings), split, limit

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        i = 0
        for path in self.inputs:
            if self.limit is not None and i >= self.limit:
                break
            encoding = detect_encoding(path, self.legacy)
            enc.reset_count()
            if rank == 0:
                self.stat_update(f"encoding_{encoding}", unit="file")
            docs = broken = 0
            for source, line, text in iter_records(
                path, field=self.field, txt_mode=self.txt_mode, encoding=encoding, split=self.split
            ):
                if self.limit is not None and i >= self.limit:
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
            self._check_decoded(path, encoding, docs, broken, rank)

    def _check_decoded(self, path: str, encoding: str, docs: int, broken: int, rank: int) -> None:
        """Fail on a file with nothing decodable; count undecodable bytes and documents otherwise."""
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
        if rank == 0:
            self.stat_update("undecodable_bytes", value=replaced, unit="byte")
            self.stat_update(f"undecodable_docs:{path}", value=broken, unit="doc")
