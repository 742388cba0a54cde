"""datatrove's `LocalPipelineExecutor`, with worker processes that keep quiet.

datatrove logs every task to stderr through loguru, in each worker process too, so
an error in a `--workers N` task printed its traceback next to the command's own
one-line report. Workers here log nothing unless the command runs with `--debug`:
a failed task's error reaches the command, which reports it in one line.
"""

from __future__ import annotations

import os

from datatrove.executor import LocalPipelineExecutor


class LocalExecutor(LocalPipelineExecutor):
    """`LocalPipelineExecutor` whose workers follow the command's `--debug` for datatrove's log."""

    def __init__(self, *args, quiet: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.quiet = quiet
        self.parent = os.getpid()

    def _launch_run_for_rank(self, rank: int, ranks_q, completed=None, completed_lock=None):
        if os.getpid() != self.parent and self.quiet:  # in a pool worker
            from loguru import logger

            logger.disable("datatrove")
        return super()._launch_run_for_rank(rank, ranks_q, completed, completed_lock)
