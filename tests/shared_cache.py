"""Folders built once per test run and shared by the parallel workers (pytest-xdist)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock


def run_root(tmp_path_factory) -> Path:
    """The test run's temp folder: under xdist the parent of each worker's own base folder."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def shared_dir(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name`, made by `build(folder)` once per test run and shared by all workers.

    The first worker to ask builds it under a file lock; the others wait for it and reuse it.
    A build that failed is removed and tried again by the next one to ask.
    """
    out = run_root(tmp_path_factory) / "shared" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    done = out.with_name(f"{name}.done")
    with FileLock(f"{out}.lock"):
        if not done.exists():
            if out.exists():
                shutil.rmtree(out)
            build(out)
            done.touch()
    return out
