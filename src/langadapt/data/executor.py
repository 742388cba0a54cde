"""datatrove's `LocalPipelineExecutor`, whose processes die with the command.

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

from datatrove.executor import LocalPipelineExecutor

from langadapt.data.lifetime import die_with, start_time, watched_forks

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
