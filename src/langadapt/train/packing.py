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
        ids = self.input_ids[i]
        if self.eos_id is not None:
            labels = ids.clone()
            labels[int(self.n_real[i]):] = -100
            return {"input_ids": ids, "labels": labels, "position_ids": document_positions(ids, self.eos_id)}
        if not self.padded:
            return {"input_ids": ids, "labels": ids}
        n = int(self.n_real[i])
        mask = torch.zeros_like(ids)
        mask[:n] = 1
        labels = ids.clone()
        labels[n:] = -100
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    @property
    def num_tokens(self) -> int:
        return int(self.n_real.sum())
