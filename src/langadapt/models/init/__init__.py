"""Registry of initialisation methods for the rows of new tokens (input embeddings and head).

A method is one small registered class. It gets an `InitContext` (the new tokens with
their decomposition under the base tokenizer, the seed, the extended tokenizer) and
returns, for one weight matrix at a time, the rows of the new tokens:

    @register_init
    class MyInit(InitMethod):
        name = "mine"
        def rows(self, weight, role):   # weight: [rows, dim] of the base model
            return weight[: self.ctx.n_base].mean(0).expand(len(self.ctx.new_tokens), -1)

`prepare()` runs once before the matrices grow (for work shared by the input embeddings
and an untied head, such as training auxiliary vectors, or scoring text with the base
model in `ctx.model`). A method whose `wants_own_head` is true gets a tied head untied
first (a copy of the embeddings), so its output rows can differ from its input rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from langadapt.config import StrictModel, validate
from langadapt.registry import Registry

# Modules that register methods; imported on first lookup.
INIT_MODULES = ("langadapt.models.init.basic", "langadapt.models.init.similarity",
                "langadapt.models.init.calibrated")


@dataclass(frozen=True)
class NewToken:
    """One line of `new_tokens.jsonl`: the new id, its token string, its text, its base ids."""

    id: int
    token: str
    text: str
    base_ids: tuple[int, ...]


@dataclass
class InitContext:
    """What a method may use. `n_base` rows of every matrix belong to base tokens."""

    new_tokens: list[NewToken]
    n_base: int
    seed: int = 0
    initializer_range: float = 0.02
    extended_tokenizer: Any = None     # a loaded tokenizer (needed by corpus-based methods)
    base_tokenizer: Any = None
    model: Any = None                  # the base model, before resizing (for model-based methods)
    extra: dict = field(default_factory=dict)

    def generator(self, role: str) -> torch.Generator:
        """A generator seeded by the run seed and the matrix role, so input and head differ."""
        return torch.Generator().manual_seed(self.seed * 1000 + (0 if role == "input" else 1))


class NoOptions(StrictModel):
    """A method without options."""


class InitMethod:
    name: ClassVar[str]
    Options: ClassVar[type[StrictModel]] = NoOptions

    def __init__(self, opts: StrictModel, ctx: InitContext):
        self.opts, self.ctx = opts, ctx

    @property
    def wants_own_head(self) -> bool:
        """True when the output rows must differ from the input rows (a tied head is untied)."""
        return False

    def prepare(self) -> dict:
        """One-off work before the matrices grow; returns facts for `resize.json`."""
        return {}

    def rows(self, weight: torch.Tensor, role: str) -> torch.Tensor:  # pragma: no cover
        """The `[len(new_tokens), dim]` rows for `weight` (`role` is `input` or `output`)."""
        raise NotImplementedError


METHODS: Registry[type[InitMethod]] = Registry("init method", key="init", modules=INIT_MODULES)


def register_init(cls: type[InitMethod]) -> type[InitMethod]:
    """Class decorator: register an init method under its `name`."""
    return METHODS.add(cls.name, cls)


def init_methods() -> dict[str, type[InitMethod]]:
    return METHODS.as_dict()


def validate_init(name: str, options: dict | None = None) -> tuple[type[InitMethod], StrictModel]:
    """The method class and its validated options; unknown methods or keys are ConfigErrors."""
    cls = METHODS.get(name)
    return cls, validate(cls.Options, options or {}, file="init options")


def make_init(name: str, ctx: InitContext, options: dict | None = None) -> InitMethod:
    """Build a registered method with validated options."""
    cls, opts = validate_init(name, options)
    return cls(opts, ctx)
