"""CLI group `langadapt tokenizer`."""

from langadapt.cli._common import not_built


def register(sub) -> None:
    not_built(sub, "tokenizer", "train, extend, trim tokenizers and measure fertility", "see the project's issue tracker")
