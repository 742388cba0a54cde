"""Reading text: one opener and one set of line rules for every stage.

Every text file langadapt reads goes through `open_text` and `text_lines`; the
cleaner's readers (`langadapt.data.readers`) add encodings, csv and parquet on top.
Two kinds of files, one set of rules:

* **Documents** (`iter_records`, `iter_texts`, the cleaner's txt/jsonl inputs):
  UTF-8 (the cleaner: the detected encoding), a leading BOM dropped; lines end at
  `\n`, `\r\n` or a lone `\r` (files from old editors); a whitespace-only line is
  no document, other lines are kept as they are (only the break is removed).
* **Line-aligned files** (`read_lines`, `read_segments`): UTF-8, a leading BOM
  dropped (`read_segments` keeps it, as the `sacrebleu` command line does); lines
  end at `\n` only, a `\r` right before it belongs to the break and a lone `\r` is
  text, so a source file, its translation and its reference count the same
  segments whichever stage reads them; every line counts, empty ones too;
  `read_segments` also strips trailing whitespace (sacrebleu).

Both read `.gz` and `.zst` (a truncated or corrupt one raises `DataError` naming
the file and how far it got) and take local paths or fsspec URLs (`file://`,
`memory://`, `s3://`, `hf://`...).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from langadapt.errors import DataError

SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz")


def is_url(path: str | Path) -> bool:
    return "://" in str(path)


def _protocol_error(url: str, err: Exception) -> DataError:
    """A DataError for a URL whose protocol fsspec does not know, or whose package is missing."""
    from fsspec.core import split_protocol
    from fsspec.registry import available_protocols, known_implementations

    protocol = (split_protocol(url.split("::")[-1])[0] or "file").split("+")[0]
    if protocol not in available_protocols() and protocol not in known_implementations:
        return DataError(f"unknown URL protocol '{protocol}://' (fsspec reads e.g. file://, memory://, "
                         "s3://, gs://, az://, hf://, https://; check the spelling)", file=url)
    package = known_implementations.get(protocol, {}).get("class", "").split(".")[0] or "?"
    return DataError(f"reading '{protocol}://' URLs needs the package '{package}': pip install {package} "
                     f"({err})", file=url)


def url_fs(url: str):
    """`(filesystem, path)` of an fsspec URL; an unknown protocol or a missing package is a DataError."""
    import fsspec.core

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        raise _protocol_error(url, e) from None
    except ValueError as e:
        if "protocol" not in str(e).lower():
            raise
        raise _protocol_error(url, e) from None


def open_binary(path: str | Path) -> BinaryIO:
    """The raw bytes of a local file or an fsspec URL."""
    if is_url(path):
        import fsspec

        url_fs(str(path))   # an unknown protocol or missing package: one DataError naming it
        return fsspec.open(str(path), "rb").open()
    return open(path, "rb")


def file_size(path: str | Path) -> int:
    if is_url(path):
        fs, p = url_fs(str(path))
        return int(fs.size(p))
    return Path(path).stat().st_size


class _ZstdStream(io.RawIOBase):
    """Decompress a `.zst` file frame by frame; ending inside a frame is an error.

    Hand-written because zstandard's `stream_reader` returns what it has and stops
    silently when the file is cut short, which would drop the rest of a corpus unnoticed.
    """

    def __init__(self, raw: BinaryIO):
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


def is_compressed(path: str | Path) -> bool:
    return str(path).endswith((".gz", ".zst"))


def open_text(
    path: str | Path,
    encoding: str = "utf-8-sig",
    *,
    errors: str = "strict",
    aligned: bool = False,
    raw: BinaryIO | None = None,
) -> io.TextIOWrapper:
    """A text stream over `path` (or over `raw`, its bytes) following the rules above.

    `aligned` selects the line-aligned rules (`\\n` only); otherwise universal newlines.
    Compressed files are UTF-8 (a `-sig` BOM is still dropped).
    """
    raw = raw if raw is not None else open_binary(path)
    inner: BinaryIO = raw
    if str(path).endswith(".gz"):
        inner = gzip.GzipFile(fileobj=raw)
    elif str(path).endswith(".zst"):
        inner = io.BufferedReader(_ZstdStream(raw))
    elif not isinstance(raw, io.BufferedIOBase):
        inner = io.BufferedReader(raw)
    return io.TextIOWrapper(inner, encoding=encoding, errors=errors, newline="\n" if aligned else None)


def text_lines(f: Iterable[str]) -> Iterator[str]:
    """The lines of a stream from `open_text`, without their line break."""
    for line in f:
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        yield line


def corrupt_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    # EOFError: cut short; OSError: bad gzip header or CRC (BadGzipFile); zlib/zstd: bad data
    return (EOFError, OSError, zlib.error, zstandard.ZstdError)


def decompress_error(path: str, lines: int, pos: int, e: BaseException) -> DataError:
    """The error for a compressed file that ends early or holds damaged data."""
    try:
        size = f"{file_size(path):,}"
    except OSError:
        size = "?"
    reason = " ".join(str(e).split()) or type(e).__name__
    return DataError(
        f"cannot decompress after line {lines:,} (byte {pos:,} of {size}): {reason}; "
        "the file is truncated or corrupt: download or compress it again",
        file=str(path),
    )


class CountedLines:
    """`text_lines` of a stream (with their breaks if not `strip`: csv needs them), counted.

    The count lets an error say how far it got, and a byte range say how many lines it held.
    """

    def __init__(self, f: Iterable[str], strip: bool = True):
        self._it, self.n = text_lines(f) if strip else iter(f), 0

    def __iter__(self) -> CountedLines:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.n += 1
        return line


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


def url_files(url: str, suffixes: tuple[str, ...] = SUFFIXES) -> list[str]:
    """The files of an fsspec URL: itself, or the files inside it ending in `suffixes` (sorted),
    spelled from the URL as the user wrote it (as datatrove's `DataFolder` lists a folder)."""
    fs, root = url_fs(url)
    if fs.isdir(root):
        found = sorted(f for f in fs.find(root) if f.endswith(suffixes))
        if not found:
            raise DataError(f"folder holds no readable files ({', '.join(suffixes)})", file=url)
        return [url.rstrip("/") + "/" + f[len(root.rstrip("/")) :].lstrip("/") for f in found]
    if not fs.exists(root):
        raise DataError("input not found", file=url)
    return [url]


def expand_files(paths: Iterable[str | Path]) -> list[str]:
    """`expand_paths` for local paths and fsspec URLs alike (`file://`, `memory://`, `s3://`...)."""
    out: list[str] = []
    for p in paths:
        out.extend(url_files(str(p)) if is_url(p) else map(str, expand_paths([p])))
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


def _checked(path: str | Path, f: io.TextIOWrapper, body: Iterator, lines: CountedLines, raw: BinaryIO):
    """Run `body` over `f`, turning decoding and decompression errors into DataError."""
    try:
        with f:
            yield from body
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 ({e.reason}); clean it with 'langadapt data clean' first",
                        file=str(path), line=lines.n + 1) from None
    except corrupt_errors() as e:
        if not is_compressed(path):
            raise
        raise decompress_error(str(path), lines.n, raw.tell() if not raw.closed else 0, e) from None
    finally:
        raw.close()  # GzipFile and the zstd stream leave the file they were given open


