"""Encoding detection: BOMs, UTF-8, legacy Cyrillic code pages; undecodable bytes counted."""

from __future__ import annotations

import pytest

from langadapt.data import encoding as enc
from langadapt.data.readers import InputReader
from langadapt.errors import DataError

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


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "image.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    with pytest.raises(DataError, match=r"image.txt: not a text file: [\d,]+ NUL bytes"):
        list(InputReader([str(f)]).run())


def test_utf16_with_bom_is_not_binary(tmp_path):
    f = tmp_path / "u16.txt"
    f.write_bytes(TEXT.encode("utf-16"))
    assert [d.text for d in InputReader([str(f)]).run()] == TEXT.splitlines()


@pytest.mark.parametrize("workers", [1, 2])
def test_file_with_nothing_decodable_is_refused(tmp_path, workers):
    f = tmp_path / "garbage.txt"
    f.write_bytes(b"\x80\x81\x82\x83 \x84\x85\x86\n" * 50)
    # the task whose share holds the file reads all of it and refuses it; the others read nothing
    with pytest.raises(DataError, match=r"garbage.txt: nothing decodable: all 50 documents"):
        list(InputReader([str(f)]).run(rank=0, world_size=workers))
    for rank in range(1, workers):
        assert list(InputReader([str(f)]).run(rank=rank, world_size=workers)) == []


def test_undecodable_documents_are_counted_per_file(tmp_path):
    f = tmp_path / "broken.txt"
    f.write_bytes(TEXT.encode("utf-8") * 20 + b"abc \xff\xfe def\n" * 3)
    reader = InputReader([str(f)])
    docs = list(reader.run())
    assert sum("\ufffd" in d.text for d in docs) == 3
    assert reader.stats[f"undecodable_docs:{f}"].total == 3
