"""Exact and near (MinHash) deduplication across all workers.

Exact: every worker writes an 8-byte hash of each surviving document (case-folded,
whitespace collapsed) next to its intermediate shard; one task (`ExactDedupCluster`)
finds, over all shards in rank order, the first document of each hash and the group
size; `ExactDedupFilter` then keeps only those. Hand-written rather than datatrove's
`ExactDedupSignature`, because that step consumes the stream and so cannot share
the filtering pass; it is a few numpy lines.

Near: datatrove's four MinHash stages (signatures, buckets, clusters, filter), run
on what exact dedup kept, with cluster sizes saved. Shingles are character 4-grams of
the simplified text (lower case, no punctuation or diacritics, digits as 0), padded with
a space at each end; 24 bands of 8 hashes, so a pair is found with probability
1 - (1 - J^8)^24: 0.09 at Jaccard 0.5, 0.33 at 0.6, 0.76 at 0.7, 0.92 at 0.75, 0.99 at 0.8.

Why characters: documents here are mostly sentences. One dropped word, a swapped
letter or a punctuation change in a 40-250 character line leaves a word-bigram
Jaccard of only 0.57 (5th percentile; Bible verses), 0.64 (news) or 0.43 (song lyrics),
so the former word-bigram setting (20 bands x 5) found 0.96 / 0.98 / 0.87 of such pairs
(and lowering its threshold merges formulaic verses). Character 4-grams keep 0.79 /
0.83 / 0.75 for the same pairs: 0.997 / 0.998 / 0.98 found, while distinct lines
rarely pass 0.6. Held-out Bible verses, which repeat whole formulas, are the worst
case: ~1.5 false merges per 520 lines (word bigrams: ~1.0). 5-grams need a lower
threshold (lyrics: 0.95 found), 3-grams merge more distinct lines; more bands cost
time in datatrove's bucket stage (one task per band).

Long documents: chance 4-gram overlap grows with length (common suffixes): distinct
documents of 2,000 characters share ~0.15 of their 4-grams, of 6,000 ~0.26, enough for
false merges in a large corpus. So documents over `char_max` (1,000) simplified
characters get word 5-grams (datatrove's web default) instead. `unit="word"` restores
word n-grams for all (2-grams, 20 bands x 5 by default).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np
import regex
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupSignature,
    _mersenne_prime,
)
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig, simplify_text
from datatrove.utils.typeshelper import StatHints

from langadapt.runs import atomic_write_bytes

_SPACE = re.compile(r"\s+")
SIGNATURE_BLOCK = 4096  # documents per write in MinhashSignature.run


def content_hash(text: str) -> int:
    key = _SPACE.sub(" ", text.casefold()).strip()
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def xxh64_text(text: str) -> int:
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


# unit: (n-gram size, bands, hashes per band); see the module docstring for the numbers
MINHASH_DEFAULTS = {"char": (4, 24, 8), "word": (2, 20, 5)}
LONG_DOC_WORD_NGRAMS = 5  # unit "char", documents over `char_max` characters: datatrove's web default
_MN = regex.compile(r"\p{Mn}+")
_POLY, _MIX1, _MIX2 = np.uint64(0x100000001B3), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_NORM = TextNormConfig(norm_unicode_diacritics=False)  # done below, without a per-character loop


def simplify(text: str) -> str:
    """datatrove's `simplify_text` (lower case, digits to 0, no punctuation, one space,
    no diacritics), with the diacritics step done by one regex."""
    return _MN.sub("", unicodedata.normalize("NFD", simplify_text(text, _NORM)))


def char_shingles(text: str, n: int) -> np.ndarray:
    """Hashed character n-grams of the simplified text padded with a space on each side
    (so first and last words count like inner ones), as uint64 of shape (N, 1)."""
    return _char_hashes(simplify(text), n)


def _char_hashes(s: str, n: int) -> np.ndarray:
    """Vectorised: a polynomial hash over code points, then the splitmix64 finaliser."""
    if not s:
        return np.zeros((0, 1), np.uint64)
    cps = np.frombuffer(f" {s} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    m = max(1, len(cps) - n + 1)
    h = cps[:m].copy()
    for k in range(1, min(n, len(cps))):
        h *= _POLY
        h += cps[k : k + m]
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h.reshape(-1, 1)


def _word_hashes(s: str, n: int) -> np.ndarray:
    words = s.split(" ")
    grams = (" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))
    return np.fromiter(map(xxh64_text, grams), dtype=np.uint64).reshape(-1, 1)


def sig_record_dtype(cfg: MinhashConfig) -> np.dtype:
    """One record of a signature file: a band's hashes `h0..`, then the document index."""
    n, fmt = cfg.hashes_per_bucket, cfg.hash_config.struct_format
    return np.dtype([*((f"h{i}", f"<{fmt}") for i in range(n)), ("doc", "<u4")])


