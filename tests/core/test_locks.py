"""One writer per output: run folders, `data clean` / `data tokenize` outputs (the model cache
is in tests/models/test_fetch_cache.py)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from langadapt.cli import main
from langadapt.locks import LockedError, exclusive, lock_file

PLUGIN = '''
import os
import time
from pathlib import Path
from langadapt.config import StrictModel
from langadapt.runs import ResultRow
from langadapt.stages import Stage, register_stage


@register_stage
class Gate(Stage):
    kind = "locks.gate"

    class Options(StrictModel):
        src: str | None = None

    def run(self, opts, ctx):
        with open(os.environ["LOCKS_LOG"], "a") as f:
            f.write(f"{os.getpid()} {ctx.stage_id}\\n")
        go = Path(os.environ["LOCKS_GO"])
        deadline = time.time() + 120
        while not go.exists() and time.time() < deadline:  # hold the run until the test says go
            time.sleep(0.05)
        (ctx.out_dir / "half.txt").write_text("partial")
        text = Path(opts.src).read_text() if opts.src else ""
        (ctx.out_dir / "out.txt").write_text(text + ctx.stage_id)
        return [ResultRow(metric="chars", value=len(text), dataset="toy")]
'''

RECIPE = """\
name: locks
seed: 0
output_dir: {out}
imports: [locks_plugin]
stages:
  - id: first
    kind: locks.gate
    with: {{}}
  - id: second
    kind: locks.gate
    with: {{src: "@first/out.txt"}}
