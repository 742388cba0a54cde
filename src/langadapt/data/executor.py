"""The executors that run the cleaning stages: local (default), Ray, Slurm (all datatrove's).

`EXECUTORS` maps `--executor` names to factories; `ClusterOptions` holds the
per-task resources Ray and Slurm ask for.

The local one is datatrove's `LocalPipelineExecutor`, whose processes die with the command.

`LocalPipelineExecutor` runs tasks in a `multiprocess` pool whose workers a forkserver
starts, next to a manager process forked from the command; none of them notices when
the command is killed. Here the manager gets the parent-death signal when it is
forked, the forkserver preloads `_forkserver` (it and each worker it forks get it
too), and each task checks again when it starts, in case the forkserver was started
without that preload. Workers also keep datatrove's per-task log quiet unless the
command runs with `--debug`: a failed task's error reaches the command, which
reports it in one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from langadapt.data.lifetime import die_with, start_time, watched_forks
from langadapt.errors import ConfigError, DataError, LangadaptError
from langadapt.registry import Registry

_PRELOAD = ["__main__", "langadapt.data._forkserver"]


class LocalExecutor(LocalPipelineExecutor):
    """`LocalPipelineExecutor` whose processes end when the command that started them ends."""

    def __init__(self, *args, quiet: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.quiet = quiet
        self.parent = (os.getpid(), start_time(os.getpid()))

    def run(self):
        if self.workers != 1 and self.start_method == "forkserver":
            import multiprocess

            # applies when the forkserver starts (once per process)
            multiprocess.get_context("forkserver").set_forkserver_preload(_PRELOAD)
        with watched_forks():
            return super().run()

    def _launch_run_for_rank(self, rank: int, ranks_q, completed=None, completed_lock=None):
        if os.getpid() != self.parent[0]:  # in a pool worker
            die_with(*self.parent)
            if self.quiet:
                from loguru import logger

                logger.disable("datatrove")
        return super()._launch_run_for_rank(rank, ranks_q, completed, completed_lock)


def _local(pipeline, tasks: int, workers: int, logging_dir: str, cluster, quiet: bool, depends, name):
    return LocalExecutor(
        pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=logging_dir, quiet=quiet
    )


def _ray(pipeline, tasks: int, workers: int, logging_dir: str, cluster, quiet: bool, depends, name):
    from datatrove.executor import RayPipelineExecutor

    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("the ray executor needs ray: pip install 'langadapt[ray]'",
                          key="executor") from None
    # run one stage at a time (no `depends`: datatrove's Ray executor polls a dependency every 2 min)
    return RayPipelineExecutor(
        pipeline,
        tasks=tasks,
        workers=tasks,
        logging_dir=logging_dir,
        cpus_per_task=cluster.cpus_per_task,
        mem_per_cpu_gb=cluster.mem_per_cpu_gb,
    )


def _slurm(pipeline, tasks: int, workers: int, logging_dir: str, cluster, quiet: bool, depends, name):
    import sys

    from datatrove.executor import SlurmPipelineExecutor

    if not cluster.partition:
        raise ConfigError("the slurm executor needs a partition", key="cluster.partition")
    env = cluster.env_command
    if env is None and sys.prefix != sys.base_prefix:
        env = f"source {Path(sys.prefix) / 'bin' / 'activate'}"
    return SlurmPipelineExecutor(
        pipeline,
        tasks=tasks,
        time=cluster.time,
        partition=cluster.partition,
        cpus_per_task=cluster.cpus_per_task,
        mem_per_cpu_gb=cluster.mem_per_cpu_gb,
        job_name=name,
        qos=cluster.qos or "",
        env_command=env,
        sbatch_args={
            # whole megabytes: sbatch refuses datatrove's "2.0G"
            "mem-per-cpu": f"{round(cluster.mem_per_cpu_gb * 1024)}M",
            # a job whose dependency failed is cancelled instead of pending for ever
            "kill-on-invalid-dep": "yes",
            **cluster.sbatch_args,
        },
        depends=depends,
        logging_dir=logging_dir,
        requeue=False,
        mail_type="NONE",
    )


# name -> factory(pipeline, tasks, workers, logging_dir, cluster, quiet, depends, job name)
EXECUTORS: Registry = Registry("executor", key="executor")
EXECUTORS.add("local", _local)
EXECUTORS.add("ray", _ray)
EXECUTORS.add("slurm", _slurm)


def incomplete_tasks(executor) -> list[int]:
    """Tasks of a stage that have no completion marker (failed or never ran)."""
    return executor.get_incomplete_ranks(range(executor.world_size))


def task_error(stage: str, failed: list[int], logs: Path) -> LangadaptError:
    """The error a failed task logged (a DataError stays one), or where to look."""
    for f in sorted((Path(logs) / "logs").glob("task_*.log")):
        found = re.findall(r"langadapt\.errors\.(\w+): (.+)", f.read_text(errors="replace"))
        if found:
            kind, msg = found[-1]
            return DataError(msg) if kind == "DataError" else LangadaptError(msg)
    where = Path(logs) / "logs"
    return LangadaptError(f"stage {stage}: tasks {failed} did not finish; their logs are in {where}")


class _Call(PipelineStep):
    """A one-task stage that calls `fn(*args)` (a Slurm job clearing old outputs, or finalizing)."""

    name = "call"

    def __init__(self, call: tuple):
        super().__init__()
        self.call = call

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        fn, *args = self.call
        fn(*args)
        yield from ()


def slurm_chain(stages: list[tuple], logs: Path, workers: int, cluster, before_output: tuple, after: tuple):
    """Slurm executors for `stages` ((name, pipeline, tasks)), each depending on the one before.

    A one-task job calls `before_output` before the `output` stage (removing an earlier
    run's outputs only once this run got that far) and a last one calls `after`.
    """
    chain, prev = [], None
    todo = []
    for name, pipeline, tasks in stages:
        if name == "output":
            todo.append(("clear_outputs", [_Call(before_output)], 1))
        todo.append((name, pipeline, tasks))
    todo.append(("finalize", [_Call(after)], 1))
    for name, pipeline, tasks in todo:
        prev = _slurm(pipeline, tasks, workers, str(Path(logs) / name), cluster, True, prev, f"clean-{name}")
        chain.append(prev)
    return chain


def wait_for_slurm(job_id, marker: Path, poll: float, logs: Path) -> None:
    """Wait until `marker` exists; fail when job `job_id` left the queue without writing it."""
    while not marker.exists():
        queued = subprocess.run(["squeue", "-h", "-j", str(job_id)], capture_output=True, text=True)
        gone = "Invalid job id" in queued.stderr  # already purged from the controller
        if (gone or (queued.returncode == 0 and not queued.stdout.strip())) and not marker.exists():
            raise LangadaptError(f"the Slurm jobs ended without finishing the run; see the logs under {logs}")
        time.sleep(poll)
