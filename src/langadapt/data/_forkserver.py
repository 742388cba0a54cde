"""Preloaded by the forkserver of `LocalExecutor`'s pools: the forkserver dies with the
command that started it, and so does every worker it forks (see `lifetime`)."""

import os

from langadapt.data import lifetime

lifetime.die_with(os.getppid())
lifetime.watch_forks_forever()
