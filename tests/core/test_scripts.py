"""Scripts by ISO 15924 code through Unicode's Script property: one way, no tables of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

import langadapt
from langadapt.languages.scripts import count_in_scripts, script_pattern


@pytest.mark.parametrize("code, inside, outside", [
    ("Cyrl", "Сайн байна уу ӨөҮү", "Hello"), ("Latn", "Crème brûlée", "Сайн"), ("Hans", "你好世界", "abc"),
    ("Khmr", "សួស្តី", "abc"), ("Mong", "ᠮᠣᠩᠭᠣᠯ", "Монгол"), ("Grek", "Καλημέρα", "abc"),
    ("Arab", "مرحبا", "abc"),
])
def test_letters_of_a_script(code, inside, outside):
    letters = "".join(c for c in inside if c.isalpha())
    assert count_in_scripts(letters, [code]) == len(letters)
    assert count_in_scripts(outside, [code]) == 0


def test_unknown_script():
    assert script_pattern(("Xyzw",)) is None and count_in_scripts("abc", ["Xyzw"]) == 0
    assert count_in_scripts("aЖ", ["Xyzw", "Cyrl"]) == 1


def test_translation_check_and_quality_filter_use_it():
    from langadapt.data.quality import QualityFilter
    from langadapt.languages import load_profile
    from langadapt.translate import script_checker

    in_script, how = script_checker("khk_Cyrl")
    assert in_script("Сайн байна уу?") and not in_script("Hello there") and how == "script:Cyrl"
    assert script_checker("xxx_Xyzw")[1].startswith("none")
    assert script_checker("zho_Hans")[0]("你好")
    ratios = QualityFilter(load_profile("khk_Cyrl"))._letter_ratios("сайн їїїї abc")
    assert ratios[1] == pytest.approx(4 / 11)   # Ukrainian ї: Cyrillic, not in the alphabet; Latin is not


def test_no_script_tables_by_hand():
    src = Path(langadapt.__file__).parent
    found = [str(p.relative_to(src)) for p in src.rglob("*.py")
             if "SCRIPT_RANGES" in (t := p.read_text(encoding="utf-8")) or "_SCRIPT_NAMES" in t]
    assert not found, f"use langadapt.languages.scripts: {found}"