class DatatroveSignature(MinhashDedupSignature):
    """datatrove's MinHash stage 1 as it is, except for a hash function that encodes `str`
    first (datatrove 0.10 passes `str` to `xxhash.xxh64_intdigest`, which xxhash >= 4
    rejects). The baseline of `benchmarks/clean_speed.py`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hash_func = xxh64_text


class MinhashSignature(DatatroveSignature):
    """datatrove's MinHash stage 1 on word n-grams (`unit="word"`) or character n-grams.

    Words: datatrove's shingles and signature (with `DatatroveSignature`'s hash fix).
    Characters: documents of up to `char_max` simplified characters; longer
    ones get word 5-grams (`LONG_DOC_WORD_NGRAMS`). A sentence has ~6x more character
    than word shingles, so shingling and signature are vectorised and the permutations
    are 32-bit `(a*x + b) mod 2**32` (odd `a`) of the shingle hash's top 32 bits instead
    of datatrove's 64-bit `mod 2**61-1`, which costs a division per shingle and hash:
    together 2x faster than the word path, with the same collision rates (Jaccard).

    `run` writes the same files as datatrove's (per bucket, records of the band's hashes
    and the document index, sorted), but a block of documents at a time and sorted with
    one `np.lexsort`: datatrove packs and writes one record per document and bucket.
    """

    def __init__(self, *args, unit: str = "word", char_max: int = 1000, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit, self.char_max = unit, char_max
        self._perm32 = None

    def get_shingles(self, text: str) -> np.ndarray:
        if self.unit == "word":
            return super().get_shingles(text)
        s = simplify(text)
        if self.char_max and len(s) > self.char_max:
            return _word_hashes(s, LONG_DOC_WORD_NGRAMS)
        return _char_hashes(s, self.config.n_grams)

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """The `num_buckets * hashes_per_bucket` min-hashes of one document, as uint64."""
        if self.unit == "word":
            return np.asarray(super().get_signature(shingles), dtype=np.uint64).ravel()
        if self._perm32 is None:
            a, b = self.parameters  # datatrove's seeded parameters, cut to 32 bits
            self._perm32 = ((a | np.uint64(1)).astype(np.uint32), b.astype(np.uint32))
        a, b = self._perm32
        phv = (shingles >> np.uint64(32)).astype(np.uint32) * a  # odd multipliers: a bijection
        phv += b
        return phv.min(axis=0).ravel().astype(np.uint64)

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        return self.signature(shingles).reshape(self.config.num_buckets, -1).tolist()

    def run(self, data, rank: int = 0, world_size: int = 1):
        cfg = self.config
        n_buckets, per_bucket = cfg.num_buckets, cfg.hashes_per_bucket
        dtype = sig_record_dtype(cfg)
        paths = [f"bucket_{bi:03d}/{rank:05d}.minhash.sig" for bi in range(n_buckets)]
        with self.track_time():
            can_skip, _ = self.check_can_skip_sig_writing(rank)
            if not can_skip:
                files = [self.output_folder.open(p, mode="wb") for p in paths]
                # arrays, not lists of ints: millions of small ints would keep the GC busy
                sigs = np.empty((SIGNATURE_BLOCK, n_buckets, per_bucket), dtype=np.uint64)
                idx = np.empty(SIGNATURE_BLOCK, dtype=np.uint32)
                n = 0

                def flush(n: int) -> None:
                    for bi, f in enumerate(files):
                        rec = np.empty(n, dtype=dtype)
                        for j in range(per_bucket):
                            rec[f"h{j}"] = sigs[:n, bi, j]
                        rec["doc"] = idx[:n]
                        f.write(rec.tobytes())

                for doc_idx, doc in enumerate(data):
                    self.stat_update(StatHints.total)
                    shingles = self.get_shingles(doc.text)
                    if shingles.size:
                        sigs[n] = self.signature(shingles).reshape(n_buckets, per_bucket)
                        idx[n] = doc_idx
                        n += 1
                        if n == SIGNATURE_BLOCK:
                            flush(n)
                            n = 0
                flush(n)
                for f in files:
                    f.close()
            for path in paths:  # sort each bucket by all hashes, then document index
                with self.output_folder.open(path, mode="rb") as f:
                    records = np.frombuffer(f.read(), dtype=dtype)
                order = np.lexsort([records[name] for name in reversed(dtype.names)])
                with self.output_folder.open(path, mode="wb") as f:
                    f.write(records[order].tobytes())


class MinhashBuckets(MinhashDedupBuckets):
    """datatrove's MinHash stage 2 (pairs of documents sharing a band), vectorised.

    With one task per bucket and no index (how `data clean` runs it), the whole bucket
    is read with numpy, ordered exactly as datatrove's heap merge pops it (hashes, then
    file, then document) and every record equal to the one before is written as the
    pair (previous, current): the same `.dups` bytes as datatrove's loop, which builds
    a Python object per record. Anything else (an index, several workers per bucket, a
    bucket over `max_bytes`) runs datatrove's own streaming code.
    """

    def __init__(self, *args, max_bytes: int = 1 << 30, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        cfg = self.config
        files = self.input_folder.list_files(subdirectory=f"bucket_{rank:03d}")
        size = sum(self.input_folder.size(f) for f in files)
        if world_size != cfg.num_buckets or self.index_folder or size > self.max_bytes:
            return super().run(data, rank, world_size)
        with self.track_time():
            n, dtype = cfg.hashes_per_bucket, sig_record_dtype(cfg)
            parts, file_ids, stems = [], [], []
            for file_id, path in enumerate(files):
                with self.input_folder.open(path, mode="rb") as f:
                    rec = np.frombuffer(f.read(), dtype=dtype)
                stem = int(Path(path).name.removesuffix(".minhash.sig"))
                parts.append(rec)
                file_ids.append(np.full(len(rec), file_id, dtype=np.uint32))
                stems.append(np.full(len(rec), stem, dtype=np.uint32))
            rec = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
            file_id, stem = (np.concatenate(x) if x else np.zeros(0, np.uint32) for x in (file_ids, stems))
            hash_max = _mersenne_prime if cfg.hash_config.precision == 64 else cfg.hash_config.max
            keep = rec["h0"] < hash_max  # datatrove's readers stop at the end of the hash range
            rec, file_id, stem = rec[keep], file_id[keep], stem[keep]
            order = np.lexsort([rec["doc"], file_id, *(rec[f"h{i}"] for i in reversed(range(n)))])
            rec, stem = rec[order], stem[order]
            same = np.ones(max(len(rec) - 1, 0), dtype=bool)
            for i in range(n):
                same &= rec[f"h{i}"][1:] == rec[f"h{i}"][:-1]
            j = np.flatnonzero(same)
            pairs = np.stack([stem[j], rec["doc"][j], stem[j + 1], rec["doc"][j + 1]], axis=1)
            with self.output_folder.open(f"{rank:05d}_00.dups", mode="wb") as out:
                out.write(pairs.astype("<u4").tobytes())
            if len(j):
                self.stat_update("total_matches", value=len(j))


def minhash_config(
    unit: str = "char",
    n_grams: int | None = None,
    buckets: int | None = None,
    hashes_per_bucket: int | None = None,
    seed: int = 1,
) -> MinhashConfig:
    """MinHash settings; what is not given comes from `MINHASH_DEFAULTS[unit]`."""
    n, b, r = MINHASH_DEFAULTS[unit]
    return MinhashConfig(
        n_grams=n_grams or n,
        num_buckets=buckets or b,
        hashes_per_bucket=hashes_per_bucket or r,
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
