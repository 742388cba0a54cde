"""Local executor: the processes of `data clean --workers 2` die with the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _stat(pid: int) -> list[str] | None:
    """Fields after the command name in /proc/<pid>/stat (state first, then ppid), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        st = _stat(int(d.name)) if d.name.isdigit() else None
        if st:
            kids.setdefault(int(st[1]), []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.add(k)
            todo.append(k)
    return out


def _running(pids: set[int]) -> set[int]:
    return {p for p in pids if (st := _stat(p)) and st[0] not in ("Z", "X")}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_killed_command_takes_its_workers_along_and_a_rerun_resumes(data_dir, tmp_path):
    # two files, so each of the two workers has one to read (a small single file goes to one)
    lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
    srcs = [tmp_path / "news1.txt", tmp_path / "news2.txt"]
    srcs[0].write_text("\n".join(lines[:4000]) + "\n", encoding="utf-8")
    srcs[1].write_text("\n".join(lines[4000:8000]) + "\n", encoding="utf-8")
    args = [sys.executable, "-m", "langadapt", "data", "clean", *map(str, srcs), "--workers", "2",
            "--no-dedup-near"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run([*args, "--out", str(tmp_path / "ref")], check=True, capture_output=True, env=env)

    out = tmp_path / "killed"
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([*args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=err, env=env)
    # each worker streams its shard into a temp file beside it (`.00000.jsonl.<pid>-….tmp`)
    folder = out / "work" / "filtered"

    def started() -> bool:
        return all(any(folder.glob(f".{rank:05d}.jsonl.*.tmp")) for rank in (0, 1))

    deadline = time.time() + 300
    while not started() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    kids = _running(_descendants(proc.pid))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert started(), "the workers never started"
    assert len(kids) >= 3, kids  # the manager and two workers at least (and the forkserver)

    deadline = time.time() + 5
    while _running(kids) and time.time() < deadline:
        time.sleep(0.05)
    left = _running(kids)
    for pid in left:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running 5 s after the command was killed: {left}"
    assert not (out / "stats.json").exists(), "the run was not stopped midway"
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text(errors="replace")

    subprocess.run([*args, "--out", str(out)], check=True, capture_output=True, env=env)
    assert _files(out) == _files(tmp_path / "ref")
