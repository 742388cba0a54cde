"""The new tokens of an extended vocabulary in the logit lens: which ids, and the mass on them.

`read_new_tokens` reads `--new-tokens` (the base vocabulary size, or the extension's
`new_tokens.jsonl`), `new_token_mask` turns it into a mask over the output rows, and
`mass_rows` writes `lens_new_token_mass` / `lens_base_new_token_mass` rows: per layer, the
next-token probability the lens puts on the new tokens (mean over scored positions).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from langadapt.errors import ConfigError
from langadapt.runs import ResultRow


def new_token_mask(new_tokens: int | list[int] | None, vocab: int) -> torch.Tensor | None:
    """A boolean mask over the output vocabulary: ids ≥ `new_tokens` (an int), or those listed."""
    if new_tokens is None:
        return None
    mask = torch.zeros(vocab, dtype=torch.bool)
    ids = range(new_tokens, vocab) if isinstance(new_tokens, int) else new_tokens
    if isinstance(new_tokens, int) and not 0 < new_tokens < vocab:
        raise ConfigError(f"new tokens from id {new_tokens}: the model's output has {vocab} rows, "
                          "so none would be new", key="new_tokens")
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ConfigError(f"new token id {bad[0]} is outside the model's {vocab} output rows "
                          "(new_tokens.jsonl of another tokenizer?)", key="new_tokens")
    mask[list(ids)] = True
    return mask


def read_new_tokens(spec: str) -> int | list[int]:
    """`--new-tokens`: an integer (the base vocabulary size) or new_tokens.jsonl (or its folder)."""
    if spec.strip().isdigit():
        return int(spec)
    path = Path(spec)
    path = path / "new_tokens.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise ConfigError(f"new tokens '{spec}': neither an integer nor a new_tokens.jsonl file "
                          "(or a tokenizer folder that holds one)", key="new_tokens")
    ids = [int(json.loads(line)["id"]) for line in path.read_text(encoding="utf-8").splitlines()
           if line.strip()]
    if not ids:
        raise ConfigError(f"{path} lists no new tokens", key="new_tokens")
    return ids


def mass_rows(loaded, acc: dict, metric: str, sig: dict, dataset, stack: str,
              base_name: str | None) -> list[ResultRow]:
    """One row per layer that scored positions: the mean probability on the new tokens."""
    rows = []
    for layer, a in acc.items():
        if a.new_n:
            extra = {"layer": layer, "stack": stack, **({"base": base_name} if base_name else {})}
            rows.append(ResultRow(metric=metric, value=a.new_mass / a.new_n, n=a.new_n, dataset=dataset,
                                  model=loaded.name, signature=sig, extra=extra))
    return rows
