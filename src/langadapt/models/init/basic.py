"""The simple methods: `fvt` (subword mean), `mean` (+ noise) and `random` (the control)."""

from __future__ import annotations

from typing import Literal

import torch

from langadapt.config import StrictModel
from langadapt.models.init import InitMethod, register_init


def decomposition_mean(weight: torch.Tensor, base_ids: tuple[int, ...],
                       fallback: torch.Tensor) -> torch.Tensor:
    """Mean of the rows of a token's base decomposition (`fallback` when it has none)."""
    if not base_ids:
        return fallback
    return weight[list(base_ids)].float().mean(0)


@register_init
class FVT(InitMethod):
    """Fast Vocabulary Transfer: each new row is the mean of its base subwords' rows."""

    name = "fvt"

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:
        fallback = weight[: self.ctx.n_base].float().mean(0)
        out = [decomposition_mean(weight, t.base_ids, fallback) for t in self.ctx.new_tokens]
        return torch.stack(out).to(weight.dtype)


@register_init
class Mean(InitMethod):
    """Mean of all base rows plus small seeded Gaussian noise (scaled by the per-dimension std)."""

    name = "mean"

    class Options(StrictModel):
        noise: float = 0.01    # noise std as a fraction of the base rows' per-dimension std

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:
        base = weight[: self.ctx.n_base].float()
        mean, std = base.mean(0), base.std(0)
        n = len(self.ctx.new_tokens)
        noise = torch.randn(n, base.shape[1], generator=self.ctx.generator(role))
        return (mean + self.opts.noise * std * noise).to(weight.dtype)


def gaussian_like(base: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` rows drawn from N(mean, covariance) of the rows of `base` (float32).

    The full covariance, not per-dimension stds: real embedding matrices are strongly
    anisotropic, and per-dimension draws give a hidden state's logits over the new rows
    a far wider spread than over the old ones (SmolLM2: 4.8 against 2.9), so random
    new rows would take most of the next-token mass.
    """
    mean = base.mean(0)
    cov = torch.cov(base.T.double()).reshape(base.shape[1], base.shape[1])
    # A jitter proportional to the scale keeps Cholesky defined for rank-deficient
    # covariances and rows(s * W) == s * rows(W).
    jitter = 1e-6 * cov.diagonal().mean().clamp_min(1e-30)
    chol = torch.linalg.cholesky(cov + jitter * torch.eye(cov.shape[0], dtype=cov.dtype))
    z = torch.randn(n, base.shape[1], generator=generator, dtype=torch.float64)
    return (mean.double() + z @ chol.T).float()


@register_init
class Random(InitMethod):
    """The control: seeded random rows drawn at the scale of the matrix's own base rows.

    `scale=base` (default) draws from a Gaussian with the mean and covariance of the base
    rows, so a new row looks like an arbitrary old row whatever the model's scale
    (Gemma's embeddings, multiplied by sqrt(hidden) in the forward pass, are far from
    `initializer_range` and share a common offset). `scale=initializer_range` is the
    library default (`resize_token_embeddings(mean_resizing=False)`): N(0,
    initializer_range), which on real checkpoints gives new rows logits near 0, far from
    where real tokens sit. Both are written explicitly so that ids already inside a
    padded matrix are re-drawn too.
    """

    name = "random"

    class Options(StrictModel):
        scale: Literal["base", "initializer_range"] = "base"

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:
        n, gen = len(self.ctx.new_tokens), self.ctx.generator(role)
        if self.opts.scale == "initializer_range":
            out = torch.randn(n, weight.shape[1], generator=gen)
            return (out * self.ctx.initializer_range).to(weight.dtype)
        return gaussian_like(weight[: self.ctx.n_base].float(), n, gen).to(weight.dtype)
