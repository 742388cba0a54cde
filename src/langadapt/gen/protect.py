"""Shield spans a translator must not touch: code, URLs, placeholders (and numbers, if asked).

`protect` swaps each span for a marker `⟦n⟧` before the text is sent; `restore` puts the
spans back and names the markers the answer lost or repeated, so a damaged answer is
rejected rather than silently broken. Numbers are not masked by default (a number's
grammar attaches to it in most languages, so the translator should see it); the
`numbers` gate checks that each one comes back instead. `markdown_signs` gives the
line-leading markdown structure that the `markdown` gate compares.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

# Order matters: a fenced block may hold URLs and placeholders, and is taken whole first.
PATTERNS: dict[str, re.Pattern] = {
    "code": re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]+`", re.S),
    "url": re.compile(r"\b(?:https?|ftp)://[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]"
                      r"|\bwww\.[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]"),
    "placeholder": re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[A-Za-z_][\w.]*\}|\{\d*\}"
                              r"|%\(\w+\)[sdifr]|%[sdif]|\$\{\w+\}"),
    "number": re.compile(r"\d+(?:[.,:/]\d+)*"),
}
MARKER = re.compile(r"⟦(\d+)⟧")
_NUMBER = PATTERNS["number"]
_MD_LINE = re.compile(r"^[ \t]*(#{1,6}(?=\s)|[-*+](?=\s)|\d+[.)](?=\s)|>|\|)", re.M)


def protect(text: str, kinds: Sequence[str]) -> tuple[str, list[str]]:
    """`text` with the spans of `kinds` replaced by `⟦0⟧`, `⟦1⟧`…, and the spans in order."""
    spans: list[str] = []

    def swap(m: re.Match) -> str:
        spans.append(m.group(0))
        return f"⟦{len(spans) - 1}⟧"

    for kind in PATTERNS:
        if kind in kinds:
            # split on markers already placed so no pattern reaches inside one
            parts = re.split(r"(⟦\d+⟧)", text)
            text = "".join(p if MARKER.fullmatch(p) else PATTERNS[kind].sub(swap, p) for p in parts)
    # renumber in reading order so identical texts always give identical requests
    order = [int(m.group(1)) for m in MARKER.finditer(text)]
    remap = {old: new for new, old in enumerate(order)}
    return MARKER.sub(lambda m: f"⟦{remap[int(m.group(1))]}⟧", text), [spans[i] for i in order]


def restore(answer: str, spans: Sequence[str]) -> tuple[str, list[int]]:
    """Put `spans` back into `answer`; return it and the markers missing or repeated there."""
    seen = Counter(int(m.group(1)) for m in MARKER.finditer(answer))
    bad = sorted(i for i in range(len(spans)) if seen.get(i, 0) != 1)
    bad += sorted(i for i in seen if i >= len(spans))
    text = MARKER.sub(lambda m: spans[int(m.group(1))] if int(m.group(1)) < len(spans) else m.group(0),
                      answer)
    return text, bad


# A number as written: space-grouped thousands ("12 500", also no-break and thin spaces, as
# Mongolian and most of Europe write them), else digits with inner . , : / separators.
_WRITTEN_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,:/]\d+)*")


def numbers(text: str) -> Counter:
    """Multiset of the numbers written in `text`, each as its digits only.

    Separators are dropped, so a translation may write a number its language's way:
    "12,500" = "12 500" = "12500", "3.5" = "3,5". (Only the digits are compared: a
    translator that moves a decimal point is not caught.)
    """
    return Counter(re.sub(r"\D", "", m) for m in _WRITTEN_NUMBER.findall(text))


def missing_numbers(source: str, answer: str) -> list[str]:
    """Numbers of `source` (as digits) that `answer` does not carry, as often as the source has them."""
    return sorted((numbers(source) - numbers(answer)).elements())


def markdown_signs(text: str) -> list[str]:
    """Line-leading markdown signs in order (headings, bullets, numbered items, quotes, tables)."""
    out = []
    for m in _MD_LINE.finditer(text):
        sign = m.group(1)
        out.append("1." if sign[0].isdigit() else sign)
    return out + ["**"] * text.count("**")
