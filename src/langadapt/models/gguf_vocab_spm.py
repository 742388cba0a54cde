"""GGUF vocabulary of a SentencePiece-style BPE tokenizer (Gemma 3): GGUF model `llama`.

llama.cpp's SentencePiece tokenizer has no merge list: it repeatedly joins the adjacent pair
whose concatenation is a vocabulary token with the highest score (ties: leftmost). HF BPE
joins the listed pair of lowest merge rank. The two agree when

* a token's score falls with the rank of the first merge that produces it (here
  `-rank - 1`), so merges keep their order, appended ones (an extended tokenizer) last;
* every split of a token into two vocabulary tokens is a listed merge of the same rank
  band (Gemma's own merges list them all; `tokenizer.extend` appends them for new tokens);
  `summary["unlisted_splits"]` counts tokens where that fails, which llama.cpp may reach
  where HF does not.

Tokens no merge produces (characters, bytes, specials) never arise from a pair, so their
score only has to stay out of the way.
"""

from __future__ import annotations

import re

from langadapt.errors import ConfigError
from langadapt.models.gguf_vocab_ids import id_table

SPACE = "\u2581"
_BYTE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
# Scores of tokens no merge produces, as llama.cpp's own converter writes them for Gemma.
_SPECIAL_SCORE = -1000.0
_PLAIN_SCORE = 0.0
# A longer token no merge produces: HF never forms it, so llama.cpp should join it last (if
# ever: only an unlisted split, counted in the summary, can form it).
_UNMERGED_SCORE = -1e9


def space_prefix(spec: dict) -> bool:
    """Whether the normalizer puts `▁` before the text (Llama 2 style) rather than leaving it (Gemma 3).

    Raises:
        ConfigError: a normalizer or pre-tokenizer llama.cpp's SentencePiece tokenizer lacks.
    """
    norm = spec.get("normalizer") or {}
    steps = norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm]
    kinds = [(s.get("type"), s.get("prepend") or (s.get("pattern") or {}).get("String"), s.get("content"))
             for s in steps]
    replace = ("Replace", " ", SPACE)
    if kinds == [replace]:
        prefix = False
    elif kinds == [("Prepend", SPACE, None), replace]:
        prefix = True
    else:
        raise ConfigError(f"SentencePiece-style normalizer {kinds} has no llama.cpp equivalent (expected "
                          "Replace(' ', '\u2581'), optionally after Prepend('\u2581'))", key="tokenizer")
    pre = spec.get("pre_tokenizer")
    # Gemma's Split on " " runs after the normalizer has replaced every space: it never splits.
    if pre is not None and not (pre.get("type") == "Split" and pre.get("pattern") == {"String": " "}):
        raise ConfigError(f"pre-tokenizer {pre.get('type')} before SentencePiece-style BPE has no "
                          "llama.cpp equivalent", key="tokenizer")
    return prefix


def merge_scores(spec: dict) -> tuple[dict[str, float], int]:
    """Score of each token a merge produces (`-rank - 1` of its first merge); and how many
    merge-produced tokens can also be split into two vocabulary tokens by an unlisted pair."""
    scores: dict[str, float] = {}
    listed: set[tuple[str, str]] = set()
    for rank, m in enumerate(spec["model"]["merges"]):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        listed.add((a, b))
        scores.setdefault(a + b, -float(rank) - 1.0)
    vocab = spec["model"]["vocab"]
    added = {t["content"] for t in spec.get("added_tokens", [])}
    unlisted = 0
    for token in vocab:
        if len(token) > 1 and token not in added and not _BYTE.match(token):
            splits = ((token[:k], token[k:]) for k in range(1, len(token)))
            if any(a in vocab and b in vocab and (a, b) not in listed for a, b in splits):
                unlisted += 1
    return scores, unlisted


def add_spm_vocab(writer, spec: dict, n_vocab: int | None) -> dict:
    """Write tokens, scores and token types (model `llama`, pre `default`); return the summary."""
    from gguf import TokenType

    prefix = space_prefix(spec)
    missing = [f"<0x{b:02X}>" for b in range(256) if f"<0x{b:02X}>" not in spec["model"]["vocab"]]
    if missing:
        # llama.cpp looks every byte token up without a check (it aborts the process)
        raise ConfigError(f"the vocabulary lacks {len(missing)} of the 256 byte-fallback tokens "
                          f"(e.g. {', '.join(missing[:3])}), which llama.cpp needs", key="tokenizer")
    table, added, dropped = id_table(spec, n_vocab)
    scores, unlisted = merge_scores(spec)
    tokens, token_scores, types, pads = [], [], [], 0
    for i, text in enumerate(table):
        if text is None:
            tokens.append(f"[PAD{i}]")
            token_scores.append(_SPECIAL_SCORE)
            types.append(TokenType.UNUSED)
            pads += 1
            continue
        if i in added:
            kind = TokenType.CONTROL if added[i]["special"] else TokenType.USER_DEFINED
            # llama.cpp prints a user-defined token's text as it is (no `▁` -> space), and
            # finds it in the raw text, where spaces are still spaces.
            text = text.replace(SPACE, " ") if kind == TokenType.USER_DEFINED else text
            token_scores.append(_SPECIAL_SCORE)
        elif _BYTE.match(text):
            kind = TokenType.BYTE
            token_scores.append(_PLAIN_SCORE)
        else:
            kind = TokenType.NORMAL
            token_scores.append(scores.get(text, _PLAIN_SCORE if len(text) == 1 else _UNMERGED_SCORE))
        tokens.append(text)
        types.append(kind)
    unk = spec["model"].get("unk_token")
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(token_scores)
    writer.add_token_types([int(t) for t in types])
    writer.add_add_space_prefix(prefix)
    return {"model": "llama", "pre": "default", "tokens": len(tokens), "merges": len(spec["model"]["merges"]),
            "padding": pads, "dropped": dropped, "add_space_prefix": prefix, "unk": unk,
            "unlisted_splits": unlisted}
