"""Options of a tiny model (`TinyOptions`): one definition for `make_tiny`, the recipe stage
`model.tiny` and the `model tiny` command-line flags.

Kept apart from `langadapt.models.tiny` so that building the command line imports no torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from langadapt.config import StrictModel
from langadapt.models import ARCHS


class TinyOptions(StrictModel):
    """A small random model of a real architecture, sized by these fields."""

    arch: Literal[ARCHS] = Field("qwen3", description="architecture of the model")
    tokenizer: str = Field(description="tokenizer folder (or hub id); the vocabulary matches it")
    layers: int = Field(2, ge=1, description="decoder layers (and encoder layers for m2m100)")
    hidden: int = Field(64, ge=1, description="hidden size")
    heads: int = Field(4, ge=1, description="attention heads")
    kv_heads: int = Field(2, ge=1, description="key/value heads")
    intermediate: int = Field(128, ge=1, description="MLP size")
    max_positions: int = Field(2048, ge=1, description="longest sequence, in tokens")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="seed of the random weights (default: "
                                                                   "the recipe's seed; 0 outside a recipe)")

    @model_validator(mode="after")
    def _divisible(self):
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError("hidden must be divisible by heads, and heads by kv_heads")
        return self
