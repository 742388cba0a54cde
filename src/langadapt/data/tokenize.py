"""Tokenize a training corpus once, in parallel processes, into cached token shards.

    shards = tokenize_corpus(["clean/data"], tok)      # a TokenShards (see token_shards.py)

The inputs are what `langadapt.textio.iter_texts` reads (txt one document per line,
jsonl[.gz|.zst], folders of them), with the same documents in the same order. Work is
cut into units, one shard each: line-aligned byte ranges of uncompressed files (a line
belongs to the range holding its first byte), whole compressed files. Each process
reads only its units. The folder is cached under a key of the tokenizer (its serialized
fast tokenizer), the inputs' contents, the JSON field and the langadapt version, so a
second run with the same inputs only hashes them.

Hand-written rather than `datasets.map`: that needs the text converted to Arrow first
(a second copy of the corpus) and stores the ids as int64 list columns.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import multiprocessing as mp
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from langadapt import __version__
from langadapt.config import StrictModel
from langadapt.data.token_shards import FORMAT, META, ShardWriter, TokenShards, is_token_shards, token_dtype
from langadapt.errors import ConfigError, DataError
from langadapt.textio import expand_paths, iter_records, json_objects

log = logging.getLogger(__name__)

BATCH = 1000                 # documents per tokenizer call
_READ = 8 << 20              # bytes read at a time inside a unit
_MIN_UNIT = 16 << 20         # smallest byte range worth its own shard
_IN_PROCESS_BELOW = 8 << 20  # smaller corpora are tokenized without starting processes
_SPLITTABLE = (".txt", ".jsonl")


class TokenizeOptions(StrictModel):
    """`langadapt data tokenize` flags and the `data.tokenize` recipe stage's options."""

    inputs: list[str]
    tokenizer: str                       # a tokenizer folder, or a model folder that has one
    field: str = "text"                  # JSONL field
    workers: int | None = Field(None, ge=1)  # processes; default: the CPUs (at most 8)


def cache_root() -> Path:
    """Where cached shard folders live: `LANGADAPT_TOKENIZED`, else the user cache."""
    raw = os.environ.get("LANGADAPT_TOKENIZED")
    if raw:
        return Path(raw).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return (Path(cache).expanduser() / "langadapt" / "tokenized").resolve()


def tokenizer_json(tok) -> str:
    """The serialized fast tokenizer: what encoding depends on, and what workers rebuild."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError(f"{type(tok).__name__} is not a fast tokenizer; token shards need one "
                          "(a folder with tokenizer.json)", key="tokenizer")
    return backend.to_str()


def tokenizer_hash(tok) -> str:
    return _sha(tokenizer_json(tok))


def _sha(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def contents_hash(files: list[Path]) -> str:
    """Hash of the files' bytes in the given order (document order matters, names do not)."""
    import xxhash

    h = xxhash.xxh3_128()
    for f in files:
        h.update(str(f.stat().st_size).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_READ):
                h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Unit:
    """One shard's work: bytes [start, end) of a file (end None: the whole file)."""

    path: str
    start: int = 0
    end: int | None = None


def plan_units(files: list[Path], workers: int) -> list[Unit]:
    """Cut the inputs into units in document order: about 16 per worker for large corpora, so
    a worker slowed down by a busy machine does not leave the others waiting at the end."""
    sizes = [f.stat().st_size for f in files]
    unit = max(_MIN_UNIT, math.ceil(sum(sizes) / (16 * workers)))
    out = []
    for f, size in zip(files, sizes):
        if not f.name.endswith(_SPLITTABLE):
            out.append(Unit(str(f)))
            continue
        n = max(1, math.ceil(size / unit))
        step = math.ceil(size / n) if size else 0
        out.extend(Unit(str(f), i * step, min(size, (i + 1) * step)) for i in range(n))
    return out


def _range_blocks(path: str, start: int, end: int):
    """Line-aligned byte blocks of [start, end): a line belongs to the range with its first byte."""
    with open(path, "rb") as f:
        if start:
            f.seek(start - 1)
            if f.read(1) != b"\n":
                f.readline()
        pos = f.tell()
        while pos < end:
            block = f.read(min(_READ, end - pos))
            if not block:
                return
            if not block.endswith(b"\n"):
                block += f.readline()
            yield pos, block
            pos += len(block)


def _unit_texts(unit: Unit, field: str):
    """Documents of a unit, exactly as `textio.iter_records` reads them from the whole file."""
    path = Path(unit.path)
    if unit.end is None:
        yield from (text for _, text in iter_records(path, field))
        return
    is_json = ".jsonl" in path.name
    try:
        for pos, block in _range_blocks(unit.path, unit.start, unit.end):
            # text mode as `open` reads it: universal newlines, a BOM dropped at the start
            lines = io.TextIOWrapper(io.BytesIO(block), encoding="utf-8-sig" if pos == 0 else "utf-8")
            if is_json:
                for _, rec in json_objects(lines, path):
                    if field not in rec:
                        raise DataError(f"record has no field '{field}'", file=str(path))
                    if rec[field]:
                        yield str(rec[field])
                continue
            for line in lines:
                line = line.rstrip("\n").rstrip("\r")
                if line.strip():
                    yield line
    except (DataError, UnicodeDecodeError):
        # read the whole file the ordinary way for the message with its line number
        for _ in iter_records(path, field):
            pass
        raise


_WORKER: dict = {}


