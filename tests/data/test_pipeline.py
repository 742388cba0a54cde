"""`data clean` end to end: outputs, stats invariant, workers, resume after a kill."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langadapt.data.pipeline import CleanOptions, clean
from langadapt.errors import ConfigError, DataError
from langadapt.textio import iter_texts


@pytest.fixture(scope="module")
def small_input(data_dir, tmp_path_factory) -> Path:
    """600 news lines + 60 exact repeats + 20 English lines + 2 HTML-wrapped lines."""
    news = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:600]
    extra = news[:60] + ["The president met members of the government in the capital today."] * 20
    extra += [f"<p>{news[100]}</p>", f"<div><b>{news[101]}</b></div>"]
    p = tmp_path_factory.mktemp("in") / "small.txt"
    p.write_text("\n".join(news + extra) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def one_worker(small_input, tmp_path_factory):
    out = tmp_path_factory.mktemp("w1") / "out"
    return out, clean(CleanOptions(inputs=[str(small_input)]), out)


def _kept(out: Path) -> list[str]:
    return list(iter_texts([out / "data"]))


def test_outputs_and_invariant(one_worker):
    out, stats = one_worker
    assert stats["invariant_ok"] and stats["read"] == 682
    assert stats["dropped"]["language"] == 20
    assert stats["dropped"]["duplicate_exact"] >= 60 + 2  # repeats + the two HTML copies
    assert json.loads((out / "stats.json").read_text()) == stats
    assert [s["step"] for s in stats["steps"]] == [
        "normalize",
        "langid",
        "quality",
        "exact_dedup",
        "near_dedup",
    ]
    assert stats["steps"][0]["docs_changed"]["markup"] == 2
    assert len(_kept(out)) == stats["kept"]
    assert {"duplicate_exact.jsonl.gz", "language.jsonl.gz"} <= {p.name for p in (out / "rejected").iterdir()}
    assert not (out / "work").exists()


def test_records_trace_back_to_source(one_worker, small_input):
    out, _ = one_worker
    lines = small_input.read_text(encoding="utf-8").splitlines()
    for line in gzip.open(next((out / "data").glob("*.jsonl.gz")), "rt", encoding="utf-8"):
        rec = json.loads(line)
        meta = rec["metadata"]
        assert meta["source"] == str(small_input) and meta["lang"] == "mn"
        if "markup" not in meta.get("fixes", {}):
            assert " ".join(lines[meta["line"] - 1].split()) == rec["text"]


def test_rerun_is_a_no_op(one_worker, small_input):
    out, stats = one_worker
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert clean(CleanOptions(inputs=[str(small_input)]), out) == stats
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_foreign_output_folder_is_refused(tmp_path, small_input):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        clean(CleanOptions(inputs=[str(small_input)]), tmp_path)


def test_two_workers_keep_the_same_documents(one_worker, small_input, tmp_path):
    out1, stats1 = one_worker
    stats2 = clean(CleanOptions(inputs=[str(small_input)], workers=2), tmp_path / "out")
    assert stats2["invariant_ok"] and stats2["read"] == stats1["read"]
    assert stats2["dropped"] == stats1["dropped"]
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == [
        "00000.jsonl.gz",
        "00001.jsonl.gz",
    ]
    assert sorted(_kept(tmp_path / "out")) == sorted(_kept(out1))


def _records(out: Path) -> list[dict]:
    """Every kept record, shards in task order."""
    return [json.loads(line) for p in sorted((out / "data").glob("*.jsonl.gz"))
            for line in gzip.open(p, "rt", encoding="utf-8")]


def _rejected(out: Path) -> dict[str, bytes]:
    return {p.name: gzip.decompress(p.read_bytes()) for p in sorted((out / "rejected").iterdir())}


def test_split_input_keeps_the_same_records_stats_and_rejects_for_any_worker_count(
    one_worker, small_input, tmp_path
):
    """One file cut into byte ranges: the same records (lines included), in the same order."""
    out1, stats1 = one_worker
    out = tmp_path / "out"
    stats = clean(CleanOptions(inputs=[str(small_input)], workers=3, split_bytes=4096), out)
    assert stats == stats1
    assert _records(out) == _records(out1)
    assert _rejected(out) == _rejected(out1)


def test_url_inputs_keep_the_same_documents(one_worker, small_input, tmp_path):
    import fsspec

    out1, _ = one_worker
    texts = [r["text"] for r in _records(out1)]
    url = f"file://{small_input}"
    clean(CleanOptions(inputs=[url], workers=2, split_bytes=4096), tmp_path / "file")
    recs = _records(tmp_path / "file")
    assert [r["text"] for r in recs] == texts and recs[0]["metadata"]["source"] == url
    with fsspec.open("memory://raw/small.txt", "wb") as f:  # in-process filesystem: one worker
        f.write(small_input.read_bytes())
    clean(CleanOptions(inputs=["memory://raw"]), tmp_path / "mem")
    assert [r["text"] for r in _records(tmp_path / "mem")] == texts


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_killed_run_resumes_byte_identical(data_dir, tmp_path):
    src = tmp_path / "news.txt"
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join(lines[:2500]) + "\n", encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "langadapt",
        "data",
        "clean",
        str(src),
        "--decontaminate",
        str(data_dir / "flores" / "khk_Cyrl.dev.txt"),
        "--json",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run([*args, "--out", str(tmp_path / "ref")], check=True, capture_output=True, env=env)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    marker = out / "work" / "logs" / "filter" / "completions" / "00000"
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists() and not (out / "stats.json").exists(), "the run was not stopped midway"
    assert not (out / "data").exists() or all(p.name.endswith(".jsonl.gz") for p in (out / "data").iterdir())
    subprocess.run([*args, "--out", str(out)], check=True, capture_output=True, env=env)
    assert _files(out) == _files(tmp_path / "ref")


def _cli(capfd, *args: str) -> subprocess.CompletedProcess:
    """`langadapt data clean` in this process; capfd also holds what its worker processes print."""
    from langadapt.cli import main

    argv = ["data", "clean", *args, "--no-dedup-near", "--json"]
    capfd.readouterr()
    code = main(argv)
    printed = capfd.readouterr()
    return subprocess.CompletedProcess(argv, code, printed.out, printed.err)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI failed with exit status 2 and said why in one line (no traceback from any process)."""
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("INFO ")]
    assert len(lines) == 1 and lines[0].startswith("langadapt: error: "), proc.stderr
    return lines[0]


