"""Text normalisation: small named steps, each switchable, each counting what it changed.

Order: mojibake (ftfy) -> NFC -> markup -> control/zero-width -> URLs/e-mails/phones
-> homoglyphs -> whitespace. `Normalize` is the datatrove step; it records the
characters each fix changed in `metadata["fixes"]` and in the step's stats
(`changed_<fix>` documents, `chars_<fix>` characters).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

from datatrove.pipeline.base import PipelineStep

from langadapt.data.homoglyph import HomoglyphRepair
from langadapt.data.options import NormalizeOptions, PiiMode
from langadapt.languages import LanguageProfile

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.S)
_BLOCK = re.compile(r"<(?:script|style)\b.*?</(?:script|style)>", re.S | re.I)
_BREAK = re.compile(r"</?(?:p|br|div|li|tr|h[1-6]|ul|ol|table|section|article)\b[^<>]*>", re.I)
_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#\d{1,6}|#x[0-9A-Fa-f]{1,6});")
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f]"
)
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
# International (+976 ...) or bracketed area code; bare digit groups are too often years or sums.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s-]?(?:\(\d{1,5}\)[\s-]?)?|\(\d{2,5}\)[\s-]?)\d{2,4}(?:[\s-]?\d{2,4}){1,3}\b"
)
_MOJIBAKE_HINT = re.compile(r"[ÐÑÃÂâ]|Р[ЎЁЂ-џ°±І-ї]|С[ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏ]")


def _changed(a: str, b: str) -> int:
    if a == b:
        return 0
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b))
    return abs(len(a) - len(b)) or 1


def fix_mojibake(text: str) -> str:
    if not _MOJIBAKE_HINT.search(text):
        return text
    import ftfy

    return ftfy.fix_encoding(text)


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def strip_markup(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    text = _BLOCK.sub(" ", text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def whitespace(text: str) -> str:
    if "\n" not in text and "\r" not in text:  # one line: the common case
        return _SPACES.sub(" ", text).strip()
    lines = (
        _SPACES.sub(" ", ln).strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    )
    out = "\n".join(ln for ln in lines if ln)
    return out


def _pii(pattern: re.Pattern, mask: str, mode: PiiMode) -> Callable[[str], str] | None:
    if mode == "keep":
        return None
    repl = mask if mode == "mask" else ""
    return lambda text: pattern.sub(repl, text)


def build_steps(opts: NormalizeOptions, profile: LanguageProfile) -> list[tuple[str, Callable[[str], str]]]:
    """The enabled steps as (name, function), in order."""
    steps: list[tuple[str, Callable[[str], str] | None]] = [
        ("mojibake", fix_mojibake if opts.mojibake else None),
        ("nfc", nfc if opts.nfc else None),
        ("markup", strip_markup if opts.markup else None),
    ]
    if opts.control:
        keep = set(profile.keep_format_chars)
        steps.append(
            ("control", lambda t: _CONTROL.sub(lambda m: m.group(0) if m.group(0) in keep else "", t))
        )
    steps += [
        ("urls", _pii(_URL, "<URL>", opts.urls)),
        ("emails", _pii(_EMAIL, "<EMAIL>", opts.emails)),
        ("phones", _pii(_PHONE, "<PHONE>", opts.phones)),
    ]
    if opts.homoglyphs and profile.homoglyphs:
        repair = HomoglyphRepair(profile.alphabet, profile.homoglyphs, profile.harmony)
        steps.append(("homoglyphs", repair))
    steps.append(("whitespace", whitespace if opts.whitespace else None))
    return [(n, f) for n, f in steps if f is not None]


def normalize(text: str, steps: list[tuple[str, Callable]]) -> tuple[str, dict[str, int]]:
    """Apply steps; return the text and {step: characters changed} for steps that changed it."""
    fixes: dict[str, int] = {}
    for name, fn in steps:
        out = fn(text)
        if isinstance(out, tuple):  # homoglyph repair counts its own changes
            out, n = out
        else:
            n = _changed(text, out)
        if n:
            fixes[name] = n
        text = out
    return text, fixes


class Normalize(PipelineStep):
    """Normalise each document; drop it if it holds undecodable bytes (U+FFFD, reason
    `undecodable`) or if nothing is left (reason `empty`)."""

    name = "normalize"
    type = "✂️ - FORMAT"

    def __init__(self, opts: NormalizeOptions, profile: LanguageProfile):
        super().__init__()
        self.opts, self.profile = opts, profile
        self._steps = None

    def run(self, data, rank: int = 0, world_size: int = 1):
        steps = self._steps = self._steps or build_steps(self.opts, self.profile)
        for doc in data:
            self.stat_update("total")
            if "\ufffd" in doc.text:
                # bytes the reader could not decode (counted there): the text is damaged, and
                # judging it first by language would hide why it was dropped
                self.stat_update("dropped", "dropped_undecodable")
                continue
            doc.text, fixes = normalize(doc.text, steps)
            if fixes:
                doc.metadata["fixes"] = fixes
                for name, n in fixes.items():
                    self.stat_update(f"changed_{name}")
                    self.stat_update(f"chars_{name}", value=n, unit="char")
            if not doc.text:
                self.stat_update("dropped", "dropped_empty")
                yield from ()
                continue
            self.stat_update("forwarded")
            yield doc
