"""Quality filters: datatrove's Gopher and FineWeb heuristics with the profile's thresholds.

`QualityFilter` runs, in order, langadapt's own checks (undecodable bytes, share of
letters in the alphabet) and datatrove's `GopherQualityFilter`,
`GopherRepetitionFilter` and `FineWebQualityFilter`, each returning a named reason
(`gopher_short_doc`, `dup_line_frac`, `line_punct_ratio` ...). Two adaptations for
sentence-per-line corpora, both profile settings: line-ratio tests only run on
documents with at least `min_lines_for_line_filters` lines, and the stopword and
n-gram repetition tests only on documents of at least `long_doc_words` words.
"""

from __future__ import annotations

import re

from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.utils.word_tokenizers import WordTokenizer

from langadapt.languages import LanguageProfile
from langadapt.languages.scripts import count_in_scripts

_WORDS = re.compile(r"\d+(?:[.,/:-]\d+)*|\w+(?:[-'’]\w+)*")
_LETTER = re.compile(r"[^\W\d_]")
_SENTS = re.compile(r"[^.!?…]+[.!?…]*")


class RegexWordTokenizer(WordTokenizer):
    """Words (letters/digits, inner hyphens and apostrophes); punctuation is not a word,
    so short quoted sentences keep their alphabetic-word ratio. Hand-written: datatrove's
    fallback needs spaCy, and its Mongolian entry needs a Stanza model download."""

    def word_tokenize(self, text: str) -> list[str]:
        return _WORDS.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENTS.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _SENTS.finditer(text) if m.group(0).strip()]


class QualityFilter(BaseFilter):
    """All quality heuristics of one profile; the first failing test names the reason."""

    name = "quality"

    def __init__(self, profile: LanguageProfile, exclusion_writer=None):
        super().__init__(exclusion_writer)
        q = profile.quality
        self.q = q
        self.alphabet = frozenset(profile.alphabet)
        self._drop_alphabet = dict.fromkeys(map(ord, profile.alphabet))
        self.scripts = tuple(profile.scripts)  # ISO 15924 codes (Unicode's Script property decides)
        tok = RegexWordTokenizer(profile.code)
        gopher = dict(
            min_doc_words=q.min_doc_words,
            max_doc_words=q.max_doc_words,
            min_avg_word_length=q.min_avg_word_length,
            max_avg_word_length=q.max_avg_word_length,
            min_stop_words=None,
            language=tok,
        )
        self.gopher = GopherQualityFilter(max_non_alpha_words_ratio=q.max_non_alpha_words_ratio, **gopher)
        # a ratio over a handful of words is noise: "2018 онд 5 хүн ..." is a fine sentence
        self.gopher_short = GopherQualityFilter(max_non_alpha_words_ratio=None, **gopher)
        self.stopwords = GopherQualityFilter(
            min_doc_words=None,
            max_doc_words=None,
            min_avg_word_length=None,
            max_avg_word_length=None,
            max_symbol_word_ratio=None,
            max_bullet_lines_ratio=None,
            max_ellipsis_lines_ratio=None,
            max_non_alpha_words_ratio=None,
            min_stop_words=q.min_stop_words,
            stop_words=profile.stopwords,
            language=tok,
        )
        # repeated lines/paragraphs need several lines; repeated n-grams need many words
        self.line_repetition = GopherRepetitionFilter(
            dup_line_frac=q.dup_line_frac, top_n_grams=(), dup_n_grams=(), language=tok
        )
        self.ngram_repetition = GopherRepetitionFilter(
            dup_line_frac=None,
            dup_para_frac=None,
            dup_line_char_frac=None,
            dup_para_char_frac=None,
            top_n_grams=tuple(map(tuple, q.top_n_grams)),
            dup_n_grams=tuple(map(tuple, q.dup_n_grams)),
            language=tok,
        )
        self.fineweb = FineWebQualityFilter(
            line_punct_thr=q.line_punct_thr or 0.0, new_line_ratio=q.new_line_ratio or 1.0, language=tok
        )
        self.tok = tok

    def _letter_ratios(self, text: str) -> tuple[float, float]:
        """(share of letters in the alphabet, share in the profile's scripts but not the alphabet)."""
        letters = _LETTER.findall(text)
        if not letters:
            return 0.0, 0.0
        # deleting the alphabet in C leaves only the outside letters
        outside = "".join(letters).translate(self._drop_alphabet)
        foreign = count_in_scripts(outside, self.scripts)
        return 1 - len(outside) / len(letters), foreign / len(letters)

    def filter(self, doc) -> bool | tuple[bool, str]:
        text = doc.text
        if "\ufffd" in text:
            return False, "undecodable"
        in_alpha, foreign = self._letter_ratios(text)
        if self.q.min_alphabet_ratio and in_alpha < self.q.min_alphabet_ratio:
            return False, "alphabet_ratio"
        if self.q.max_foreign_letter_ratio is not None and foreign > self.q.max_foreign_letter_ratio:
            return False, "foreign_letters"
        n_words = len(self.tok.word_tokenize(text))
        gopher = self.gopher if n_words >= self.q.alpha_ratio_min_words else self.gopher_short
        res = gopher.filter(doc)
        if res is not True:
            return res
        long_doc = n_words >= self.q.long_doc_words
        many_lines = text.count("\n") + 1 >= self.q.min_lines_for_line_filters
        checks = (
            ([self.line_repetition] if many_lines else [])
            + ([self.ngram_repetition] if long_doc else [])
            + ([self.stopwords] if long_doc and self.q.min_stop_words else [])
            + ([self.fineweb] if many_lines else [])
        )
        for check in checks:
            res = check.filter(doc)
            if res is not True:
                return res
        return True
