"""Guarantees an edited tokenizer must meet before it is written; each check raises on failure.

Every check compares the edited tokenizer with its base and raises `DataError` with the
first few offending examples, so a bad extension or trim is never written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tokenizers import Tokenizer

from langadapt.errors import DataError

log = logging.getLogger(__name__)

CHAT_PROBE = [{"role": "system", "content": "You are helpful."},
              {"role": "user", "content": "Сайн байна уу? Hello!"},
              {"role": "assistant", "content": "Сайн. How can I help?"}]


def _fail(what: str, examples: list, name: str) -> None:
    if examples:
        shown = "; ".join(repr(e)[:120] for e in examples[:3])
        raise DataError(f"refusing to write: {what} ({len(examples)} cases, e.g. {shown})", file=name)


def check_old_ids(base: Tokenizer, new: Tokenizer, name: str, id_map: dict[int, int] | None = None) -> int:
    """Every base token (added ones included) keeps its id (or its mapped id); returns how many checked."""
    new_vocab = new.get_vocab(with_added_tokens=True)
    old_vocab = base.get_vocab(with_added_tokens=True)
    bad = []
    for tok, i in old_vocab.items():
        want = i if id_map is None else id_map.get(i)
        if want is not None and new_vocab.get(tok) != want:
            bad.append((tok, i, new_vocab.get(tok)))
    _fail("tokens changed id", bad, name)
    base_added = {t.content: t.special for t in base.get_added_tokens_decoder().values()}
    new_added = {t.content: t.special for t in new.get_added_tokens_decoder().values()}
    lost = [t for t, special in base_added.items() if new_added.get(t) != special
            and (id_map is None or new_vocab.get(t) is not None)]
    _fail("added/special tokens lost or changed", lost, name)
    return len(old_vocab)


def roundtrip_failures(tok: Tokenizer, texts: list[str]) -> list[int]:
    """Indices of texts where decode(encode(x)) != x (no special tokens added)."""
    encs = tok.encode_batch_fast(texts, add_special_tokens=False) if texts else []
    decoded = tok.decode_batch([e.ids for e in encs], skip_special_tokens=False) if texts else []
    return [i for i, (x, y) in enumerate(zip(texts, decoded)) if x != y]


def check_roundtrip(base: Tokenizer, new: Tokenizer, texts: list[str], name: str) -> dict:
    """decode(encode(x)) == x with the new tokenizer wherever it holds for the base one."""
    base_bad = set(roundtrip_failures(base, texts))
    new_bad = set(roundtrip_failures(new, texts))
    _fail("decode(encode(x)) != x", [texts[i] for i in sorted(new_bad - base_bad)], name)
    return {"texts": len(texts), "exact": len(texts) - len(new_bad), "base_exact": len(texts) - len(base_bad)}


def check_reachable(new: Tokenizer, items: list[tuple[int, str]], name: str) -> None:
    """Each new token's own text encodes to exactly that token."""
    encs = new.encode_batch_fast([t for _, t in items], add_special_tokens=False) if items else []
    bad = [(i, t, e.ids) for (i, t), e in zip(items, encs) if e.ids != [i]]
    _fail("new tokens not reachable from their own text", bad, name)


def render_chat(folder: str | Path) -> str | None:
    """The chat template rendered on a probe conversation (None when there is no template)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    if not getattr(tok, "chat_template", None):
        return None
    errors = []
    # Some templates refuse a system turn; the same probes run on base and result alike.
    for probe in (CHAT_PROBE, CHAT_PROBE[1:]):
        try:
            return tok.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
        except Exception as e:  # noqa: BLE001 - template code may raise anything
            errors.append(f"{e.__class__.__name__}: {e}")
    return "unrenderable: " + " | ".join(errors)


def check_loads(folder: Path, base_source: str, name: str) -> dict:
    """The folder loads with `tokenizers` and `transformers`, and the chat template renders as before."""
    try:
        Tokenizer.from_file(str(folder / "tokenizer.json"))
        rendered = render_chat(folder)
    except Exception as e:  # noqa: BLE001 - any loader failure means we must not write
        raise DataError(f"refusing to write: the result does not load ({e})", file=name) from None
    expected = render_chat(base_source) if base_source else rendered
    if rendered != expected:
        raise DataError("refusing to write: the chat template renders differently than the base's",
                        file=name)
    return {"loads": True, "chat_template": rendered is not None}
