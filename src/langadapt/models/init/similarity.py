"""`focus`: a FOCUS / WECHSEL-style similarity init that works offline.

1. Tokenize the target corpus with the *extended* tokenizer and train auxiliary static
   vectors for every token seen (`aux_vectors`, PPMI + SVD; FOCUS uses fastText).
2. For each new token with a vector, score every base token with a vector by cosine
   similarity and mix those base tokens' rows: `sparsemax` over all of them (FOCUS) or a
   softmax over the `top_k` nearest at `temperature` (WECHSEL: k=10, t=0.1).
3. New tokens too rare in the corpus to have a vector fall back to `fvt`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from langadapt.config import StrictModel
from langadapt.errors import ConfigError
from langadapt.models.init import InitMethod, register_init
from langadapt.models.init.aux_vectors import train_static_vectors
from langadapt.models.init.basic import decomposition_mean
from langadapt.textio import iter_texts

log = logging.getLogger(__name__)


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """Sparsemax over the last dimension (Martins & Astudillo 2016): a sparse softmax."""
    zs, _ = torch.sort(z, dim=-1, descending=True)
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cums = zs.cumsum(-1)
    support = (1 + k * zs) > cums
    k_z = support.sum(-1, keepdim=True)
    tau = (cums.gather(-1, k_z - 1) - 1) / k_z.to(z.dtype)
    return (z - tau).clamp_min(0)


def mix_weights(sims: torch.Tensor, weighting: str, top_k: int, temperature: float):
    """Per row of `sims`: (indices, weights) of the base tokens to mix; weights sum to 1."""
    if weighting == "sparsemax":
        w = sparsemax(sims)
        return [(torch.nonzero(r).flatten(), r[r > 0]) for r in w]
    vals, idx = sims.topk(min(top_k, sims.shape[1]), dim=1)
    w = torch.softmax(vals / temperature, dim=1)
    return list(zip(idx, w))


@register_init
class Focus(InitMethod):
    """Similarity-weighted mix of base rows, similarities from auxiliary target-corpus vectors."""

    name = "focus"

    class Options(StrictModel):
        corpus: list[str]            # target-language text files / folders (txt, jsonl)
        max_docs: int = 50000
        dim: int = 100               # auxiliary vector size
        window: int = 5
        min_count: int = 3
        weighting: str = "sparsemax"  # sparsemax (FOCUS) | softmax (WECHSEL top-k)
        top_k: int = 10
        temperature: float = 0.1

    def prepare(self) -> dict:
        o, ctx = self.opts, self.ctx
        if o.weighting not in ("sparsemax", "softmax"):
            raise ConfigError("weighting must be sparsemax or softmax", key="init_options.weighting")
        if ctx.extended_tokenizer is None:
            raise ConfigError("focus needs the extended tokenizer", key="tokenizer")
        texts = list(iter_texts([Path(p) for p in o.corpus], limit=o.max_docs))
        enc = ctx.extended_tokenizer(texts, add_special_tokens=False)["input_ids"]
        ids, vecs = train_static_vectors(enc, dim=o.dim, window=o.window, min_count=o.min_count,
                                         seed=ctx.seed)
        row_of = {int(t): i for i, t in enumerate(ids)}
        base_pos = [i for i, t in enumerate(ids.tolist()) if t < ctx.n_base]
        self.base_ids = ids[base_pos]
        have = [(k, row_of[t.id]) for k, t in enumerate(self.ctx.new_tokens) if t.id in row_of]
        self.mix: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if have and base_pos:
            sims = vecs[[r for _, r in have]] @ vecs[base_pos].T
            for (k, _), (idx, w) in zip(have, mix_weights(sims, o.weighting, o.top_k, o.temperature)):
                self.mix[k] = (self.base_ids[idx], w)
        support = [len(w) for _, w in self.mix.values()]
        facts = {"docs": len(texts), "aux_tokens": int(ids.numel()), "aux_dim": int(vecs.shape[1]),
                 "new_with_vector": len(self.mix), "new_fvt_fallback": len(ctx.new_tokens) - len(self.mix),
                 "mean_support": (sum(support) / len(support)) if support else 0.0}
        log.info("focus: %s", facts)
        return facts

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:
        fallback = weight[: self.ctx.n_base].float().mean(0)
        out = []
        for k, t in enumerate(self.ctx.new_tokens):
            if k in self.mix:
                ids, w = self.mix[k]
                out.append((w[:, None] * weight[ids].float()).sum(0))
            else:
                out.append(decomposition_mean(weight, t.base_ids, fallback))
        return torch.stack(out).to(weight.dtype)
