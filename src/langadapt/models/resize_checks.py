"""Checks around a resize: function preservation, and that a tokenizer belongs to the model.

Function preservation is measured before anything is written: an extended model must
give the base tokenizer's ids the same logits as before (and the probability mass its
new rows take is reported); a trimmed model must give kept tokens the full model's
logits. The sidecar checks refuse a tokenizer edited from another base, whose ids would
point at other tokens' rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from langadapt.errors import DataError
from langadapt.models.init import NewToken
from langadapt.textio import iter_texts


def logits_of(model, ids: torch.Tensor) -> torch.Tensor:
    """Float32 CPU logits of `ids` (decoder fed the same ids for encoder-decoder models)."""
    ids = ids.to(model.device)
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            out = model(input_ids=ids, decoder_input_ids=ids)
        else:
            out = model(input_ids=ids)
    return out.logits.float().cpu()


def probe_ids(tok, texts: list[str], *, seq_len: int = 64, max_seqs: int = 4) -> torch.Tensor:
    """Token ids of `texts` (joined, no specials) cut into at most `max_seqs` rows of `seq_len`."""
    stream: list[int] = []
    for t in texts:
        stream += tok(t, add_special_tokens=False)["input_ids"]
        if len(stream) >= seq_len * max_seqs:
            break
    n = min(max_seqs, len(stream) // seq_len)
    if n == 0:
        if not stream:
            raise DataError("the function-preservation check text gives no tokens")
        return torch.tensor([stream[:seq_len]])
    return torch.tensor(stream[: n * seq_len]).view(n, seq_len)


def _nll(logits: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean next-token negative log-likelihood (nats) of `ids` under `logits`."""
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             ids[:, 1:].reshape(-1)).item()


@dataclass
class Check:
    max_abs_diff: float
    atol: float
    mass: float            # extended: mass on new tokens; trimmed: full model's mass on dropped ones
    nll_before: float
    nll_after: float
    tokens: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.atol

    def as_dict(self) -> dict:
        return {**self.__dict__, "passed": self.passed}


def check_extension(model, ids: torch.Tensor, new_ids: list[int], change, atol: float) -> tuple[Check, dict]:
    """Run `change()` (which extends `model`) between two forward passes over base-tokenizer `ids`."""
    before = logits_of(model, ids)
    facts = change()
    after = logits_of(model, ids)
    old = torch.ones(before.shape[-1], dtype=torch.bool)
    old[[i for i in new_ids if i < before.shape[-1]]] = False
    diff = (after[..., : before.shape[-1]][..., old] - before[..., old]).abs().max().item()
    mass = after.softmax(-1)[..., new_ids].sum(-1).mean().item()
    check = Check(diff, atol, mass, _nll(before, ids), _nll(after, ids), ids.numel())
    return check, facts


def check_trim(model, new_ids: torch.Tensor, kept: list[int], change, atol: float) -> tuple[Check, dict]:
    """Compare the trimmed model on `new_ids` with the full model on the same tokens' old ids."""
    kept_t = torch.tensor(kept)
    old_ids = kept_t[new_ids]
    full = logits_of(model, old_ids)
    dropped = 1.0 - full.softmax(-1)[..., kept_t].sum(-1).mean().item()
    nll_full = _nll(full, old_ids)
    full = full[..., kept_t]
    facts = change()
    trimmed = logits_of(model, new_ids)
    diff = (trimmed - full).abs().max().item()
    check = Check(diff, atol, dropped, nll_full, _nll(trimmed, new_ids), new_ids.numel())
    return check, facts



# ------------------------------------------------------------------ the tokenizer belongs to the model
def validate_new_tokens(new_tokens: list[NewToken], n_base: int, n_ext: int, where: str) -> None:
    if not new_tokens:
        raise DataError("no new tokens listed", file=where)
    ids = [t.id for t in new_tokens]
    if min(ids) != n_base:
        raise DataError(f"new ids start at {min(ids)}, but the model's tokenizer has {n_base} ids: was "
                        "this tokenizer extended from this model's tokenizer?", file=where)
    if len(set(ids)) != len(ids):
        raise DataError("a new-token id is listed twice", file=where)
    bad = [t.id for t in new_tokens if not n_base <= t.id < n_ext]
    if bad:
        raise DataError(f"new ids must lie in {n_base}..{n_ext - 1} (after the base vocabulary), "
                        f"e.g. {bad[:3]}", file=where)
    bad = [t.id for t in new_tokens if any(not 0 <= b < n_base for b in t.base_ids)]
    if bad:
        raise DataError(f"base_ids outside the base vocabulary for new ids {bad[:3]}", file=where)


def check_same_tokens(base_tok, new_tok, pairs: list[tuple[int, int]], where: str, made: str) -> None:
    """Each (new id, old id) pair names the same token string in `new_tok` and in `base_tok`.

    A tokenizer edited from another base has the same sidecar format but its ids point
    at other tokens (or past this vocabulary), so the model's rows would be nonsense.
    """
    old_of = {i: t for t, i in base_tok.get_vocab().items()}
    new_of = {i: t for t, i in new_tok.get_vocab().items()}
    bad = [(new, old) for new, old in pairs if old not in old_of or new_of.get(new) != old_of[old]]
    if not bad:
        return
    shown = "; ".join(f"new id {new} is {new_of.get(new)!r}, old id {old} is "
                      + (f"{old_of[old]!r}" if old in old_of else "past the base's vocabulary")
                      for new, old in bad[:3])
    raise DataError(f"vocabulary mismatch: {len(bad)} of {len(pairs)} ids name other tokens than "
                    f"this model's tokenizer ({len(base_tok)} ids) does, e.g. {shown}; was this "
                    f"tokenizer {made} from this model's tokenizer?", file=where)


def check_texts(check_text: str | Path | None, fallback: list[str]) -> list[str]:
    return list(iter_texts([check_text], limit=64)) if check_text else fallback
