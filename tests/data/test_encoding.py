"""Encoding detection: BOMs, UTF-8, legacy Cyrillic code pages; undecodable bytes counted."""

from __future__ import annotations

import pytest

from langadapt.data import encoding as enc
from langadapt.data.readers import InputReader

TEXT = "Монгол улсын нийслэл Улаанбаатар хот юм.\nЭнэ бол шинэ ном.\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("cp1251"), "cp1251"),
        (TEXT.encode("koi8_r"), "koi8_r"),
        ("Hello world".encode("ascii"), "utf-8"),
    ],
)
def test_detect(data, expected):
    assert enc.detect_bytes(data) == expected


def test_cut_multibyte_char_at_sample_end_is_still_utf8():
    data = TEXT.encode("utf-8")
    assert enc.detect_bytes(data[:5]) == "utf-8"


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "cp1251", "koi8_r"])
def test_reader_decodes_every_encoding(tmp_path, codec):
    f = tmp_path / "x.txt"
    f.write_bytes(TEXT.encode(codec))
    docs = list(InputReader([str(f)]).run())
    assert [d.text for d in docs] == TEXT.splitlines()
    assert {d.metadata["encoding"] for d in docs} == {enc.detect_file(f)}


def test_undecodable_bytes_are_counted_not_dropped(tmp_path):
    f = tmp_path / "broken.txt"
    f.write_bytes(TEXT.encode("utf-8") * 20 + b"abc \xff\xfe def\n")
    reader = InputReader([str(f)])
    docs = list(reader.run())
    assert docs[-1].text == "abc \ufffd\ufffd def"
    assert reader.stats["undecodable_bytes"].total == 2
