import json
import stat
import subprocess
import sys

import pytest

from langadapt.errors import LangadaptError
from langadapt.names import inside
from langadapt.runs import ResultRow, RunStore, atomic_dir, atomic_write_text, hash_files, signature


def test_atomic_write_leaves_no_temp(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_discards_on_error(tmp_path):
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "out") as d:
        (d / "half").write_text("...")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_run_store_results_and_markers(tmp_path):
    store = RunStore(tmp_path)
    store.replace_results("s1", [ResultRow(metric="bpb", value=1.0)])
    store.replace_results("s2", [ResultRow(metric="bleu", value=2.0, ci=[1.0, 3.0], n=5)])
    store.replace_results("s1", [ResultRow(metric="bpb", value=0.5)])
    rows = store.results()
    assert sorted((r.metric, r.value) for r in rows) == [("bleu", 2.0), ("bpb", 0.5)]
    json.loads(store.results_path.read_text().splitlines()[0])
    assert not store.is_done("s1", "k")
    store.mark_done("s1", "k")
    assert store.is_done("s1", "k") and not store.is_done("s1", "other")


def test_hash_and_signature(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("one")
    h1 = hash_files([a])
    a.write_text("two")
    assert hash_files([a]) != h1
    sig = signature(options={"x": 1}, seed=3, data=[a], config={"k": 1})
    assert sig["seed"] == 3 and sig["data_hash"] and "transformers" in sig["tools"]


@pytest.mark.parametrize("stage_id", ["../x", "a/../../b", "/abs", ".hidden", "", "a..b", "x" * 300,
                                      "a\x00b"])
def test_stage_folders_stay_inside_the_run(tmp_path, stage_id):
    store = RunStore(tmp_path / "run")
    with pytest.raises(LangadaptError):
        store.stage_dir(stage_id)
    with pytest.raises(LangadaptError):
        store.work_dir(stage_id)
    assert store.stage_dir("cpt.lora") == tmp_path / "run" / "stages" / "cpt.lora"


def test_inside_follows_symbolic_links(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run" / "link").symlink_to(tmp_path / "elsewhere")
    assert inside(tmp_path / "run", tmp_path / "run" / "a" / "b") == tmp_path / "run" / "a" / "b"
    for escaping in (tmp_path / "run" / "link" / "x", tmp_path / "run" / ".." / "elsewhere", tmp_path):
        with pytest.raises(LangadaptError, match="outside the run folder"):
            inside(tmp_path / "run", escaping)


WRITE_FILES = """
import os, sys
os.umask(int(sys.argv[2], 8))
from langadapt.runs import atomic_dir, atomic_write_json, atomic_write_text
out = sys.argv[1]
atomic_write_text(os.path.join(out, "a.txt"), "x")
atomic_write_json(os.path.join(out, "stats.json"), {"n": 1})
with atomic_dir(os.path.join(out, "stage")) as d:
    (d / "inner.txt").write_text("y")
    import tempfile
    fd, name = tempfile.mkstemp(dir=d)  # as libraries write (0600): settled to the umask's mode
    os.close(fd)
    os.rename(name, d / "weights.bin")
    (d / "script.sh").write_text("#!/bin/sh")
    (d / "script.sh").chmod(0o750)  # a mode written on purpose stays
"""


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, file_mode, dir_mode):
    # A fresh process: the umask is read once per process, as it is set before any write.
    r = subprocess.run([sys.executable, "-c", WRITE_FILES, str(tmp_path), oct(umask)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert mode == {"a.txt": file_mode, "stats.json": file_mode, "stage": dir_mode,
                    "inner.txt": 0o666 & ~umask, "weights.bin": 0o666 & ~umask, "script.sh": 0o750,
                    ".langadapt-output.json": file_mode}


def test_signature_asks_git_once_per_process(monkeypatch):
    from langadapt import runs

    calls = []
    real_run = subprocess.run

    def counting_run(cmd, *a, **kw):
        calls.append(cmd)
        return real_run(cmd, *a, **kw)

    runs.git_sha.cache_clear()
    monkeypatch.setattr(runs.subprocess, "run", counting_run)
    first = [signature(seed=i)["git"] for i in range(3)]
    assert len([c for c in calls if c[:2] == ["git", "rev-parse"]]) == 1
    assert first[0] == first[1] == first[2]
