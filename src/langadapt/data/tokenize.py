"""Tokenize a training corpus once, in parallel processes, into cached token shards.

    shards = tokenize_corpus(["clean/data"], tok)      # a TokenShards (see token_shards.py)

The inputs are what `langadapt.textio.iter_texts` reads (txt one document per line,
jsonl[.gz|.zst], folders of them), with the same documents in the same order. Inputs are
local paths or fsspec URLs (`file://`, `s3://`, `hf://`...). Work is cut into units, one
shard each: line-aligned byte ranges of uncompressed files (a line belongs to the range
holding its first byte; `shares.open_share`), whole compressed files. Each process reads
only its units; a killed run keeps the units it finished and the next run does the rest.
The folder is cached under a key of the tokenizer (its serialized fast tokenizer), the
inputs' contents, the JSON field and the langadapt version, so a second run with the same
inputs only hashes them.

Hand-written rather than `datasets.map`: that needs the text converted to Arrow first
(a second copy of the corpus) and stores the ids as int64 list columns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing as mp
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
from pydantic import Field

from langadapt import __version__
from langadapt.config import StrictModel
from langadapt.data.shares import Share, open_share
from langadapt.data.token_shards import FORMAT, META, ShardWriter, TokenShards, is_token_shards, token_dtype
from langadapt.errors import ConfigError, DataError
from langadapt.locks import exclusive
from langadapt.output_guard import check_out_dir, clean_stale, replace_dir, write_marker
from langadapt.paths import tokenized_root
from langadapt.runs import atomic_write_json, cache_key
from langadapt.textio import expand_files, file_size, iter_records, json_objects, open_binary, open_text

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


def contents_hash(files: list[str]) -> str:
    """Hash of the files' bytes in the given order (document order matters, names do not)."""
    import xxhash

    h = xxhash.xxh3_128()
    for f in files:
        h.update(str(file_size(f)).encode() + b"\0")
        with open_binary(f) as fh:
            while chunk := fh.read(_READ):
                h.update(chunk)
    return h.hexdigest()


