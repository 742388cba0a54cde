"""A CLI run killed midway (SIGKILL), re-run: the same file, and no stored answer asked twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from fake_openai_server import FakeServer

from langadapt.runs import hash_obj
from langadapt.synth.run import journal_path, read_journal


def _cli(server, inp, out, *extra):
    return [sys.executable, "-m", "langadapt", "translate", "--backend", "openai", "--base-url",
            server.url, "--model", "test-model", "--concurrency", "2", "--src", "eng_Latn", "--tgt",
            "khk_Cyrl", *extra, str(inp), str(out)]


def _key(body):
    """The cache key of a logged request, as the client computes it."""
    server = {"model": body["model"], "temperature": body["temperature"],  # as ServerOptions.output_key
              "max_tokens": body["max_tokens"], "seed": body.get("seed")}
    return hash_obj({"server": server, "messages": body["messages"]})


def test_killed_run_resumes_to_the_same_file_without_asking_twice(fixture_file, tmp_path):
    with FakeServer(delay_s=0.05) as server:
        whole = tmp_path / "whole.jsonl"
        subprocess.run(_cli(server, fixture_file, whole), check=True, capture_output=True)
        n_distinct = len(server.log)
        assert len({_key(r["body"]) for r in server.log}) == n_distinct

        out = tmp_path / "killed.jsonl"
        journal = journal_path(out)
        start = len(server.log)
        proc = subprocess.Popen(_cli(server, fixture_file, out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if journal.is_file() and journal.read_bytes().count(b"\n") >= 11:  # run key + 10 answers
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert not out.exists()
        stored = set(read_journal(journal))
        assert 10 <= len(stored) < n_distinct

        rerun = len(server.log)
        res = subprocess.run(_cli(server, fixture_file, out, "--json"), capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        asked_again = [_key(r["body"]) for r in server.log[rerun:]]
        assert not stored & set(asked_again)          # nothing stored was paid for twice
        assert len(asked_again) == n_distinct - len(stored)
        assert len(server.log[start:rerun]) >= len(stored)
    assert out.read_bytes() == whole.read_bytes()
    rows = {r["metric"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["translate.resumed"]["value"] == len(stored)
    assert not journal.parent.exists()
