"""Token shards: a tokenized corpus on disk, read through memory maps.

A shard folder holds, per shard `NNNNN` (one per unit of parallel work, in document order):

    NNNNN.tokens      token ids of every document, back to back (raw uint16 or uint32)
    NNNNN.index.npy   int64 offsets: document i is tokens[index[i]:index[i + 1]]
    NNNNN.bytes.npy   uint32 UTF-8 size of each document's text (for bytes-based budgets)
    meta.json         written last: format, dtype, tokenizer hash, counts, shard list

uint16 when every id fits (vocabularies up to 65,536), uint32 otherwise: a quarter or a
half of the int64 arrays the in-memory path held, and only the pages a reader touches
are in memory. numpy's memmap does the mapping; the format is written by hand because
`datasets` would store the ids as Arrow list columns after converting the text itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from langadapt.errors import DataError

META = "meta.json"
FORMAT = 1


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id of a `vocab_size` vocabulary."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def is_token_shards(path: str | Path) -> bool:
    """True when `path` is a finished shard folder (its `meta.json` is written last)."""
    p = Path(path) / META
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, json.JSONDecodeError):
        return False


class ShardWriter:
    """Append tokenized documents to one shard; `close` writes its index."""

    def __init__(self, folder: Path, name: str, dtype: np.dtype):
        self.folder, self.name, self.dtype = folder, name, dtype
        self._f = open(folder / f"{name}.tokens", "wb")
        self._lengths: list[np.ndarray] = []
        self._bytes: list[np.ndarray] = []

    def add(self, ids: list[list[int]], sizes: list[int]) -> None:
        """Documents' token ids and their texts' UTF-8 sizes."""
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=self.dtype, count=int(lengths.sum()))
        self._f.write(flat.tobytes())
        self._lengths.append(lengths)
        self._bytes.append(np.asarray(sizes, dtype=np.uint32))

    def close(self) -> dict:
        self._f.close()
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        index = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=index[1:])
        np.save(self.folder / f"{self.name}.index.npy", index)
        sizes = np.concatenate(self._bytes) if self._bytes else np.zeros(0, np.uint32)
        np.save(self.folder / f"{self.name}.bytes.npy", sizes)
        return {"name": self.name, "docs": len(lengths), "tokens": int(index[-1]),
                "bytes": int(sizes.sum(dtype=np.int64))}


@dataclass
class _Shard:
    tokens: np.ndarray
    index: np.ndarray
    sizes: np.ndarray


class TokenShards:
    """Documents of one or more shard folders, numbered 0..num_docs-1 in order.

    Memory maps open on first use and are not pickled (a DataLoader worker reopens them).
    `concat` joins corpora of the same tokenizer (main + replay) under one numbering.
    """

    def __init__(self, folders: list[Path]):
        self.folders = [Path(f) for f in folders]
        self.metas = [_read_meta(f) for f in self.folders]
        dtypes = {m["dtype"] for m in self.metas}
        self.dtype = np.dtype(dtypes.pop()) if len(dtypes) == 1 else np.dtype(np.uint32)
        self._names = [(f, s["name"]) for f, m in zip(self.folders, self.metas) for s in m["shards"]]
        docs = [s["docs"] for m in self.metas for s in m["shards"]]
        self.first = np.zeros(len(docs) + 1, dtype=np.int64)   # first global id of each shard
        np.cumsum(docs, out=self.first[1:])
        self._shards: list[_Shard] | None = None

    @classmethod
    def open(cls, folder: str | Path) -> TokenShards:
        return cls([Path(folder)])

    def concat(self, other: TokenShards) -> TokenShards:
        return TokenShards(self.folders + other.folders)

    @property
    def num_docs(self) -> int:
        return int(self.first[-1])

    @property
    def num_tokens(self) -> int:
        return sum(int(m["tokens"]) for m in self.metas)

    @property
    def tokenizer_hash(self) -> str:
        return self.metas[0]["tokenizer"]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_shards": None}

    def _open(self) -> list[_Shard]:
        if self._shards is None:
            out = []
            for (folder, name), meta_dtype in zip(self._names, self._shard_dtypes()):
                path = folder / f"{name}.tokens"
                size = path.stat().st_size
                # an empty file cannot be mapped
                tokens = (np.memmap(path, dtype=meta_dtype, mode="r") if size
                          else np.zeros(0, dtype=meta_dtype))
                out.append(_Shard(tokens, np.load(folder / f"{name}.index.npy", mmap_mode="r"),
                                  np.load(folder / f"{name}.bytes.npy", mmap_mode="r")))
            self._shards = out
        return self._shards

    def _shard_dtypes(self) -> list[np.dtype]:
        return [np.dtype(m["dtype"]) for m in self.metas for _ in m["shards"]]

    def _locate(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.num_docs):
            raise IndexError(f"document id out of range 0..{self.num_docs - 1}")
        return np.searchsorted(self.first, ids, side="right") - 1

    def _per_shard(self, ids: np.ndarray, fn) -> np.ndarray:
        """`fn(shard, local_ids)` gathered for every id, shard by shard (vectorised)."""
        ids = np.asarray(ids, dtype=np.int64)
        which = self._locate(ids)
        out = np.zeros(len(ids), dtype=np.int64)
        shards = self._open()
        order = np.argsort(which, kind="stable")   # one pass per shard present, not per shard
        cuts = np.flatnonzero(np.diff(which[order])) + 1
        for part in np.split(order, cuts) if len(ids) else []:
            s = int(which[part[0]])
            out[part] = fn(shards[s], ids[part] - self.first[s])
        return out

    def lengths(self, ids: np.ndarray) -> np.ndarray:
        """Token count of each document in `ids`."""
        return self._per_shard(ids, lambda sh, i: sh.index[i + 1] - sh.index[i])

    def sizes(self, ids: np.ndarray) -> np.ndarray:
        """UTF-8 bytes of each document's text."""
        return self._per_shard(ids, lambda sh, i: sh.sizes[i])

    def tokens(self, doc: int) -> np.ndarray:
        """The token ids of document `doc` (a read-only view into the map)."""
        s = int(self._locate(np.asarray([doc]))[0])
        sh, i = self._open()[s], doc - int(self.first[s])
        return sh.tokens[sh.index[i]:sh.index[i + 1]]


def _read_meta(folder: Path) -> dict:
    if not is_token_shards(folder):
        raise DataError("not a finished token-shard folder (no meta.json); tokenize with "
                        "'langadapt data tokenize'", file=str(folder))
    return json.loads((folder / META).read_text(encoding="utf-8"))
