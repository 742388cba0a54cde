"""One reader: the documented line and whitespace rules of `langadapt.textio`, for every caller."""

from __future__ import annotations

import gzip

import pytest

from langadapt.data.readers import iter_records as clean_records
from langadapt.errors import DataError
from langadapt.eval.translation import read_segments as eval_read_segments
from langadapt.textio import iter_records, iter_texts, read_lines, read_segments

RAW = "\ufeffодин\r\nхоёр  \rгурав\n\n   \nдөрөв\tтаб\r\n"


@pytest.fixture
def raw(tmp_path):
    p = tmp_path / "raw.txt"
    p.write_bytes(RAW.encode("utf-8"))
    return p


def test_documents_universal_newlines_blank_lines_skipped(raw):
    # a lone \r ends a document; whitespace-only lines are none; text is kept as it is
    assert list(iter_records(raw)) == [(1, "один"), (2, "хоёр  "), (3, "гурав"), (6, "дөрөв\tтаб")]
    # the cleaner reads the same documents at the same lines
    assert [(n, t) for _, n, t in clean_records(str(raw), encoding="utf-8-sig")] == list(iter_records(raw))


def test_aligned_lines_split_on_newline_only(raw):
    # a lone \r is text, so the line count is the same for every stage (read_lines used to split there)
    assert read_lines(raw) == ["один", "хоёр  \rгурав", "", "   ", "дөрөв\tтаб"]
    # sacrebleu's reading: the BOM stays, trailing whitespace goes
    assert read_segments(raw) == ["\ufeffодин", "хоёр  \rгурав", "", "", "дөрөв\tтаб"]
    assert eval_read_segments is read_segments
    gz = raw.with_suffix(".txt.gz")
    gz.write_bytes(gzip.compress(RAW.encode("utf-8")))
    assert read_lines(gz) == read_lines(raw) and read_segments(gz) == read_segments(raw)


def test_truncated_zstd_is_an_error_not_a_short_corpus(tmp_path):
    import zstandard

    body = "".join(f'{{"text": "баримт {i}"}}\n' for i in range(5000)).encode()
    p = tmp_path / "a.jsonl.zst"
    p.write_bytes(zstandard.ZstdCompressor().compress(body)[:-200])
    with pytest.raises(DataError, match=r"a.jsonl.zst: cannot decompress after line [\d,]+"):
        list(iter_texts([p]))


def test_not_utf8_names_the_file(tmp_path):
    p = tmp_path / "cp.txt"
    p.write_bytes("сайн\n".encode("cp1251"))
    with pytest.raises(DataError, match="cp.txt.*not UTF-8"):
        list(iter_texts([p]))
    with pytest.raises(DataError, match="file not found"):
        read_lines(tmp_path / "missing.txt")
