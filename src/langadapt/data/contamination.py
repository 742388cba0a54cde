"""Decontamination: drop training documents that overlap an evaluation set.

A document is contaminated when it shares a word n-gram (13 words by default,
the GPT-3 / FineWeb convention) or a whole normalised sentence with any
evaluation text. Normalisation: case-folded, punctuation removed, whitespace
collapsed, so a copied FLORES sentence with other quotes or spacing still
matches. Sentences shorter than `min_sentence_words` are not indexed (a stock
phrase like "Баярлалаа." is not a leak). Hand-written: datatrove's decont step
targets lighteval task objects, not plain evaluation files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from datatrove.pipeline.filters.base_filter import BaseFilter

from langadapt.data.readers import expand_inputs, iter_records

_WORD = re.compile(r"\w+")
_SENT = re.compile(r"[^.!?…\n]+")


def _h(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class ContaminationIndex:
    """Hashes of the n-grams and sentences of evaluation texts."""

    def __init__(self, n: int = 13, min_sentence_words: int = 4):
        self.n, self.min_sentence_words = n, min_sentence_words
        self.ngrams: set[int] = set()
        self.sentences: set[int] = set()

    def add(self, text: str) -> None:
        w = words(text)
        self.ngrams.update(_h(" ".join(w[i : i + self.n])) for i in range(len(w) - self.n + 1))
        for s in _SENT.findall(text):
            sw = words(s)
            if len(sw) >= self.min_sentence_words:
                self.sentences.add(_h(" ".join(sw)))

    def add_files(self, paths: Iterable[str], field: str = "text") -> ContaminationIndex:
        for p in expand_inputs(list(paths)):
            for _, _, text in iter_records(p, field=field):
                self.add(text)
        return self

    def match(self, text: str) -> str | None:
        """`"ngram"` or `"sentence"` if `text` overlaps the index, else None."""
        for s in _SENT.findall(text):
            sw = words(s)
            if len(sw) >= self.min_sentence_words and _h(" ".join(sw)) in self.sentences:
                return "sentence"
        w = words(text)
        for i in range(len(w) - self.n + 1):
            if _h(" ".join(w[i : i + self.n])) in self.ngrams:
                return "ngram"
        return None

    def __len__(self) -> int:
        return len(self.ngrams) + len(self.sentences)


class DecontaminationFilter(BaseFilter):
    """Drop documents matching the evaluation files (reason `contaminated`)."""

    name = "decontaminate"

    def __init__(
        self,
        eval_files: list[str],
        n: int = 13,
        min_sentence_words: int = 4,
        field: str = "text",
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.eval_files, self.n, self.msw, self.field = list(eval_files), n, min_sentence_words, field
        self._index: ContaminationIndex | None = None

    def filter(self, doc) -> bool | tuple[bool, str]:
        if self._index is None:
            self._index = ContaminationIndex(self.n, self.msw).add_files(self.eval_files, self.field)
        how = self.match(doc.text)
        if how:
            doc.metadata["contaminated_by"] = how
            self.stat_update(f"match_{how}")
            return False, "contaminated"
        return True

    def match(self, text: str) -> str | None:
        return self._index.match(text) if self._index else None
