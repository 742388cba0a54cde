"""Exact and near (MinHash) deduplication across all workers.

Exact: every worker writes an 8-byte hash of each surviving document (case-folded,
whitespace collapsed) next to its intermediate shard; one task (`ExactDedupCluster`)
finds, over all shards in rank order, the first document of each hash and the group
size; `ExactDedupFilter` then keeps only those. Hand-written rather than datatrove's
`ExactDedupSignature`, because that step consumes the stream and so cannot share
the filtering pass; it is a few numpy lines.

Near: datatrove's four MinHash stages (signatures, buckets, clusters, filter), run
on what exact dedup kept, with cluster sizes saved. Defaults are tuned for
sentence-sized documents (word 2-grams, 20 bands of 5 hashes: pairs with Jaccard
similarity >= 0.7 are found with probability >= 0.95; one edited word in a
12-word sentence leaves a bigram Jaccard of ~0.7).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.hashing import HashConfig

from langadapt.runs import atomic_write_bytes

_SPACE = re.compile(r"\s+")


def content_hash(text: str) -> int:
    key = _SPACE.sub(" ", text.casefold()).strip()
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def xxh64_text(text: str) -> int:
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


class MinhashSignature(MinhashDedupSignature):
    """datatrove's MinHash stage 1 with a hash function that encodes str first.

    datatrove 0.10 passes `str` to `xxhash.xxh64_intdigest`, which xxhash >= 4 rejects.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hash_func = xxh64_text


def minhash_config(
    n_grams: int = 2, buckets: int = 20, hashes_per_bucket: int = 5, seed: int = 1
) -> MinhashConfig:
    return MinhashConfig(
        n_grams=n_grams,
        num_buckets=buckets,
        hashes_per_bucket=hashes_per_bucket,
        seed=seed,
        hash_config=HashConfig(precision=64),
    )


def _save_npy(path: Path, arr: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def save_hashes(folder: Path, rank: int, hashes: list[int]) -> None:
    _save_npy(folder / f"{rank:05d}.hashes.npy", np.array(hashes, dtype=np.uint64))


class ExactDedupCluster(PipelineStep):
    """One task: decide which documents survive exact dedup (first occurrence wins)."""

    name = "exact_cluster"
    type = "🫂 - DEDUP"

    def __init__(self, folder: str, tasks: int):
        super().__init__()
        self.folder, self.tasks = folder, tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        folder = Path(self.folder)
        parts = [np.load(folder / f"{r:05d}.hashes.npy") for r in range(self.tasks)]
        allh = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        _, first, inverse, counts = np.unique(
            allh, return_index=True, return_inverse=True, return_counts=True
        )
        keep = first[inverse] == np.arange(len(allh))
        size = counts[inverse].astype(np.uint32)
        self.stat_update("duplicates", value=int((~keep).sum()))
        start = 0
        for r, part in enumerate(parts):
            end = start + len(part)
            _save_npy(folder / f"{r:05d}.keep.npy", keep[start:end])
            _save_npy(folder / f"{r:05d}.size.npy", size[start:end])
            start = end
        yield from ()


class ExactDedupFilter(BaseFilter):
    """Drop documents `ExactDedupCluster` marked (reason `duplicate_exact`)."""

    name = "exact_dedup"

    def __init__(self, folder: str, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.folder = folder

    def run(self, data, rank: int = 0, world_size: int = 1):
        folder = Path(self.folder)
        self._keep = np.load(folder / f"{rank:05d}.keep.npy")
        self._size = np.load(folder / f"{rank:05d}.size.npy")
        self._i = 0
        yield from super().run(data, rank, world_size)

    def filter(self, doc) -> bool | tuple[bool, str]:
        i = self._i
        self._i += 1
        if not self._keep[i]:
            return False, "duplicate_exact"
        if self._size[i] > 1:
            doc.metadata["exact_dup_count"] = int(self._size[i])
        return True
