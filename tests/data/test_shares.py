"""Sharded reading: each task reads only its share, and the documents stay the same for any task count."""

from __future__ import annotations

import gzip
import json

import pytest

from langadapt.data.readers import InputReader, splittable
from langadapt.data.shares import LineOffsets, Share, plan_shares


def test_whole_files_when_there_are_enough_contiguous_and_balanced():
    plan = plan_shares(["a", "b", "c", "d"], [10, 10, 10, 10], [True] * 4, 2)
    assert plan == [[Share("a"), Share("b")], [Share("c"), Share("d")]]
    # one big file first: it alone is task 0's share
    plan = plan_shares(["big", "s1", "s2"], [100, 5, 5], [True] * 3, 2)
    assert plan == [[Share("big")], [Share("s1"), Share("s2")]]


def test_fewer_files_than_tasks_splits_only_splittable_files():
    plan = plan_shares(["one.txt"], [1000], [True], 4, min_part_bytes=100)
    assert [[(s.part, s.start, s.end) for s in r] for r in plan] == [
        [(0, 0, 250)], [(1, 250, 500)], [(2, 500, 750)], [(3, 750, 1000)]
    ]
    plan = plan_shares(["one.jsonl.gz"], [1000], [False], 4, min_part_bytes=100)
    assert plan == [[Share("one.jsonl.gz")], [], [], []]
    # small files are not worth splitting
    assert plan_shares(["one.txt"], [1000], [True], 4, min_part_bytes=600)[0] == [Share("one.txt")]


def test_what_can_be_split(tmp_path):
    for name, data, ok in [
        ("a.txt", b"x\n", True),
        ("a.jsonl", b"{}\n", True),
        ("a.jsonl.gz", gzip.compress(b"{}\n"), False),
        ("a.csv", b"x\n", False),
        ("u16.txt", "x\n".encode("utf-16"), False),
        ("bom.txt", "x\n".encode("utf-8-sig"), True),
    ]:
        (tmp_path / name).write_bytes(data)
        assert splittable(str(tmp_path / name)) is ok, name
    assert not splittable(str(tmp_path / "a.txt"), txt_mode="paragraph")


def _lines(n: int) -> list[str]:
    # CRLF and a lone CR (a line break under the document rules), blank lines, Cyrillic
    out = []
    for i in range(n):
        out.append(f"Мөр дугаар {i} энд байна." + ("\r\n" if i % 7 == 0 else "\r" if i % 11 == 0 else "\n"))
        if i % 5 == 0:
            out.append("   \n")
    return out


def _read_all(inputs, workers, folder, **kw):
    """Documents of every task in task order, with lines completed as the output stage does."""
    docs, nbytes = [], 0
    for rank in range(workers):
        reader = InputReader(inputs, lines_folder=str(folder), min_part_bytes=64, **kw)
        docs += list(reader.run(rank=rank, world_size=workers))
        nbytes += reader.stats["input_bytes"].total
    offsets = LineOffsets(folder)
    out = []
    for d in docs:
        meta = dict(d.metadata)
        out.append((offsets.fix(d.id, meta), d.text, meta))
    return out, nbytes


@pytest.mark.parametrize("suffix", ["txt", "jsonl"])
def test_byte_ranges_give_the_same_documents_and_lines_as_one_task(tmp_path, suffix):
    lines = _lines(400)
    p = tmp_path / f"in.{suffix}"
    if suffix == "txt":
        p.write_bytes("\ufeff".encode() + "".join(lines).encode("utf-8"))
    else:
        p.write_text("".join(json.dumps({"text": x.strip()}, ensure_ascii=False) + "\n" for x in lines
                             if x.strip()), encoding="utf-8")
    one, _ = _read_all([str(p)], 1, tmp_path / "l1")
    assert len(one) == 400 and one[0][1].startswith("Мөр дугаар 0")  # the BOM is not text
    size = p.stat().st_size
    for workers in (2, 3, 5):
        many, nbytes = _read_all([str(p)], workers, tmp_path / f"l{workers}")
        assert many == one, workers
        # each byte once, plus one line per boundary and the encoding sniff (the whole file here)
        assert nbytes <= size * (1 + workers) + 200 * workers


def test_each_task_reads_only_its_bytes(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text("".join(_lines(20_000)), encoding="utf-8")
    size = p.stat().st_size
    folder = tmp_path / "lines"
    totals = []
    for rank in range(2):
        reader = InputReader([str(p)], lines_folder=str(folder), min_part_bytes=1 << 16)
        list(reader.run(rank=rank, world_size=2))
        totals.append(reader.stats["input_bytes"].total)
    sniff = 2 * (1 << 20) if size > (1 << 20) else 2 * size
    assert sum(totals) - sniff <= size * 1.01
    assert all(t - sniff / 2 < size * 0.6 for t in totals)


def test_files_are_not_split_when_there_are_enough(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"f{i}.txt"
        p.write_text("".join(_lines(50)), encoding="utf-8")
        paths.append(str(p))
    one, _ = _read_all(paths, 1, tmp_path / "l1")
    many, _ = _read_all(paths, 3, tmp_path / "l3")
    assert many == one and not (tmp_path / "l3").exists()


def test_limit_reads_the_first_documents_for_any_task_count(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("".join(_lines(100)), encoding="utf-8")
    one = [d.text for d in InputReader([str(p)], limit=30).run()]
    two = [d.text for r in range(2) for d in InputReader([str(p)], limit=30).run(rank=r, world_size=2)]
    assert len(one) == 30 and sorted(two) == sorted(one)


def test_memory_url_input(tmp_path):
    import fsspec

    lines = _lines(30)
    with fsspec.open("memory://corpus/a.txt", "wb") as f:
        f.write("".join(lines).encode())
    with fsspec.open("memory://corpus/b.jsonl.gz", "wb") as f:
        f.write(gzip.compress(b'{"text": "\xd0\xb0\xd0\xb1"}\n'))
    from langadapt.data.readers import expand_inputs

    inputs = expand_inputs(["memory://corpus"])
    assert inputs == ["memory://corpus/a.txt", "memory://corpus/b.jsonl.gz"]
    docs = list(InputReader(inputs).run())
    local = tmp_path / "a.txt"
    local.write_bytes("".join(lines).encode())
    assert [d.text for d in docs] == [d.text for d in InputReader([str(local)]).run()] + ["аб"]
    assert docs[0].metadata["source"] == "memory://corpus/a.txt" and docs[0].id == "memory://corpus/a.txt:1"
