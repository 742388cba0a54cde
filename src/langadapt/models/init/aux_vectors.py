"""Auxiliary static token vectors trained on the target corpus, for similarity-based init.

FOCUS and WECHSEL train fastText on the target corpus; neither fastText nor gensim is
a dependency here, so this trains the classic count-based equivalent by hand
(Levy & Goldberg 2014: truncated SVD of the positive PMI matrix, which matches
skip-gram with negative sampling in quality on small corpora). It is deterministic,
runs in seconds on CPU for a few MB of text, and needs only torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch

log = logging.getLogger(__name__)


def _cooccurrence(docs: list[list[int]], local: torch.Tensor, size: int, window: int) -> torch.Tensor:
    """Symmetric, distance-weighted (1/offset) co-occurrence counts as a sparse [size, size] matrix."""
    rows, cols, vals = [], [], []
    for doc in docs:
        idx = local[torch.tensor(doc, dtype=torch.long)]
        idx = idx[idx >= 0]      # drop rare tokens; their neighbours become adjacent (as word2vec does)
        for off in range(1, window + 1):
            if idx.numel() <= off:
                break
            a, b = idx[:-off], idx[off:]
            w = torch.full((a.numel(),), 1.0 / off)
            rows += [a, b]
            cols += [b, a]
            vals += [w, w]
    if not rows:
        return torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (size, size),
                                       check_invariants=False)
    ij = torch.stack([torch.cat(rows), torch.cat(cols)])
    return torch.sparse_coo_tensor(ij, torch.cat(vals), (size, size),
                                   check_invariants=False).coalesce()


def _ppmi(counts: torch.Tensor, alpha: float = 0.75) -> torch.Tensor:
    """Positive PMI with context-distribution smoothing (alpha), kept sparse."""
    ij, c = counts.indices(), counts.values()
    size = counts.shape[0]
    row = torch.zeros(size).index_add_(0, ij[0], c)
    col = torch.zeros(size).index_add_(0, ij[1], c) ** alpha
    col_p = col / col.sum()
    pmi = torch.log(c) - torch.log(row[ij[0]]) - torch.log(col_p[ij[1]])
    keep = pmi > 0
    return torch.sparse_coo_tensor(ij[:, keep], pmi[keep], counts.shape, check_invariants=False).coalesce()


def train_static_vectors(docs: Iterable[list[int]], *, dim: int = 100, window: int = 5,
                         min_count: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train unit-length static vectors for the token ids of `docs`.

    Returns `(ids, vectors)`: the token ids that occurred at least `min_count` times and
    their `[len(ids), dim']` vectors (`dim' <= dim` when the vocabulary is tiny).
    """
    docs = [d for d in docs if d]
    if not docs:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dim)
    flat = torch.tensor([t for d in docs for t in d], dtype=torch.long)
    freq = torch.bincount(flat)
    ids = torch.nonzero(freq >= min_count).flatten()
    local = torch.full((freq.numel(),), -1, dtype=torch.long)
    local[ids] = torch.arange(ids.numel())
    ppmi = _ppmi(_cooccurrence(docs, local, ids.numel(), window))
    q = min(dim, max(1, ids.numel() - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # svd_lowrank draws a random projection
        u, s, _ = torch.svd_lowrank(ppmi, q=q, niter=6)
    vecs = u * s.sqrt()
    vecs = vecs / vecs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    log.info("aux vectors: %d tokens, dim %d, %d non-zero PPMI cells", ids.numel(), q, ppmi._nnz())
    return ids, vecs
