"""Language profiles: one YAML file per language (`khk_Cyrl.yaml`, `eng_Latn.yaml` ...).

A profile holds everything language-specific the data pipeline needs: alphabet,
homoglyph map, language-ID labels, stopwords, legacy encodings, quality thresholds
and benchmark codes. `load_profile("khk_Cyrl")` reads the bundled file;
`load_profile("path/to/xxx_Latn.yaml")` reads a user's own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from langadapt.config import StrictModel, load_config
from langadapt.errors import ConfigError

PROFILE_DIR = Path(__file__).parent

# English names of language codes, for translation prompts; an unknown code is used as it is.
LANG_NAMES = {"khk_Cyrl": "Mongolian", "eng_Latn": "English", "rus_Cyrl": "Russian",
              "kaz_Cyrl": "Kazakh", "kir_Cyrl": "Kyrgyz", "bua_Cyrl": "Buryat",
              "zho_Hans": "Chinese", "deu_Latn": "German", "fra_Latn": "French",
              "uzn_Latn": "Uzbek", "khm_Khmr": "Khmer"}


def language_name(code: str) -> str:
    """The English name of `code` for a prompt ("khk_Cyrl" -> "Mongolian"), else the code."""
    return LANG_NAMES.get(code, code)


class LangIdLabels(StrictModel):
    """The label each language-ID backend uses for this language, and the score to reach."""

    fasttext176: str | None = None
    py3langid: str | None = None
    lingua: str | None = None
    min_score: float = 0.5


class QualityThresholds(StrictModel):
    """Gopher / FineWeb-style thresholds (None switches a test off)."""

    dup_line_frac: float | None = 0.3
    dup_n_grams: list[tuple[int, float]] = Field(default_factory=list)
    top_n_grams: list[tuple[int, float]] = Field(default_factory=list)
    line_punct_thr: float | None = 0.12
    new_line_ratio: float | None = 0.3
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_non_alpha_words_ratio: float | None = 0.8
    min_doc_words: int | None = 3
    max_doc_words: int | None = 100_000
    min_stop_words: int | None = 2
    long_doc_words: int = 50
    alpha_ratio_min_words: int = 10  # the non-alphabetic word ratio is tested from this many words
    min_lines_for_line_filters: int = 3
    min_alphabet_ratio: float | None = 0.85
    max_foreign_letter_ratio: float | None = None  # letters of the profile's scripts outside the alphabet


class Benchmarks(StrictModel):
    flores: str | None = None
    nllb: str | None = None
    belebele: str | None = None


class LanguageProfile(StrictModel):
    """One language's data: see `khk_Cyrl.yaml` for every field with comments."""

    code: str
    name: str
    scripts: list[str]
    alphabet: str
    homoglyphs: dict[str, str] = Field(default_factory=dict)  # value: one letter, or candidates
    harmony: list[str] = Field(default_factory=list)  # vowel groups that choose among candidates
    langid: LangIdLabels = Field(default_factory=LangIdLabels)
    benchmarks: Benchmarks = Field(default_factory=Benchmarks)
    legacy_encodings: list[str] = Field(default_factory=list)
    stopwords: list[str] = Field(default_factory=list)
    quality: QualityThresholds = Field(default_factory=QualityThresholds)
    keep_format_chars: str = ""  # e.g. ZWNJ for Persian; removed elsewhere


def available_profiles() -> list[str]:
    """Codes of the bundled profiles."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@lru_cache(maxsize=32)
def load_profile(name: str) -> LanguageProfile:
    """Load a bundled profile by code, or a profile YAML by path."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILE_DIR / f"{name}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"no language profile '{name}'; bundled: {', '.join(available_profiles())}"
                " (or pass the path of your own profile YAML)",
                key="lang",
            )
    profile = load_config(LanguageProfile, path)
    for src, dst in profile.homoglyphs.items():
        if len(src) != 1 or not dst:
            raise ConfigError(
                "homoglyphs map a character to one or more candidate characters",
                file=str(path),
                key=f"homoglyphs.{src}",
            )
    return profile