def test_truncated_input_fails_in_one_line_and_leaves_output_as_it_was(data_dir, tmp_path, capfd):
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
    good = tmp_path / "good.txt"
    good.write_text("\n".join(lines[:150]) + "\n", encoding="utf-8")
    packed = gzip.compress(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lines).encode()
    )
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])

    out = tmp_path / "out"
    assert _cli(capfd, str(good), "--out", str(out)).returncode == 0
    before = _files(out)
    # two workers: the error is raised in a worker process and must reach the command
    line = _one_error_line(_cli(capfd, str(good), str(cut), "--out", str(out), "--workers", "2"))
    assert f"{cut}: cannot decompress after line " in line and "truncated or corrupt" in line
    assert _files(out) == before and not (out / "work").exists()

    fresh = tmp_path / "fresh"
    with pytest.raises(DataError, match="cannot decompress"):
        clean(CleanOptions(inputs=[str(cut)], dedup_near=False), fresh)
    assert not fresh.exists() or not any(fresh.iterdir())


def test_changed_input_is_cleaned_again(data_dir, tmp_path):
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:100]
    src, out = tmp_path / "in.txt", tmp_path / "out"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    opts = CleanOptions(inputs=[str(src)], dedup_near=False)
    clean(opts, out)
    old = next(t for t in _kept(out) if "а" in t)
    new = old.replace("а", "э", 1)  # same size in UTF-8
    st = src.stat()
    src.write_text(src.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and time: only the content tells
    clean(opts, out)
    assert new in _kept(out) and old not in _kept(out)
    src.write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    assert clean(opts, out)["read"] == 40


@pytest.mark.parametrize("quality", [True, False])
def test_undecodable_lines_are_dropped_counted_and_reported(data_dir, tmp_path, caplog, quality):
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:60]
    src = tmp_path / "in.txt"
    broken = [ln.encode("utf-8")[:40] + b"\xff\xfe" + ln.encode("utf-8")[40:] for ln in lines[:3]]
    src.write_bytes(b"\n".join([*broken, *(ln.encode("utf-8") for ln in lines[3:])]) + b"\n")
    with caplog.at_level("WARNING", logger="langadapt"):
        stats = clean(CleanOptions(inputs=[str(src)], dedup_near=False, quality=quality), tmp_path / "out")
    assert stats["undecodable_docs"] == {str(src): 3} and stats["undecodable_bytes"] == 6
    assert stats["dropped"]["undecodable"] == 3 and stats["invariant_ok"]
    assert f"{src}: 3 documents hold bytes that could not be decoded" in caplog.text
    assert not any("\ufffd" in t for t in _kept(tmp_path / "out"))


def test_completion_key_includes_the_version(tmp_path, monkeypatch):
    import langadapt
    from langadapt.data.pipeline import CleanOptions, run_key

    src = tmp_path / "in.txt"
    src.write_text("Монгол улсын нийслэл Улаанбаатар хот юм.\n", encoding="utf-8")
    opts = CleanOptions(inputs=[str(src)])
    key = run_key(opts)
    assert run_key(opts) == key
    monkeypatch.setattr(langadapt, "__version__", "99.0.0")
    assert run_key(opts) != key  # output of another version is not taken as finished
