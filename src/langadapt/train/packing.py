"""Document packing for causal-LM training: documents joined with EOS, cut into full blocks.

Padding every line to the sequence length (what the original scripts did) wastes
most of each batch on short sentences; packing fills every position with real text.

With `PackedDataset(..., eos_id=EOS)` (the trainer's default, `data.separate_documents`)
each document attends only to itself: every block gets `position_ids` that restart
after each EOS and no attention mask,
which transformers turns into a block-diagonal causal mask (sdpa, eager, flex and
flash-attention kernels alike; see `masking_utils.find_packed_sequence_indices`).
Without `eos_id` blocks attend across document boundaries (separated by EOS only), as
in classic LM pretraining.
"""

from __future__ import annotations

import logging
import random
from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

_BATCH = 1000  # documents per tokenizer call: fast tokenizers parallelise inside a batch


def tokenize_documents(tok, texts: Iterable[str]) -> list[np.ndarray]:
    """Token ids of each document (no special tokens), batched through the fast tokenizer."""
    out: list[np.ndarray] = []
    batch: list[str] = []

    def flush() -> None:
        if batch:
            enc = tok(batch, add_special_tokens=False)["input_ids"]
            out.extend(np.asarray(ids, dtype=np.int64) for ids in enc)
            batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= _BATCH:
            flush()
    flush()
    return out


def tokenize_sample(tok, texts: list[str], budget: int, seed: int) -> list[np.ndarray]:
    """Documents in a seeded random order, tokenized only until `budget` tokens are reached.

    A replay corpus can be far larger than the share of it a run uses.
    """
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    out: list[np.ndarray] = []
    got = 0
    for start in range(0, len(order), _BATCH):
        chunk = tokenize_documents(tok, (texts[i] for i in order[start:start + _BATCH]))
        out.extend(chunk)
        got += sum(len(d) for d in chunk)
        if got >= budget:
            break
    return out


def mix_replay(docs: list[np.ndarray], replay: list[np.ndarray], ratio: float,
               seed: int) -> list[np.ndarray]:
    """Add replay documents (seeded order) until they are `ratio` of all tokens."""
    if ratio <= 0 or not replay:
        return docs
    main_tokens = sum(len(d) for d in docs)
    want = int(round(main_tokens * ratio / (1.0 - ratio)))
    order = list(range(len(replay)))
    random.Random(seed).shuffle(order)
    picked, got = [], 0
    for i in order:
        if got >= want:
            break
        picked.append(replay[i])
        got += len(replay[i])
    if got < want:
        log.warning("replay corpus has %d tokens, fewer than the %d asked for", got, want)
    log.info("replay mix: %d main + %d replay tokens (%.1f%% replay)", main_tokens, got,
             100.0 * got / max(1, main_tokens + got))
    return docs + picked


