"""Which letters belong to a writing system, by its ISO 15924 code (the `Cyrl` of `khk_Cyrl`).

Unicode's Script property decides (the `regex` module's `\\p{Script=…}`, which takes the
ISO 15924 codes as aliases), so every script Unicode knows works without a table of our own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import regex

# ISO 15924 codes that are not Unicode script aliases: both ways of writing Chinese are Han.
_ALIASES = {"Hans": "Hani", "Hant": "Hani"}


@functools.lru_cache(maxsize=64)
def script_pattern(codes: tuple[str, ...]) -> regex.Pattern | None:
    """One character of any of the scripts `codes`, or None when Unicode knows none of them."""
    known = []
    for code in codes:
        name = _ALIASES.get(code, code)
        try:
            regex.compile(rf"\p{{Script={name}}}")
        except regex.error:
            continue
        known.append(rf"\p{{Script={name}}}")
    return regex.compile(f"[{''.join(known)}]") if known else None


def count_in_scripts(text: str, codes: Iterable[str]) -> int:
    """How many characters of `text` are in one of the scripts `codes` (0 for unknown scripts)."""
    pattern = script_pattern(tuple(codes))
    return len(pattern.findall(text)) if pattern else 0
