"""Processes that die with the command that started them.

If a command is killed (`kill -9`, the OOM killer), the processes it started do not
notice by themselves: datatrove's pool workers keep reading input and fail later with
BrokenPipe tracebacks, and its manager process waits forever. `die_with` arms the
kernel's parent-death signal (Linux, through prctl) or, where that cannot see the
command, a thread that polls it; `watched_forks` applies it to every process forked
meanwhile.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.2
# the process (pid, start time) that processes forked from this one die with, if any
_WATCHED: tuple[int, str | None] | None = None
_WATCHING: int | None = None  # the pid this process already watches (a pool worker runs many tasks)


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (Linux), so a reused pid is not mistaken for it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True  # no /proc: kill(0) is all we can know
    # a killed command stays a zombie until its own parent reaps it
    return fields[0] not in ("Z", "X") and (start is None or fields[19] == start)


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _pdeathsig() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is not offered."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with(pid: int, start: str | None = None) -> None:
    """End this process as soon as process `pid` (started at `start`) is gone.

    A direct child gets the kernel's parent-death signal; otherwise (a forkserver's
    child, or no prctl) a daemon thread polls the command every 0.2 s.
    """
    global _WATCHING
    if _WATCHING == pid:
        return
    _WATCHING = pid
    if os.getppid() == pid and _pdeathsig():
        if os.getppid() != pid:  # the parent died before the signal was armed
            _kill_self()
        return

    def watch() -> None:
        while _alive(pid, start):
            time.sleep(_POLL_S)
        _kill_self()

    threading.Thread(target=watch, name="langadapt-watch-parent", daemon=True).start()


def _after_fork_in_child() -> None:
    global _WATCHING
    _WATCHING = None  # the parent's watcher thread does not exist in the child
    if _WATCHED is not None:
        die_with(*_WATCHED)


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def watched_forks():
    """Processes forked from this one meanwhile (datatrove's manager) die with it."""
    global _WATCHED
    before = _WATCHED
    _WATCHED = (os.getpid(), start_time(os.getpid()))
    try:
        yield
    finally:
        _WATCHED = before


def watch_forks_forever() -> None:
    """Every process forked from this one from now on dies with it (a forkserver's setting)."""
    global _WATCHED
    _WATCHED = (os.getpid(), start_time(os.getpid()))
