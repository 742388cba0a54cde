"""The one padding helper: ragged id lists to a rectangular batch and its attention mask.

Written by hand because the library paddings do not fit every caller: `tokenizer.pad`
needs a tokenizer and pads only its own fields, while evaluators also pad labels (with
-100) and encoder inputs of seq2seq models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad(seqs: Sequence[Sequence[int]], pad_id: int, *, left: bool = False,
        device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`(ids, mask)`, both `[len(seqs), longest]` long tensors; mask is 1 on real tokens.

    Args:
        seqs: token ids per row (an empty row is all padding).
        pad_id: the value of padded positions in `ids`.
        left: pad on the left (causal generation continues from the right edge).
        device: where the tensors go (default: CPU).
    """
    width = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if not len(s):
            continue
        span = slice(width - len(s), width) if left else slice(0, len(s))
        ids[i, span] = torch.as_tensor(list(s), dtype=torch.long)
        mask[i, span] = 1
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    return ids, mask
