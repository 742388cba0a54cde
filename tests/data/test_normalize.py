"""Normalisation steps and homoglyph repair: tables of input, output and characters changed."""

from __future__ import annotations

import pytest

from langadapt.data.homoglyph import HomoglyphRepair
from langadapt.data.normalize import NormalizeOptions, build_steps, normalize
from langadapt.languages import load_profile

KHK = load_profile("khk_Cyrl")


# `fixes` counts characters changed per step: substitutions, or the length difference
# when a step removes text (markup tags become line breaks, which whitespace removes).
@pytest.mark.parametrize(
    ("text", "expected", "fixes"),
    [
        ("Монгол улс", "Монгол улс", {}),
        ("Монгол\u00a0 улс  ", "Монгол улс", {"whitespace": 3}),
        ("<p>Монгол <b>улс</b></p>", "Монгол улс", {"markup": 12, "whitespace": 2}),
        ("Монгол&nbsp;улс &quot;сайн&quot;", 'Монгол улс "сайн"', {"markup": 15, "whitespace": 1}),
        ("<script>var x=1;</script>Сайн", "Сайн", {"markup": 24, "whitespace": 1}),
        ("Мон\u200bгол\u00adулс", "Монголулс", {"control": 2}),
        ("Монгол улс\u0301", "Монгол улс\u0301", {}),
        ("бо\u0308гөөд", "бөгөөд", {"nfc": 1, "homoglyphs": 1}),
        ("ÐœÐ¾Ð½Ð³Ð¾Ð» ÑƒÐ»Ñ\x81", "Монгол улс", {"mojibake": 9}),
        ("Утас +976 9911 2233, mail a.b@mail.mn", "Утас <PHONE>, mail <EMAIL>", {"emails": 4, "phones": 7}),
        ("2019-2020 онд 1500 төгрөг", "2019-2020 онд 1500 төгрөг", {}),
        ("http://news.mn/a?b=1 сайт", "http://news.mn/a?b=1 сайт", {}),
    ],
)
def test_default_steps(text, expected, fixes):
    out, got = normalize(text, build_steps(NormalizeOptions(), KHK))
    assert out == expected
    assert got == fixes


@pytest.mark.parametrize(
    ("opts", "text", "expected"),
    [
        ({"urls": "mask"}, "see https://x.mn/a.", "see <URL>."),
        ({"urls": "drop"}, "see https://x.mn/a now", "see now"),
        ({"emails": "keep"}, "a.b@mail.mn", "a.b@mail.mn"),
        ({"markup": False}, "<b>Сайн</b>", "<b>Сайн</b>"),
        ({"homoglyphs": False}, "Улаанбаатaр", "Улаанбаатaр"),
    ],
)
def test_switches(opts, text, expected):
    out, _ = normalize(text, build_steps(NormalizeOptions(**opts), KHK))
    assert out == expected


@pytest.mark.parametrize(
    ("text", "expected", "changed"),
    [
        ("Улаанбаатaр хот", "Улаанбаатар хот", 1),  # Latin a
        ("Mонгол Yлсын Eрөнхийлөгч", "Монгол Улсын Ерөнхийлөгч", 3),
        ("Yндэсний хурал", "Үндэсний хурал", 1),  # front vowel э -> Ү
        ("хyрал", "хурал", 1),  # back vowel а -> у
        ("YИХ-ын чуулган", "УИХ-ын чуулган", 1),  # acronym: default У
        ("бöгöөд", "бөгөөд", 2),  # Latin ö
        ("Өмнɵговь ѳргөн", "Өмнөговь өргөн", 2),  # barred o, fita
        ("Google компани COVID-19 iPhone-ы", "Google компани COVID-19 iPhone-ы", 0),
        ("TOKYO хот, Ulaanbaatar", "TOKYO хот, Ulaanbaatar", 0),
        ("қала мен ауыл", "қала мен ауыл", 0),  # Kazakh letter: not Mongolian, untouched
        ("Ca", "Ca", 0),  # all-Latin word stays
    ],
)
def test_homoglyphs(text, expected, changed):
    repair = HomoglyphRepair(KHK.alphabet, KHK.homoglyphs, KHK.harmony)
    assert repair(text) == (expected, changed)


def test_english_profile_repairs_cyrillic_lookalikes():
    eng = load_profile("eng_Latn")
    repair = HomoglyphRepair(eng.alphabet, eng.homoglyphs, eng.harmony)
    assert repair("The cаt sаt on Монгол")[0] == "The cat sat on Монгол"
