"""`data bitext`: per-pair reasons, input layouts, outputs."""

from __future__ import annotations

import gzip
import json

import pytest

from langadapt.data.bitext import BitextOptions, clean_bitext

PAIRS = [
    ("Би номоо уншиж байна.", "I am reading my book.", None),
    ("Би  номоо уншиж байна.", "I am reading my  book.", "duplicate_pair"),
    ("", "Empty source.", "empty"),
    ("Hello there friend.", "Hello there friend.", "identical"),
    (
        "Президент России провёл совещание в Кремле сегодня.",
        "The president held a meeting in the Kremlin today.",
        "language_src",
    ),
    (
        "Улаанбаатар бол Монгол Улсын нийслэл хот юм.",
        "Улаанбаатар бол Монгол Улсын нийслэл хот юм шүү дээ.",
        "language_tgt",
    ),
    (
        "Тийм.",
        "Yes, of course, I would be very happy to come to your birthday party tomorrow evening.",
        "length_ratio",
    ),
    (
        "Тэр 2016 онд 23 сая тонн нүүрс экспортолсон.",
        "In 2016 it exported 32 million tonnes of coal.",
        "numbers",
    ),
    (
        "Өнөөдөр Улаанбаатар хотод их цас орж, замын хөдөлгөөн удаашрав.",
        "Heavy snow slowed traffic in the city today.",
        "contaminated",
    ),
    ("Улаанбаатaр хотод цас орж байна.", "It is snowing in the city of Ulaanbaatar now.", None),
]


@pytest.fixture()
def evalfile(tmp_path):
    p = tmp_path / "eval.txt"
    p.write_text("Өнөөдөр Улаанбаатар хотод их цас орж, замын хөдөлгөөн удаашрав.\n", encoding="utf-8")
    return p


def _read(out):
    return [json.loads(x) for x in gzip.open(out / "data" / "00000.jsonl.gz", "rt", encoding="utf-8")]


def test_reasons_table(tmp_path, evalfile):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{a}\t{b}\n" for a, b, _ in PAIRS), encoding="utf-8")
    stats = clean_bitext(BitextOptions(inputs=[str(tsv)], decontaminate=[str(evalfile)]), tmp_path / "out")
    expected = {}
    for *_, why in PAIRS:
        if why:
            expected[why] = expected.get(why, 0) + 1
    assert stats["dropped"] == dict(sorted(expected.items()))
    assert stats["invariant_ok"] and stats["read"] == len(PAIRS)
    kept = _read(tmp_path / "out")
    assert [(r["src"], r["metadata"]["line"]) for r in kept] == [
        ("Би номоо уншиж байна.", 1),
        ("Улаанбаатар хотод цас орж байна.", 10),
    ]
    assert (tmp_path / "out" / "rejected" / "numbers.jsonl.gz").exists()


@pytest.mark.parametrize("layout", ["two_files", "jsonl"])
def test_layouts(tmp_path, layout):
    src, tgt = "Би номоо уншиж байна.", "I am reading my book."
    if layout == "two_files":
        (tmp_path / "a.khk").write_text(src + "\n", encoding="utf-8")
        (tmp_path / "a.eng").write_text(tgt + "\n", encoding="utf-8")
        opts = BitextOptions(inputs=[str(tmp_path / "a.khk"), str(tmp_path / "a.eng")])
    else:
        (tmp_path / "a.jsonl").write_text(json.dumps({"mn": src, "en": tgt}) + "\n", encoding="utf-8")
        opts = BitextOptions(inputs=[str(tmp_path / "a.jsonl")], src_field="mn", tgt_field="en")
    clean_bitext(opts, tmp_path / "out")
    assert [(r["src"], r["tgt"]) for r in _read(tmp_path / "out")] == [(src, tgt)]


def test_real_parallel_file(data_dir, tmp_path):
    stats = clean_bitext(BitextOptions(inputs=[str(data_dir / "parallel" / "mn_en.tsv")]), tmp_path / "out")
    assert stats["invariant_ok"] and stats["read"] == 440
    assert stats["kept"] >= 400  # human Tatoeba pairs survive; broken MT numbers do not
    assert stats["dropped"].get("numbers", 0) >= 3