"""


@pytest.fixture
def recipe(tmp_path, monkeypatch):
    (tmp_path / "locks_plugin.py").write_text(PLUGIN)
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(out=tmp_path / "run"))
    monkeypatch.setenv("LOCKS_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("LOCKS_GO", str(tmp_path / "go"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def _calls(tmp_path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _complete(run) -> None:
    assert sorted(p.name for p in (run / "stages").iterdir()) == ["first", "second"]  # no temp folder
    assert (run / "stages" / "second" / "out.txt").read_text() == "firstsecond"
    assert all((run / "stages" / s / "DONE.json").is_file() for s in ("first", "second"))
    assert len((run / "results.jsonl").read_text().splitlines()) == 2


def test_two_runs_of_one_folder_started_together_leave_one_complete_run(recipe, tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "langadapt", "run", str(recipe), "--no-report"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        # The holder sits in its first stage until `go` exists: the other one must end meanwhile
        # (without a lock both reach the stage, and the test lets them go on to show what happens).
        deadline = time.time() + 120
        while all(p.poll() is None for p in procs) and len(_calls(tmp_path)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        (tmp_path / "go").touch()
        errs = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert not any("Traceback" in e for e in errs), errs
    assert sorted(p.returncode for p in procs) == [0, 2], errs
    holder, refused = sorted(procs, key=lambda p: p.returncode)
    [line] = [x for x in errs[procs.index(refused)].splitlines() if x.startswith("langadapt: error")]
    assert f"pid {holder.pid} on {socket.gethostname()}" in line and "--wait" in line
    assert "langadapt run" in line and str(tmp_path / "run") in line
    assert _calls(tmp_path) == [f"{holder.pid} first", f"{holder.pid} second"]
    _complete(tmp_path / "run")


def _hold_until_waited_for(target) -> threading.Thread:
    """Hold `target`'s lock in a thread of this process until another caller logs that it
    waits for it (at most 60 s); returns once the lock is held."""
    held, waited = threading.Event(), threading.Event()

    class Seen(logging.Handler):
        def emit(self, record):
            if "waiting for it" in record.getMessage():
                waited.set()

    def hold():
        handler = Seen()
        logging.getLogger("langadapt.locks").addHandler(handler)
        try:
            with exclusive(target, "test output"):
                held.set()
                waited.wait(60)
        finally:
            logging.getLogger("langadapt.locks").removeHandler(handler)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)
    return t


def test_a_second_run_is_refused_naming_pid_and_host_or_waits_with_wait(recipe, tmp_path, capsys, caplog):
    (tmp_path / "go").touch()
    run = tmp_path / "run"
    with exclusive(run, "run folder"):
        assert main(["run", str(recipe), "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"pid {os.getpid()} on {socket.gethostname()}" in err[0]
    assert _calls(tmp_path) == [] and not (run / "stages").exists()
    t = _hold_until_waited_for(run)
    with caplog.at_level(logging.INFO, logger="langadapt.locks"):
        assert main(["run", str(recipe), "--no-report", "--wait"]) == 0
    t.join()
    assert any(f"in use by pid {os.getpid()}" in r.message and "waiting" in r.message for r in caplog.records)
    _complete(run)


def test_a_stale_lock_of_a_dead_process_does_not_block(recipe, tmp_path, capsys, caplog):
    (tmp_path / "go").touch()
    run = tmp_path / "run"
    code = ("import sys, time; from langadapt.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'run folder'):\n    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGKILL)  # no cleanup: its record stays beside the lock
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
    record = json.loads(lock_file(run).read_text())
    assert record["pid"] == holder.pid
    with caplog.at_level(logging.INFO, logger="langadapt.locks"):
        assert main(["run", str(recipe), "--no-report"]) == 0
    assert any(f"taking over the lock left by pid {holder.pid}" in r.message and "no longer running"
               in r.message for r in caplog.records)
    _complete(run)
    assert not lock_file(run).exists()  # released: nothing left beside the run folder


def test_a_child_that_outlives_a_killed_holder_does_not_keep_the_lock(tmp_path, caplog):
    target = tmp_path / "out"
    code = ("import os, sys, time; from langadapt.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'output'):\n"
            "    ready = sys.argv[1] + '.forked'\n"
            "    child = os.fork()\n"
            "    if child == 0:\n        open(ready, 'w').close(); time.sleep(30); os._exit(0)\n"
            "    while not os.path.exists(ready):\n        time.sleep(0.01)\n"
            "    print(child, flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(holder.stdout.readline())
        holder.send_signal(signal.SIGKILL)  # the forked child (a worker) lives on
        holder.wait(10)
        with caplog.at_level(logging.INFO, logger="langadapt.locks"), exclusive(target, "output"):
            pass
    finally:
        for pid in (holder.pid, child):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert any(f"left by pid {holder.pid}" in r.message for r in caplog.records)


def test_data_clean_refuses_an_output_another_process_writes(tmp_path, data_dir, capsys):
    src = tmp_path / "in.txt"
    src.write_text("\n".join((data_dir / "mono" / "news_ner_v1.txt").read_text().splitlines()[:20]) + "\n")
    out = tmp_path / "clean"
    with exclusive(out, "data clean output"):
        assert main(["data", "clean", str(src), "--out", str(out), "--no-dedup-near", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"pid {os.getpid()} on {socket.gethostname()}" in err[0] and str(out) in err[0]
    assert not out.exists()


def test_data_tokenize_waits_for_the_process_writing_its_output(tmp_path, data_dir, tokenizers_dir,
                                                                capsys, caplog):
    src = str(data_dir / "mono" / "bible_mbspeech.txt")
    out = tmp_path / "shards"
    t = _hold_until_waited_for(out)
    with caplog.at_level(logging.INFO, logger="langadapt.locks"):
        assert main(["data", "tokenize", src, "--tokenizer", str(tokenizers_dir / "qwen3"),
                     "--out", str(out), "--json"]) == 0
    t.join()
    assert any(f"in use by pid {os.getpid()} on {socket.gethostname()}" in r.message for r in caplog.records)
    from langadapt.data.token_shards import TokenShards

    assert TokenShards.open(out).num_docs > 0 and not lock_file(out).exists()


def test_a_refusal_after_a_limited_wait_names_the_holder(tmp_path):
    target = tmp_path / "out"
    with exclusive(target, "output"):
        t0 = time.perf_counter()
        with pytest.raises(LockedError, match=f"still in use by pid {os.getpid()}.*after waiting 0.3 s"):
            with exclusive(target, "output", wait=0.3):
                pass
        assert time.perf_counter() - t0 < 5
