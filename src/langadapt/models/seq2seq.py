"""NLLB / M2M100 language-code handling shared by training and generation.

Real NLLB tokenizers put the source code in front (`src_lang`); a generic fast
tokenizer with language-code special tokens (as `model tiny --arch m2m100` makes)
gets the same layout by hand: `[src_code] tokens </s>`, target `[tgt_code] tokens </s>`,
and generation forces the target code as the first decoder token.
"""

from __future__ import annotations

from langadapt.errors import ConfigError


def lang_token_id(tok, code: str) -> int:
    """Id of a language-code token such as `khk_Cyrl`; a clear error when it is missing."""
    tid = tok.convert_tokens_to_ids(code)
    if tid is None or tid == tok.unk_token_id:
        raise ConfigError(f"the tokenizer has no language-code token '{code}'", key="lang")
    return tid


def encode_with_lang(tok, text: str, code: str, max_length: int | None = None) -> list[int]:
    """Token ids of `text` laid out as NLLB does: `[code] tokens </s>`."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if max_length is not None:
        ids = ids[: max(0, max_length - 2)]
    return [lang_token_id(tok, code), *ids, tok.eos_token_id]