def _init_worker(tk_json: str, dtype: str, folder: str, field: str, parent: int | None) -> None:
    from tokenizers import Tokenizer

    if parent is not None:
        from langadapt.data import lifetime

        lifetime.die_with(parent)
    tk = Tokenizer.from_str(tk_json)
    tk.no_truncation()  # as transformers encodes without truncation or padding
    tk.no_padding()
    encode = getattr(tk, "encode_batch_fast", tk.encode_batch)  # ids only: no offsets computed
    _WORKER.update(encode=encode, dtype=np.dtype(dtype), folder=Path(folder), field=field)


def _run_unit(job: tuple[int, Unit]) -> dict:
    i, unit = job
    w = _WORKER
    writer = ShardWriter(w["folder"], f"{i:05d}", w["dtype"])
    batch: list[str] = []

    def flush() -> None:
        if batch:
            ids = [e.ids for e in w["encode"](batch, add_special_tokens=False)]
            writer.add(ids, [len(t.encode("utf-8")) for t in batch])
            batch.clear()

    for text in _unit_texts(unit, w["field"]):
        batch.append(text)
        if len(batch) >= BATCH:
            flush()
    flush()
    return writer.close()


def default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def _build(files: list[Path], tk_json: str, vocab: int, field: str, folder: Path, workers: int,
           progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    if sum(f.stat().st_size for f in files) < _IN_PROCESS_BELOW:
        workers = 1
    units = plan_units(files, workers)
    init = (tk_json, token_dtype(vocab).name, str(folder), field)
    bar = dict(total=len(units), desc="tokenizing", unit="shard", disable=not progress)
    if workers == 1 or len(units) == 1:
        _init_worker(*init, None)
        return [_run_unit(job) for job in tqdm(list(enumerate(units)), **bar)]
    # spawn: the caller may hold torch threads that a fork would copy in a broken state
    with mp.get_context("spawn").Pool(min(workers, len(units)), _init_worker, (*init, os.getpid())) as pool:
        return list(tqdm(pool.imap(_run_unit, enumerate(units)), **bar))


def corpus_key(files: list[Path], tk_hash: str, field: str) -> str:
    return _sha(json.dumps({"format": FORMAT, "langadapt": __version__, "tokenizer": tk_hash,
                            "inputs": contents_hash(files), "field": field}), 24)


def _finished(folder: Path, key: str) -> bool:
    return is_token_shards(folder) and json.loads((folder / META).read_text())["key"] == key


def tokenize_corpus(paths: list[str | Path], tok, field: str = "text", *, out: str | Path | None = None,
                    workers: int | None = None, progress: bool = True) -> TokenShards:
    """Token shards of `paths` under `tok`: from the cache (or `out`) when already made, else made.

    Without `out` the folder is `cache_root()/<key>`; concurrent callers (the ranks of a
    multi-process launch) wait on a lock, and all but the first find it made.
    """
    from filelock import FileLock

    from langadapt.runs import atomic_dir, atomic_write_json

    files = expand_paths(paths)
    tk_json = tokenizer_json(tok)
    tk_hash = _sha(tk_json)
    key = corpus_key(files, tk_hash, field)
    folder = Path(out) if out is not None else cache_root() / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    # only the shared cache needs a lock: an explicit `out` belongs to its caller
    lock = FileLock(str(folder.parent / f".{folder.name}.lock")) if out is None else nullcontext()
    with lock:
        if _finished(folder, key):
            log.info("token shards of %d file(s) found in %s", len(files), folder)
            return TokenShards.open(folder)
        vocab = tok.backend_tokenizer.get_vocab_size(with_added_tokens=True)
        with atomic_dir(folder) as tmp:
            shards = _build(files, tk_json, vocab, field, tmp, workers or default_workers(), progress)
            atomic_write_json(tmp / META, {
                "format": FORMAT, "key": key, "langadapt": __version__, "tokenizer": tk_hash,
                "vocab_size": vocab, "dtype": token_dtype(vocab).name, "field": field,
                "inputs": [str(f) for f in files], "docs": sum(s["docs"] for s in shards),
                "tokens": sum(s["tokens"] for s in shards), "bytes": sum(s["bytes"] for s in shards),
                "shards": shards})
    log.info("tokenized %d file(s) into %s", len(files), folder)
    return TokenShards.open(folder)


def summary_rows(shards: TokenShards, dataset: str | None = None) -> list:
    """Result rows of a tokenized corpus: documents, tokens, bytes, bytes per token."""
    from langadapt.runs import ResultRow

    m = shards.metas[0]
    folder = str(shards.folders[0])
    sig = {"tokenizer": m["tokenizer"], "key": m["key"], "langadapt": m["langadapt"]}
    rows = [ResultRow(metric=k, value=float(m[k]), dataset=dataset or folder, signature=sig)
            for k in ("docs", "tokens", "bytes")]
    rows.append(ResultRow(metric="bytes_per_token", value=m["bytes"] / max(1, m["tokens"]),
                          dataset=dataset or folder, signature=sig,
                          extra={"note": f"{m['dtype']} token shards in {folder}", "folder": folder}))
    return rows


def tokenize(opts: TokenizeOptions, out: str | Path | None = None, progress: bool = True) -> TokenShards:
    """`langadapt data tokenize`: load the tokenizer and tokenize `opts.inputs`."""
    from langadapt.models.tiny import load_tokenizer
    from langadapt.paths import expand

    tok = load_tokenizer(expand(opts.tokenizer))
    return tokenize_corpus([expand(p) for p in opts.inputs], tok, opts.field, out=out,
                           workers=opts.workers, progress=progress)
