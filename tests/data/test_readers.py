"""Readers: every input format yields (source, line, text) with 1-based positions."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from langadapt.data.readers import expand_inputs, iter_records
from langadapt.errors import DataError

ROWS = ["Нэгдүгээр баримт.", "Хоёрдугаар баримт.", "Гуравдугаар баримт."]


def _write(tmp_path, kind):
    if kind == "txt":
        p = tmp_path / "a.txt"
        p.write_text(ROWS[0] + "\n\n" + ROWS[1] + "\n" + ROWS[2] + "\n", encoding="utf-8")
        return p, "text", [1, 3, 4]
    if kind in ("jsonl", "jsonl.gz", "jsonl.zst"):
        body = "".join(
            json.dumps({"body": r, "id": i}, ensure_ascii=False) + "\n" for i, r in enumerate(ROWS)
        )
        p = tmp_path / f"a.{kind}"
        data = body.encode()
        if kind.endswith("gz"):
            data = gzip.compress(data)
        elif kind.endswith("zst"):
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        p.write_bytes(data)
        return p, "body", [1, 2, 3]
    if kind == "csv":
        p = tmp_path / "a.csv"
        p.write_text("id,body\n" + "".join(f'{i},"{r}"\n' for i, r in enumerate(ROWS)), encoding="utf-8")
        return p, "body", [2, 3, 4]
    if kind == "tsv":
        p = tmp_path / "a.tsv"
        p.write_text("".join(f"{i}\t{r}\n" for i, r in enumerate(ROWS)), encoding="utf-8")
        return p, "1", [1, 2, 3]
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp_path / "a.parquet"
        pq.write_table(pa.table({"body": ROWS}), p)
        return p, "body", [1, 2, 3]
    if kind == "hf":
        import datasets

        p = tmp_path / "ds"
        datasets.Dataset.from_dict({"body": ROWS}).save_to_disk(str(p))
        return p, "body", [1, 2, 3]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["txt", "jsonl", "jsonl.gz", "jsonl.zst", "csv", "tsv", "parquet", "hf"])
def test_formats(tmp_path, kind):
    path, field, lines = _write(tmp_path, kind)
    recs = list(iter_records(str(path), field=field))
    assert [r[2] for r in recs] == ROWS
    assert [r[1] for r in recs] == lines
    assert all(r[0] == str(path) for r in recs)


def test_paragraph_mode(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("a1\na2\n\n\nb1\n\nc1\nc2\nc3\n", encoding="utf-8")
    recs = list(iter_records(str(p), txt_mode="paragraph"))
    assert [(r[1], r[2]) for r in recs] == [(1, "a1\na2"), (5, "b1"), (7, "c1\nc2\nc3")]


@pytest.mark.parametrize(
    ("kind", "field", "match"),
    [
        ("jsonl", "text", "record has no field 'text'"),
        ("csv", "text", "no column 'text'"),
        ("parquet", "text", "no column 'text'"),
    ],
)
def test_missing_field_is_located(tmp_path, kind, field, match):
    path, _, _ = _write(tmp_path, kind)
    with pytest.raises(DataError, match=match):
        list(iter_records(str(path), field=field))


def test_expand_inputs(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("x\n")
    (tmp_path / "d" / "a.jsonl").write_text("{}\n")
    (tmp_path / "d" / "skip.bin").write_text("x\n")
    assert [p.rsplit("/", 1)[1] for p in expand_inputs([str(tmp_path / "d")])] == ["a.jsonl", "b.txt"]
    with pytest.raises(DataError, match="input not found"):
        expand_inputs([str(tmp_path / "missing.txt")])


def _compressed(tmp_path, kind: str, n: int = 3000) -> tuple[bytes, bytes]:
    """(uncompressed jsonl, its `kind` compression) of `n` records, large enough to span chunks."""
    # hex digests keep it from compressing into one block, so half the file holds whole lines
    body = "".join(
        json.dumps({"text": f"{ROWS[i % 3]} {hashlib.sha1(str(i).encode()).hexdigest()}"}, ensure_ascii=False)
        + "\n"
        for i in range(n)
    )
    data = body.encode()
    if kind == "gz":
        return data, gzip.compress(data)
    import zstandard

    # with a content checksum, as the zstd command writes by default
    return data, zstandard.ZstdCompressor(write_checksum=True).compress(data)


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_compressed_file_is_located(tmp_path, kind):
    _, packed = _compressed(tmp_path, kind)
    p = tmp_path / f"cut.jsonl.{kind}"
    p.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError) as e:
        list(iter_records(str(p)))
    msg = str(e.value)
    assert msg.startswith(f"{p}: cannot decompress after line ")
    assert f"of {len(packed) // 2:,})" in msg and "truncated or corrupt" in msg and "\n" not in msg
    lines = int(msg.split("after line ")[1].split(" ")[0].replace(",", ""))
    assert 0 < lines < 3000


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_corrupt_compressed_file_is_located(tmp_path, kind):
    _, packed = _compressed(tmp_path, kind)
    bad = bytearray(packed)
    # gzip: a wrong CRC in the trailer; zstd: damaged blocks mid-file
    start = len(bad) - 8 if kind == "gz" else len(bad) // 2
    for i in range(start, start + (4 if kind == "gz" else 64)):
        bad[i] ^= 0x5A
    p = tmp_path / f"bad.jsonl.{kind}"
    p.write_bytes(bytes(bad))
    with pytest.raises(DataError, match=r"cannot decompress after line [\d,]+ \(byte [\d,]+ of "):
        list(iter_records(str(p)))


def test_zst_with_several_frames_reads_every_frame(tmp_path):
    import zstandard

    data, _ = _compressed(tmp_path, "zst", 300)
    cut = data.index(b"\n", len(data) // 2) + 1
    p = tmp_path / "frames.jsonl.zst"
    c = zstandard.ZstdCompressor()
    p.write_bytes(c.compress(data[:cut]) + c.compress(data[cut:]))
    assert len(list(iter_records(str(p)))) == 300
    p.write_bytes(c.compress(data[:cut]) + c.compress(data[cut:])[:-9])
    with pytest.raises(DataError, match="end of a zstd frame"):
        list(iter_records(str(p)))


@pytest.mark.parametrize("cut", ["truncated", "corrupt"])
def test_broken_parquet_is_located(tmp_path, cut):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": [f"{ROWS[i % 3]} {i}" for i in range(3000)]}), p, row_group_size=500)
    data = bytearray(p.read_bytes())
    if cut == "truncated":
        data = data[: len(data) // 2]
    else:
        for i in range(len(data) // 3, len(data) // 3 + 200):
            data[i] ^= 0x5A
    p.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"^{p}: cannot read parquet") as e:
        list(iter_records(str(p), field="text"))
    assert "\n" not in str(e.value)
