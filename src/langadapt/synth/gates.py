"""Checks on each answer a server returns; the first failing check names the rejection.

Before the markers are restored: cut off by the length limit (`truncated`), stopped by a
content filter, a refusal (the API's `refusal` field or a refusal-shaped text), empty,
or a protected span lost or repeated (`lost_protected`). After: a copy of the source,
not in the target language (`langadapt.translate.language_checker`: script plus the
language-ID model of `langadapt.data.langid`), a length ratio out of range, an n-gram
loop (datatrove's Gopher repetition test with the target profile's thresholds and the
tokenizer of `langadapt.data.quality`), a lost number, or changed markdown structure.
"""

from __future__ import annotations

import logging
import re

from langadapt.errors import LangadaptError
from langadapt.gen.client import Answer
from langadapt.gen.options import ServerOptions
from langadapt.gen.protect import markdown_signs, missing_numbers, restore
from langadapt.thinking import strip_thinking

log = logging.getLogger(__name__)
MIN_RATIO_CHARS = 20      # length ratios of shorter sources are noise ("OK" -> "Тийм ээ")
MIN_LOOP_WORDS = 20       # a repeated 5-gram in fewer words is a phrase, not a loop
REASONS = ("truncated", "content_filter", "refusal", "empty", "lost_protected", "copied", "language",
           "length_ratio", "repetition", "lost_numbers", "markdown", "backtranslation")


def _norm(s: str) -> str:
    return " ".join(s.casefold().split())


class Gates:
    """All answer checks for one target language and one set of server options."""

    def __init__(self, opts: ServerOptions, tgt: str):
        from langadapt.translate import language_checker

        self.opts, self.g = opts, opts.gates
        self.refusals = [re.compile(p, re.I) for p in opts.refusal_patterns]
        self.in_language, self.langid_method = language_checker(tgt)
        self.repetition = self._repetition_filter(tgt) if self.g.repetition else None

    @staticmethod
    def _repetition_filter(tgt: str):
        from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter

        from langadapt.data.quality import RegexWordTokenizer
        from langadapt.languages import load_profile

        try:
            q = load_profile(tgt).quality
        except LangadaptError as e:
            log.info("no language profile for %s (%s): repetition uses datatrove's defaults", tgt, e)
            q = None
        dup = tuple(map(tuple, q.dup_n_grams)) if q and q.dup_n_grams else \
            ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.1))
        return GopherRepetitionFilter(dup_line_frac=None, dup_para_frac=None, dup_line_char_frac=None,
                                      dup_para_char_frac=None, top_n_grams=(), dup_n_grams=dup,
                                      language=RegexWordTokenizer(tgt))

    def refused(self, source: str, text: str) -> bool:
        """A refusal-shaped answer, unless the source itself opens that way ("Sorry, I …")."""
        return any(p.search(text) for p in self.refusals) and \
            not any(p.search(source) for p in self.refusals)

    def raw_text(self, answer: Answer, source: str = "") -> tuple[str, str | None]:
        """The answer's text (thinking removed) and the reason it cannot be used, if any."""
        text = strip_thinking(answer.text)
        if answer.finish_reason == "length":
            return text, "truncated"
        if answer.finish_reason == "content_filter":
            return text, "content_filter"
        if answer.refusal or self.refused(source, text):
            return text, "refusal"
        if not text:
            return text, "empty"
        return text, None

    def check(self, source: str, answer: Answer, spans: list[str]) -> tuple[str, str | None]:
        """The restored translation of `source` and the first failing check (None: accepted)."""
        text, reason = self.raw_text(answer, source)
        if reason:
            return text, reason
        text, bad = restore(text, spans)
        if bad:
            return text, "lost_protected"
        return text, self.judge(source, text)

    def judge(self, source: str, text: str) -> str | None:
        """Checks on a restored translation (None: accepted)."""
        g = self.g
        if g.copied and any(c.isalpha() for c in source) and _norm(source) == _norm(text):
            return "copied"
        if g.langid and not self.in_language(text):
            return "language"
        if len(source) >= MIN_RATIO_CHARS and not g.min_length_ratio <= len(text) / len(source) \
                <= g.max_length_ratio:
            return "length_ratio"
        if self.repetition is not None and len(text.split()) >= MIN_LOOP_WORDS:
            from datatrove.data import Document

            if self.repetition.filter(Document(text=text, id="")) is not True:
                return "repetition"
        if g.numbers and missing_numbers(source, text):
            return "lost_numbers"
        if g.markdown and markdown_signs(source) != markdown_signs(text):
            return "markdown"
        return None