def iter_records(path: str | Path, field: str = "text") -> Iterator[tuple[int, str]]:
    """(1-based line number, text) for each non-empty document of one file (a path or URL)."""
    raw = open_binary(path)
    f = open_text(path, raw=raw)
    lines = CountedLines(f)
    name = str(path)

    def body() -> Iterator[tuple[int, str]]:
        if ".jsonl" in name or name.endswith(".json.gz"):
            for n, rec in json_objects(lines, path):
                if field not in rec:
                    raise DataError(f"record has no field '{field}'", file=str(path), line=n)
                if rec[field]:
                    yield n, str(rec[field])
            return
        for n, line in enumerate(lines, 1):
            if line.strip():
                yield n, line

    yield from _checked(path, f, body(), lines, raw)


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its break) of one file: a path or URL, .gz/.zst too."""
    raw = open_binary(path)
    f = open_text(path, raw=raw)
    lines = CountedLines(f)
    yield from _checked(path, f, enumerate(lines, 1), lines, raw)


def iter_texts(paths: Iterable[str | Path], field: str = "text", limit: int | None = None) -> Iterator[str]:
    """Documents from all `paths`, in order; at most `limit` of them."""
    n = 0
    for p in expand_paths(paths):
        for _, text in iter_records(p, field):
            if limit is not None and n >= limit:
                return
            n += 1
            yield text


def _aligned(path: str | Path, encoding: str) -> list[str]:
    p = Path(path)
    if not is_url(path) and not p.is_file():
        raise DataError("file not found", file=str(p))
    raw = open_binary(path)
    f = open_text(path, encoding, aligned=True, raw=raw)
    lines = CountedLines(f)
    return list(_checked(p, f, lines, lines, raw))


def read_lines(path: str | Path) -> list[str]:
    """All lines of a line-aligned file (keeps empty lines: alignment matters)."""
    return _aligned(path, "utf-8-sig")


def read_segments(path: str | Path) -> list[str]:
    """Segments of a line-aligned file, read exactly as the `sacrebleu` command line does.

    The line-aligned rules, with a BOM kept and trailing whitespace stripped: any
    other reading could change a segment and so the score.
    """
    return [line.rstrip() for line in _aligned(path, "utf-8")]