def plan_units(files: list[str], workers: int) -> list[Share]:
    """Cut the inputs into units of work in document order, one shard each: about 16 per
    worker for large corpora, so a worker slowed down by a busy machine does not leave the
    others waiting at the end. Large uncompressed files are cut into byte ranges (moved to
    line starts when read, `shares.open_share`); other files are one unit each.

    Finer than the cleaner's `shares.plan_shares` (one contiguous share per task), which a
    task reads start to end; here any process takes the next unit.
    """
    sizes = [file_size(f) for f in files]
    unit = max(_MIN_UNIT, math.ceil(sum(sizes) / (16 * workers)))
    out = []
    for f, size in zip(files, sizes):
        n = max(1, math.ceil(size / unit)) if f.endswith(_SPLITTABLE) else 1
        if n == 1:
            out.append(Share(f))
            continue
        cuts = [size * k // n for k in range(n + 1)]
        out.extend(Share(f, k, n, cuts[k], cuts[k + 1]) for k in range(n))
    return out


def _unit_texts(unit: Share, field: str):
    """Documents of a unit, exactly as `textio.iter_records` reads them from the whole file."""
    if unit.parts == 1:
        yield from (text for _, text in iter_records(unit.path, field))
        return
    # text mode as `open_text` reads the whole file: universal newlines, a BOM dropped at the start
    lines = open_text(unit.path, encoding="utf-8-sig" if unit.start == 0 else "utf-8",
                      raw=open_share(unit.path, unit))
    try:
        with lines:
            if ".jsonl" in unit.path:
                for _, rec in json_objects(lines, unit.path):
                    if field not in rec:
                        raise DataError(f"record has no field '{field}'", file=unit.path)
                    if rec[field]:
                        yield str(rec[field])
                return
            for line in lines:
                line = line.rstrip("\n").rstrip("\r")
                if line.strip():
                    yield line
    except (DataError, UnicodeDecodeError):
        # read the whole file the ordinary way for the message with its line number
        for _ in iter_records(unit.path, field):
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


def _done_file(folder: Path, i: int) -> Path:
    return folder / f"{i:05d}.done.json"


def _run_unit(job: tuple[int, Share]) -> tuple[int, dict]:
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
    info = writer.close()
    atomic_write_json(_done_file(w["folder"], i), info)  # written last: this shard is finished
    return i, info


def default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def _plan(work: Path, key: str, files: list[str], workers: int) -> list[Share]:
    """The units of `work`'s plan when it is for this key (a resumed run), else a new plan."""
    plan_file = work / "plan.json"
    if plan_file.is_file():
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        if plan.get("key") == key:
            return [Share(**u) for u in plan["units"]]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    units = plan_units(files, workers)
    atomic_write_json(plan_file, {"key": key, "units": [asdict(u) for u in units]})
    return units


def _build(files: list[str], key: str, tk_json: str, vocab: int, field: str, work: Path, workers: int,
           progress: bool) -> list[dict]:
    """Tokenize every unit of the plan into `work`, skipping the shards a killed run finished."""
    from tqdm.auto import tqdm

    if sum(map(file_size, files)) < _IN_PROCESS_BELOW:
        workers = 1
    units = _plan(work, key, files, workers)
    done = {i: json.loads(_done_file(work, i).read_text(encoding="utf-8"))
            for i in range(len(units)) if _done_file(work, i).is_file()}
    todo = [(i, u) for i, u in enumerate(units) if i not in done]
    if done:
        log.info("resuming: %d of %d shards were tokenized before, in %s", len(done), len(units), work)
    init = (tk_json, token_dtype(vocab).name, str(work), field)
    bar = dict(total=len(units), initial=len(done), desc="tokenizing", unit="shard", disable=not progress)
    if workers == 1 or len(todo) <= 1:
        _init_worker(*init, None)
        done.update(_run_unit(job) for job in tqdm(todo, **bar))
    else:
        # spawn: the caller may hold torch threads that a fork would copy in a broken state
        procs = min(workers, len(todo))
        with mp.get_context("spawn").Pool(procs, _init_worker, (*init, os.getpid())) as pool:
            done.update(tqdm(pool.imap_unordered(_run_unit, todo), **bar))
    return [done[i] for i in range(len(units))]


def corpus_key(files: list[str], tk_hash: str, field: str, contents: str | None = None) -> str:
    """The shard folder's key (`runs.cache_key`, as every cache); `contents` is
    `contents_hash(files)` when already computed."""
    return cache_key({"format": FORMAT, "tokenizer": tk_hash, "inputs": contents or contents_hash(files),
                      "field": field})


def _finished(folder: Path, key: str) -> bool:
    return is_token_shards(folder) and json.loads((folder / META).read_text())["key"] == key


def tokenize_corpus(paths: list[str | Path], tok, field: str = "text", *, out: str | Path | None = None,
                    workers: int | None = None, progress: bool = True,
                    contents: str | None = None) -> TokenShards:
    """Token shards of `paths` (local paths or fsspec URLs) under `tok`: from the cache (or
    `out`) when already made, else made.

    Without `out` the folder is `tokenized_root()/<key>`. Work happens in a hidden
    `.<name>.partial` folder beside it, renamed into place when every shard is written; a
    killed run leaves it, and the next run with the same key tokenizes only the shards
    still missing. Concurrent callers (the ranks of a multi-process launch, or a second
    `data tokenize` of the same output) wait on a lock, saying for whom, and all but the
    first find the shards made. `contents`: the inputs' `contents_hash`, when the caller
    has already read them for it.
    """
    files = expand_files(paths)
    tk_json = tokenizer_json(tok)
    tk_hash = _sha(tk_json)
    key = corpus_key(files, tk_hash, field, contents)
    folder = Path(out) if out is not None else tokenized_root() / key
    if out is not None:  # a folder the user named is replaced whole: only one langadapt wrote
        check_out_dir(folder, [*paths, *files], also_ours=(META,))
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f".{folder.name}.partial"
    with exclusive(folder, "token shard folder", wait=True):  # its lock file is removed on release
        clean_stale(folder)
        if _finished(folder, key):
            log.info("token shards of %d file(s) found in %s", len(files), folder)
            return TokenShards.open(folder)
        vocab = tok.backend_tokenizer.get_vocab_size(with_added_tokens=True)
        try:
            shards = _build(files, key, tk_json, vocab, field, work, workers or default_workers(), progress)
        except DataError:
            shutil.rmtree(work, ignore_errors=True)  # bad input: nothing worth resuming
            raise
        for f in [work / "plan.json", *(_done_file(work, i) for i in range(len(shards)))]:
            f.unlink()
        atomic_write_json(work / META, {
            "format": FORMAT, "key": key, "langadapt": __version__, "tokenizer": tk_hash,
            "vocab_size": vocab, "dtype": token_dtype(vocab).name, "field": field,
            "inputs": files, "docs": sum(s["docs"] for s in shards),
            "tokens": sum(s["tokens"] for s in shards), "bytes": sum(s["bytes"] for s in shards),
            "shards": shards})
        write_marker(work, "data tokenize")
        replace_dir(work, folder)
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


# What AutoTokenizer reads from a local folder. transformers edits the backend it loads
# (Qwen's decoder, Gemma's added-token flags), so the key cannot come from tokenizer.json
# alone; a folder's fingerprint is mapped to the loaded tokenizer's hash once it is known.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                    "added_tokens.json", "config.json")


def folder_fingerprint(folder: Path) -> str | None:
    """Hash of a local tokenizer folder's files and the transformers version (None: not a folder
    with tokenizer.json, e.g. a hub id)."""
    import importlib.metadata

    import xxhash

    if not (folder / "tokenizer.json").is_file():
        return None
    h = xxhash.xxh3_128(importlib.metadata.version("transformers").encode())
    for name in _TOKENIZER_FILES:
        f = folder / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _fingerprint_file(fingerprint: str) -> Path:
    return tokenized_root() / "tokenizers" / f"{fingerprint}.json"


def tokenize(opts: TokenizeOptions, out: str | Path | None = None, progress: bool = True) -> TokenShards:
    """`langadapt data tokenize`: tokenize `opts.inputs` with `opts.tokenizer`.

    A re-run is answered without loading transformers (seconds of imports) when the
    tokenizer folder is one seen before: its fingerprint gives the tokenizer's hash, and
    the inputs' hash the shard folder.
    """
    from langadapt.paths import expand

    source = expand(opts.tokenizer)
    tok_dir = Path(source)
    files = expand_files([expand(p) for p in opts.inputs])
    if out is not None:  # refused before the inputs are read or the tokenizer loaded
        check_out_dir(out, [*opts.inputs, *files, source], also_ours=(META,))
    fingerprint = folder_fingerprint(tok_dir) if tok_dir.is_dir() else None
    contents = None  # the inputs are read to hash them once, not again on a miss
    if fingerprint and _fingerprint_file(fingerprint).is_file():
        tk_hash = json.loads(_fingerprint_file(fingerprint).read_text(encoding="utf-8"))["tokenizer"]
        contents = contents_hash(files)
        key = corpus_key(files, tk_hash, opts.field, contents)
        folder = Path(out) if out is not None else tokenized_root() / key
        if _finished(folder, key):
            log.info("token shards of %d file(s) found in %s", len(files), folder)
            return TokenShards.open(folder)
    from langadapt.models.loading import load_tokenizer

    tok = load_tokenizer(source)
    shards = tokenize_corpus(files, tok, opts.field, out=out, workers=opts.workers, progress=progress,
                             contents=contents)
    if fingerprint:
        atomic_write_json(_fingerprint_file(fingerprint), {"tokenizer": shards.metas[0]["tokenizer"],
                                                           "folder": str(tok_dir)})
    return shards
