"""Token strings by id for a GGUF vocabulary: holes, added tokens, the embedding matrix's size."""

from __future__ import annotations

from langadapt.errors import DataError


def id_table(spec: dict, n_vocab: int | None) -> tuple[list[str | None], dict[int, dict], list[str]]:
    """Token strings by id (None for holes), the added-token records by id, and the added
    tokens left out because their ids lie past the embedding matrix (Gemma 3's image token)."""
    vocab = spec["model"]["vocab"]
    added = {t["id"]: t for t in spec.get("added_tokens", [])}
    size = max([*vocab.values(), *added, -1]) + 1
    dropped = []
    if n_vocab is not None:
        beyond = [i for i in vocab.values() if i >= n_vocab]
        if beyond:
            raise DataError(f"the tokenizer's vocabulary has {size} ids but the model's embedding matrix "
                            f"only {n_vocab} rows", file="tokenizer.json")
        dropped = [added.pop(i)["content"] for i in sorted(added) if i >= n_vocab]
        size = n_vocab
    tokens: list[str | None] = [None] * size
    for text, i in vocab.items():
        tokens[i] = text
    for i, t in added.items():
        tokens[i] = t["content"]
    return tokens, added, dropped