def pack(docs: Sequence[np.ndarray], seq_len: int, eos_id: int, *, shuffle_seed: int | None = None,
         keep_remainder: bool = False, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Join documents with EOS and cut into `[n, seq_len]` blocks.

    Returns `(input_ids, n_real)`: `n_real[i]` is the number of real tokens of block i
    (only the last block, with `keep_remainder`, can be short; it is padded with `pad_id`).
    """
    order = list(range(len(docs)))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    eos = np.asarray([eos_id], dtype=np.int64)
    pieces = []
    for i in order:
        pieces.append(docs[i])
        pieces.append(eos)
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    n_full = len(flat) // seq_len
    blocks = [flat[: n_full * seq_len].reshape(n_full, seq_len)]
    n_real = [seq_len] * n_full
    rest = len(flat) - n_full * seq_len
    if keep_remainder and rest:
        tail = np.full((1, seq_len), pad_id, dtype=np.int64)
        tail[0, :rest] = flat[n_full * seq_len:]
        blocks.append(tail)
        n_real.append(rest)
    return torch.from_numpy(np.concatenate(blocks)), torch.tensor(n_real, dtype=torch.long)


def document_positions(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Position of each token inside its document; a document ends with (and includes) its EOS.

    `[a b EOS c d]` -> `[0 1 2 0 1]`: a new document starts after every EOS.
    """
    idx = torch.arange(len(ids))
    starts = torch.zeros(len(ids), dtype=torch.bool)
    if len(ids):
        starts[0] = True
        starts[1:] = ids[:-1] == eos_id
    first = torch.cummax(torch.where(starts, idx, torch.zeros_like(idx)), dim=0).values
    return idx - first


def block_item(ids: torch.Tensor, n_real: int, eos_id: int | None, padded: bool) -> dict[str, torch.Tensor]:
    """One training example from a block and its count of real tokens (see `PackedDataset`)."""
    if eos_id is not None:
        labels = ids.clone()
        labels[n_real:] = -100
        return {"input_ids": ids, "labels": labels, "position_ids": document_positions(ids, eos_id)}
    if not padded:
        return {"input_ids": ids, "labels": ids}
    mask = torch.zeros_like(ids)
    mask[:n_real] = 1
    labels = ids.clone()
    labels[n_real:] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class PackedDataset(Dataset):
    """Fixed-length blocks; labels equal the inputs (the model shifts them), padding is -100.

    With `eos_id` given (`separate_documents`), items carry `position_ids` that restart
    at every document, so attention stays inside documents; padding sits at the end of a
    block, where causal attention never lets real tokens see it, so no mask is needed.
    """

    def __init__(self, input_ids: torch.Tensor, n_real: torch.Tensor, eos_id: int | None = None):
        self.input_ids, self.n_real, self.eos_id = input_ids, n_real, eos_id
        # full blocks need no attention mask: without one the model takes the plain causal path
        self.padded = bool((n_real < input_ids.shape[1]).any()) if len(n_real) else False

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return block_item(self.input_ids[i], int(self.n_real[i]), self.eos_id, self.padded)

    @property
    def num_tokens(self) -> int:
        return int(self.n_real.sum())


# ---------------------------------------------------------------- blocks from token shards
def seeded_order(n: int, seed: int) -> np.ndarray:
    """`random.Random(seed).shuffle(list(range(n)))` as int64, without a list of n Python ints.

    The same draws as the in-memory path's shuffles, so both give the same order.
    """
    order = array("q", range(n))
    random.Random(seed).shuffle(order)
    return np.frombuffer(order, dtype=np.int64)


class PackedShards(Dataset):
    """`pack` + `PackedDataset` over memory-mapped token shards: the same blocks, read on demand.

    `docs` lists the documents (ids in `corpus`, a `TokenShards`) in the order the
    in-memory path would hold them; they are shuffled with `shuffle_seed`, joined with
    EOS and cut into `seq_len` blocks exactly as `pack` does. Only where each block
    starts (document and offset) is kept in memory, plus the document order; a block's
    tokens are read from the map when it is asked for, so each data-parallel rank reads
    only the blocks its sampler gives it.
    """

    _CHUNK = 1 << 20   # documents whose lengths are read at a time

    def __init__(self, corpus, docs: np.ndarray, seq_len: int, eos_id: int, *,
                 shuffle_seed: int | None = None, keep_remainder: bool = False, pad_id: int = 0,
                 separate_eos: int | None = None):
        docs = np.asarray(docs, dtype=np.int64)
        if shuffle_seed is not None:
            docs = docs[seeded_order(len(docs), shuffle_seed)]
        self.corpus, self.seq_len, self.eos, self.pad_id = corpus, seq_len, eos_id, pad_id
        self.docs = docs.astype(np.int32) if corpus.num_docs < 2**31 else docs
        self.eos_id = separate_eos  # the `PackedDataset` meaning: keep documents apart
        self.start_doc, self.start_off, total = self._block_starts()
        n_full = total // seq_len
        self.rest = total - n_full * seq_len if keep_remainder else 0
        n_blocks = n_full + (1 if self.rest else 0)
        self.start_doc, self.start_off = self.start_doc[:n_blocks], self.start_off[:n_blocks]
        self.padded = bool(self.rest)

    def _block_starts(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(position in `docs`, offset in that document) where each block starts; total tokens.

        Two passes over the lengths (the index is memory-mapped): the first counts the
        blocks, so the second fills arrays of 8 bytes per block without growing lists.
        """
        L, chunks = self.seq_len, range(0, len(self.docs), self._CHUNK)

        def lengths(c0: int) -> np.ndarray:   # of each document with its EOS
            return self.corpus.lengths(self.docs[c0:c0 + self._CHUNK]) + 1

        total = sum(int(lengths(c0).sum()) for c0 in chunks)
        n = -(-total // L)
        where = np.zeros(n, dtype=np.int32 if len(self.docs) < 2**31 else np.int64)
        offset = np.zeros(n, dtype=np.int32)   # < the length of one document
        carry = k = 0
        for c0 in chunks:
            lens = lengths(c0)
            ends = carry + np.cumsum(lens)
            starts = np.arange(-(-carry // L), -(-int(ends[-1]) // L), dtype=np.int64) * L
            j = np.searchsorted(ends, starts, side="right")
            where[k:k + len(j)] = c0 + j
            offset[k:k + len(j)] = starts - (ends[j] - lens[j])
            carry, k = int(ends[-1]), k + len(j)
        return where, offset, total

    def __len__(self) -> int:
        return len(self.start_doc)

    def n_real(self, i: int) -> int:
        return self.rest if (self.rest and i == len(self) - 1) else self.seq_len

    def block(self, i: int) -> torch.Tensor:
        """The token ids of block i (int64; a short last block is padded with `pad_id`)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        need, out = self.n_real(i), np.full(self.seq_len, self.pad_id, dtype=np.int64)
        pos, off, filled = int(self.start_doc[i]), int(self.start_off[i]), 0
        while filled < need:
            toks = self.corpus.tokens(int(self.docs[pos]))
            take = min(len(toks) - off, need - filled)
            if take > 0:
                out[filled:filled + take] = toks[off:off + take]
                filled += take
            if filled < need:   # this document's EOS
                out[filled] = self.eos
                filled += 1
            pos, off = pos + 1, 0
        return torch.from_numpy(out)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return block_item(self.block(i), self.n_real(i), self.eos_id, self.padded)

    @property
    def num_tokens(self) -> int:
        return len(self) * self.seq_len - (self.seq_len - self.rest if self.rest else 0)
