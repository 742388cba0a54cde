"""Detect a file's text encoding and decode it, counting what could not be decoded.

UTF-8 (with or without BOM) and UTF-16/32 with BOM are recognised from the bytes.
Files that are not valid UTF-8 are tried in the profile's legacy code pages
(cp1251, KOI8-R ... for Cyrillic). Cross-decoding Cyrillic code pages mostly
swaps upper and lower case, so the candidate with the most lower-case letters
wins (real prose is mostly lower case). Hand-written: charset-normalizer guesses
among all code pages and confuses cp1251 Mongolian with other Slavic pages.
"""

from __future__ import annotations

import codecs
from pathlib import Path

SAMPLE_BYTES = 1 << 20
ERROR_HANDLER = "langadapt_count"
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class _Counter:
    """Undecodable bytes seen in this process (the decoder's error handler adds to it)."""

    bytes = 0


def _count_and_replace(err: UnicodeDecodeError) -> tuple[str, int]:
    _Counter.bytes += err.end - err.start
    return "\ufffd", err.end


codecs.register_error(ERROR_HANDLER, _count_and_replace)


def undecodable_bytes() -> int:
    """Bytes replaced by U+FFFD so far in this process (read, then reset with `reset_count`)."""
    return _Counter.bytes


def reset_count() -> None:
    _Counter.bytes = 0


def _lower_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(c.islower() for c in letters) / len(letters) if letters else 0.0


def _utf8_valid(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        # a multi-byte character cut by the end of the sample is still UTF-8
        return e.start >= len(sample) - 3 and e.reason == "unexpected end of data"


def detect_bytes(sample: bytes, legacy: list[str] | tuple[str, ...] = ("cp1251", "koi8_r")) -> str:
    """The encoding of `sample` (the first bytes of a file)."""
    for bom, name in BOMS:
        if sample.startswith(bom):
            return name
    if _utf8_valid(sample):
        return "utf-8"
    # A few broken bytes in UTF-8 text stay UTF-8 (they are replaced and counted);
    # a legacy code page makes almost every non-ASCII byte invalid.
    non_ascii = sum(b >= 0x80 for b in sample)
    if sample.decode("utf-8", errors="replace").count("\ufffd") <= max(2, 0.01 * non_ascii):
        return "utf-8"
    best, best_score = "utf-8", -1.0
    for name in legacy:
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        score = _lower_ratio(text)
        if score > best_score:
            best, best_score = name, score
    if best_score < 0.5:
        # No code page gives prose-like text: most likely UTF-8 with a few broken bytes.
        return "utf-8"
    return best


def nul_bytes(sample: bytes) -> int:
    """NUL bytes in `sample` that text cannot hold: 0 for text and for UTF-16/32 with a BOM.

    More than a stray one or two mean a binary file (or UTF-16/32 without a BOM);
    git and grep call a file binary on the same evidence.
    """
    if any(sample.startswith(bom) for bom, _ in BOMS):
        return 0
    return sample.count(0)


def detect_file(path: str | Path, legacy: list[str] | tuple[str, ...] = ("cp1251", "koi8_r")) -> str:
    """Detect the encoding of a file from its first MiB."""
    with open(path, "rb") as f:
        return detect_bytes(f.read(SAMPLE_BYTES), legacy)
