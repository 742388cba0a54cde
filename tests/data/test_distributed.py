"""`data clean --executor ray|slurm`: the same documents and stats as the local executor."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from langadapt.data.options import CleanOptions, ClusterOptions
from langadapt.data.pipeline import build_stages, clean, run_key


@pytest.fixture(scope="module")
def small_input(data_dir, tmp_path_factory) -> Path:
    """300 news lines, 30 exact repeats, 10 English lines."""
    news = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:300]
    lines = news + news[:30] + ["The minister visited the northern provinces this week."] * 10
    p = tmp_path_factory.mktemp("in") / "small.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


# two tasks reading two byte ranges of the input; 2 MinHash bands keep the bucket stage at 2 tasks
SMALL = {"workers": 2, "split_bytes": 4096, "minhash_buckets": 2}


@pytest.fixture(scope="module")
def local_run(small_input, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    return out, clean(CleanOptions(inputs=[str(small_input)], **SMALL), out)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((out / "data").glob("*.jsonl.gz"))
            for line in gzip.open(p, "rt", encoding="utf-8")]


def test_ray_executor_matches_local(local_run, small_input, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'langadapt[ray]')")
    out1, stats1 = local_run
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, object_store_memory=80 << 20)
    try:
        opts = CleanOptions(inputs=[str(small_input)], **SMALL, executor="ray",
                            cluster=ClusterOptions(mem_per_cpu_gb=0.25))
        stats = clean(opts, tmp_path / "ray")
    finally:
        ray.shutdown()
    assert stats == stats1
    assert _records(tmp_path / "ray") == _records(out1)
    # the executor does not change what is written, so it is not part of the completion key
    assert run_key(opts) == run_key(opts.model_copy(update={"executor": "local"}))


def _fake_sbatch(monkeypatch) -> list[tuple[str, list[str]]]:
    """Capture the job scripts instead of submitting them; job ids count from 100."""
    import datatrove.executor.slurm as slurm

    jobs: list[tuple[str, list[str]]] = []

    def launch(contents, retriever, *args):
        jobs.append((contents, list(args)))
        return str(100 + len(jobs) - 1)

    monkeypatch.setattr(slurm, "launch_slurm_job", launch)
    return jobs


def test_slurm_job_scripts(small_input, tmp_path, monkeypatch):
    """The chain of sbatch scripts: one array job per stage, each after the one before, and each
    script runs its stage's pickled pipeline; run here as Slurm would, they produce the local run's
    output."""
    from langadapt.data.executor import slurm_chain
    from langadapt.data.pipeline import _clear_old_outputs, _prepare, finalize

    jobs = _fake_sbatch(monkeypatch)
    # without near dedup (24 bucket tasks): every task below is one process start
    fast = {"inputs": [str(small_input)], "workers": 2, "split_bytes": 4096, "dedup_near": False}
    opts = CleanOptions(**fast, executor="slurm",
                        cluster=ClusterOptions(partition="cpu", time="01:00:00", cpus_per_task=2,
                                               env_command="source /opt/venv/bin/activate"))
    out = tmp_path / "out"
    key = run_key(opts)
    _prepare(out, key)
    stages = build_stages(opts, out)
    chain = slurm_chain([(s.name, s.pipeline, s.tasks) for s in stages], out / "work" / "logs", opts.workers,
                        opts.cluster, before_output=(_clear_old_outputs, out, key),
                        after=(finalize, opts, out, [s.name for s in stages], key))
    chain[-1].run()
    names = [s.name for s in stages]
    expected = [*names[:-1], "clear_outputs", "output", "finalize"]
    # each stage: its array job, then datatrove's merge-stats job
    scripts = [(c, a) for c, a in jobs if "launch_pickled_pipeline" in c]
    assert len(scripts) == len(expected) and len(jobs) == 2 * len(expected)
    tasks = {s.name: s.tasks for s in stages} | {"clear_outputs": 1, "finalize": 1}
    prev_id = None
    for (contents, args), name in zip(scripts, expected):
        assert f"#SBATCH --job-name=clean-{name}\n" in contents
        assert f"#SBATCH --array=0-{tasks[name] - 1}\n" in contents
        assert "#SBATCH --partition=cpu\n" in contents and "#SBATCH --time=01:00:00\n" in contents
        assert "#SBATCH --cpus-per-task=2\n" in contents and "#SBATCH --kill-on-invalid-dep=yes\n" in contents
        assert "#SBATCH --mem-per-cpu=2048M\n" in contents
        assert "source /opt/venv/bin/activate" in contents
        pik = out / "work" / "logs" / name / "executor.pik"
        assert f"launch_pickled_pipeline {pik}" in contents and pik.exists()
        if prev_id is not None:
            assert f"--dependency=afterok:{prev_id}" in args
        prev_id = str(100 + jobs.index((contents, args)))
    # run every array task as Slurm would (one process per task, in dependency order)
    fake = tmp_path / "bin"  # datatrove asks `scontrol show hostnames` for the node list
    fake.mkdir()
    (fake / "scontrol").write_text("#!/bin/sh\necho localhost\n")
    (fake / "scontrol").chmod(0o755)
    env = {**os.environ, "SLURM_NODELIST": "localhost", "PATH": f"{fake}:{os.environ['PATH']}"}
    launcher = Path(sys.executable).parent / "launch_pickled_pipeline"
    for name in expected:
        for i in range(tasks[name]):
            subprocess.run([str(launcher), str(out / "work" / "logs" / name / "executor.pik")],
                           env={**env, "SLURM_ARRAY_TASK_ID": str(i)}, check=True, capture_output=True)
    local = clean(CleanOptions(**fast), tmp_path / "local")
    assert json.loads((out / "stats.json").read_text()) == local
    assert _records(out) == _records(tmp_path / "local")
    assert json.loads((out / ".complete.json").read_text()) == {"key": key}


def _slurm_partition() -> str | None:
    """The default partition of a reachable Slurm controller (e.g. a single-node slurm-wlm)."""
    import shutil

    if not shutil.which("sinfo"):
        return None
    try:  # without a controller sinfo gives up after ~10 s
        res = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    names = [p.rstrip("*") for p in res.stdout.split() if p.endswith("*")] if res.returncode == 0 else []
    return names[0] if names else None


def test_slurm_end_to_end_on_a_running_cluster(small_input, tmp_path):
    partition = _slurm_partition()
    if partition is None:
        pytest.skip("no Slurm controller answers sinfo (start slurm-wlm's slurmctld and slurmd to run this)")
    fast = {"inputs": [str(small_input)], "workers": 2, "split_bytes": 4096, "dedup_near": False}
    cluster = ClusterOptions(partition=partition, time="00:20:00", mem_per_cpu_gb=1, poll_seconds=2)
    stats = clean(CleanOptions(**fast, executor="slurm", cluster=cluster), tmp_path / "slurm")
    assert stats == clean(CleanOptions(**fast), tmp_path / "local")
    assert _records(tmp_path / "slurm") == _records(tmp_path / "local")
