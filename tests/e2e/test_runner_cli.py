"""`langadapt run` as a user runs it: one-line errors, no partial outputs, kill and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from langadapt.cli import main

PLUGIN = '''
import os
import time
from pathlib import Path
from langadapt.config import StrictModel
from langadapt.runs import ResultRow
from langadapt.stages import Stage, register_stage


@register_stage
class Step(Stage):
    kind = "e2e.step"

    class Options(StrictModel):
        sleep: float = 0.0
        src: str | None = None

    def run(self, opts, ctx):
        with open(os.environ["E2E_LOG"], "a") as f:
            f.write(ctx.stage_id + "\\n")
        (ctx.out_dir / "half.txt").write_text("partial")
        time.sleep(opts.sleep)
        extra = len(Path(opts.src).read_text()) if opts.src else 0
        (ctx.out_dir / "out.txt").write_text(ctx.stage_id)
        return [ResultRow(metric="bpb", value=1.0 + extra / 100, ci=[0.9, 1.2], n=3, dataset="toy")]
'''

RECIPE = """\
name: e2e
seed: 0
output_dir: {out}
imports: [e2e_plugin]            # registers the e2e.step kind
stages:
  - id: first
    kind: e2e.step
    with: {{}}
  - id: slow
    kind: e2e.step
    with: {{src: "@first/out.txt"}}
    variants:
      a: {{sleep: 0}}
      b: {{sleep: 0}}
  - id: last
    kind: e2e.step
    with: {{src: "@slow/out.txt"}}
"""


@pytest.fixture
def setup(tmp_path, monkeypatch, capsys):
    (tmp_path / "e2e_plugin.py").write_text(PLUGIN)
    recipe = tmp_path / "recipe.yaml"
    out, log = tmp_path / "run", tmp_path / "calls.log"
    recipe.write_text(RECIPE.format(out=out))
    path = f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env = dict(os.environ, E2E_LOG=str(log), PYTHONPATH=path)
    monkeypatch.setenv("E2E_LOG", str(log))
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(*args, wait=True):
        """`langadapt run` in this process (exit status and output as a finished process's);
        with wait=False a real process, for the tests that kill it."""
        cmd = [sys.executable, "-m", "langadapt", "run", str(recipe), *args]
        if not wait:
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        capsys.readouterr()
        code = main(cmd[3:])
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(cmd, code, printed.out, printed.err)

    def calls():
        return log.read_text().split() if log.exists() else []

    return run, calls, out, recipe


def test_run_then_rerun_is_cached(setup):
    run, calls, out, _ = setup
    r = run()
    assert r.returncode == 0, r.stderr
    assert calls() == ["first", "slow.a", "slow.b", "last.a", "last.b"]
    for name in ("report.html", "results.md", "results.jsonl", "recipe.resolved.yaml", "bpb.png"):
        assert (out / name).is_file(), name
    r = run("--dry-run")
    assert "0 of 5 stages to run" in r.stdout
    r = run()
    assert r.returncode == 0 and len(calls()) == 5
    assert sum(ln.rstrip().endswith(" cached") for ln in r.stdout.splitlines()) == 5


@pytest.mark.parametrize("edit, needle", [
    (("with: {{}}", "with: {{slep: 1}}"), ":8: key 'stages.first.with.slep'"),
    (("imports: [e2e_plugin]", "imports: [e2e_plugin]\nmodel: x"), ":5: key 'model': unknown key"),
    (("with: {{}}", "with: {{src: ./no/such.txt}}"), "no/such.txt"),
])
def test_bad_recipe_exits_2_with_one_line_and_no_outputs(setup, edit, needle):
    run, calls, out, recipe = setup
    text = RECIPE.replace(*edit).format(out=out)
    recipe.write_text(text)
    r = run()
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not out.exists() and calls() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_kill_and_resume(setup, sig):
    run, calls, out, _ = setup
    p = run("slow.variants.a.sleep=60", wait=False)
    deadline = time.time() + 120
    while "slow.a" not in calls() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    p.send_signal(sig)
    p.wait(timeout=60)
    assert p.returncode != 0
    done = sorted(d.name for d in (out / "stages").iterdir() if not d.name.startswith("."))
    assert done == ["first"]  # the killed stage left no folder of its own
    if sig == signal.SIGTERM:
        assert not [d for d in (out / "stages").iterdir() if d.name.startswith(".")]
    r = run()
    assert r.returncode == 0, r.stderr
    assert calls() == ["first", "slow.a", "slow.a", "slow.b", "last.a", "last.b"]
    assert not [d for d in (out / "stages").iterdir() if d.name.startswith(".")]
    assert all((d / "DONE.json").is_file() for d in (out / "stages").iterdir())


def test_force_reruns_stage_and_downstream(setup):
    run, calls, _, _ = setup
    assert run().returncode == 0
    r = run("--force", "slow")
    assert r.returncode == 0, r.stderr
    assert calls()[5:] == ["slow.a", "slow.b", "last.a", "last.b"]
    assert run("--force", "nope").returncode == 2


def test_helpful_cli(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--dry-run" in out and "--force" in out


TRAINING = """\
name: rerun
seed: 0
output_dir: {out}
stages:
  - id: split
    kind: text.split
    with: {{inputs: ["{text}"], heldout: 4}}
  - id: init
    kind: model.tiny
    with: {{arch: qwen3, tokenizer: "{tokenizer}", layers: 1, hidden: 16, heads: 2,
           kv_heads: 1, intermediate: 32}}
  - id: cpt
    kind: train
    with: {{model: "@init", objective: cpt, data: {{train: ["@split/train.txt"]}},
           max_steps: 2, seq_len: 16, batch_size: 2}}
    variants:
      lora: {{method: lora}}
      full: {{method: full}}
"""


def _fingerprint(root) -> dict:
    """Every entry under `root`: mode, and for files content hash and modification time."""
    import hashlib

    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[str(p.relative_to(root))] = (st.st_mode, digest, st.st_mtime_ns if digest else None)
    return out


def test_second_run_of_a_finished_recipe_changes_no_file(tmp_path, data_dir, trimmed_tokenizer, capsys):
    """Caching is the runner's job: a finished stage (here two training variants) is not run
    again, and nothing in the run folder is rewritten, not even the report."""
    docs = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:40]
    text = tmp_path / "news.txt"
    text.write_text("\n".join(docs) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TRAINING.format(out=out, text=text, tokenizer=trimmed_tokenizer("qwen3")),
                      encoding="utf-8")
    assert main(["run", str(recipe)]) == 0, capsys.readouterr().err
    assert (out / "report.html").is_file() and (out / "stages" / "cpt.full" / "DONE.json").is_file()
    before = _fingerprint(out)
    time.sleep(0.05)  # a rewrite, even of identical bytes, would show as a newer time
    capsys.readouterr()
    assert main(["run", str(recipe)]) == 0, capsys.readouterr().err
    stage_lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert len(stage_lines) == 4 and all(ln.rstrip().endswith("cached") for ln in stage_lines)
    after = _fingerprint(out)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}
    assert set(before) == set(after)
