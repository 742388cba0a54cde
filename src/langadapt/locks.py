"""One writer per output: an exclusive lock on a run folder, a cleaning or token-shard output,
or a model-cache file, that names its holder.

    with exclusive(run_dir, "run folder", hint="add --wait to wait for it"):
        ...   # a second process is refused in one line naming this one (pid, host, command)

The lock is `flock` on `.<name>.lock` beside the output (so a folder replaced whole keeps
its lock). The kernel drops it when the holding process ends, however it ends, so a killed
holder never blocks anyone. The holder writes its record (pid, host, command, start time)
into the lock file, so a refusal or a wait can say who holds it, and removes the file when
it releases, so nothing is left beside the output. A file still there when the lock is
taken is the record of a holder that ended without releasing (killed): the new holder
says in a log line that it takes the lock over.

Hand-written over `fcntl` rather than `filelock`: filelock cannot say who holds a lock, and
removing the file on release needs the check that the locked file is still the one at the
path (a waiter may have opened it just before it was removed); both are a few lines here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from langadapt.errors import LangadaptError

log = logging.getLogger(__name__)


# Descriptors of the locks this process holds. A forked child (multiprocessing workers) closes
# its copies, so only the recorded pid holds a lock and a lock whose pid is dead is free.
_HELD: set[int] = set()


def _close_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class LockedError(LangadaptError):
    """Another process holds the lock of an output (refused rather than waiting)."""


def lock_file(target: str | Path) -> Path:
    """The lock file of `target`: `.<name>.lock` in the same folder."""
    p = Path(target).expanduser().absolute()
    return p.parent / f".{p.name or 'root'}.lock"


def _command() -> str:
    argv = list(sys.argv) or ["python"]
    first = Path(argv[0])
    if first.name == "langadapt" or first.parts[-2:] == ("langadapt", "__main__.py"):  # python -m langadapt
        argv[0] = "langadapt"
    text = shlex.join(argv)
    return text if len(text) <= 200 else text[:197] + "..."


def read_holder(target: str | Path) -> dict | None:
    """The record of whoever holds (or, killed, last held) `target`'s lock, or None."""
    with contextlib.suppress(OSError, ValueError):
        rec = json.loads(lock_file(target).read_text(encoding="utf-8"))
        if isinstance(rec, dict) and isinstance(rec.get("pid"), int):
            return rec
    return None


def _alive(rec: dict) -> bool | None:
    """Whether the recorded process runs; None when it is on another host (cannot tell)."""
    if rec.get("host") != socket.gethostname():
        return None
    try:
        os.kill(rec["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def describe(rec: dict | None, held: bool = True) -> str:
    """`pid 123 on host (langadapt run r.yaml, since 2026-01-01 12:00:00 UTC)`; `held`: the
    lock is held now (by that process, or by one it started)."""
    if rec is None:
        return "another process (it has not recorded itself yet)"
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(rec.get("started", 0)))
    text = f"pid {rec['pid']} on {rec.get('host', '?')} ({rec.get('command', '?')}, since {since})"
    if held and _alive(rec) is False:  # a child that inherited the lock still runs
        text += ", which has ended, but a process it started still holds the lock"
    return text


def _current_holder(target: Path) -> dict | None:
    """The live holder's record; a stale or missing one is re-read briefly, since the new
    holder writes its record just after it takes the lock."""
    rec = None
    for _ in range(10):
        rec = read_holder(target)
        if rec is not None and _alive(rec) is not False:
            return rec
        time.sleep(0.05)
    return rec


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding the flock of the file at `path`, or None when another holds it."""
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # The holder before us may have removed the file between our open and our flock:
        # we hold the lock only if the locked file is still the one at the path.
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        os.close(fd)


def _acquire(lock: Path, target: Path, what: str, wait: bool | float, hint: str) -> int:
    fd = _try_lock(lock)
    if fd is not None:
        return fd
    more = f"; {hint}" if hint else ""
    if wait is False:
        raise LockedError(f"{what} {target} is in use by {describe(_current_holder(target))}; "
                          f"one process writes it at a time{more}")
    log.info("%s %s is in use by %s; waiting for it to finish", what, target,
             describe(_current_holder(target)))
    deadline = None if wait is True else time.monotonic() + float(wait)
    while fd is None:
        if deadline is not None and time.monotonic() >= deadline:
            raise LockedError(f"{what} {target} is still in use by {describe(_current_holder(target))} "
                              f"after waiting {float(wait):g} s{more}")
        time.sleep(0.2)
        fd = _try_lock(lock)
    return fd


@contextlib.contextmanager
def exclusive(target: str | Path, what: str, *, wait: bool | float = False, hint: str = "") -> Iterator[None]:
    """Hold the lock of `target` for the block: only one process writes it at a time.

    Args:
        target: the output (folder or file) to guard; the lock file lives beside it.
        what: the kind of output, for messages ("run folder", "model cache file").
        wait: False to refuse at once when another process holds it, True to wait as
            long as it takes (saying once for whom), a number to wait that many seconds.
        hint: appended to a refusal: what the user can do.

    Raises:
        LockedError: another process holds it (and `wait` ran out), naming that process.
        LangadaptError: the lock file cannot be created (the folder is not writable).
    """
    target = Path(target).expanduser().absolute()
    lock = lock_file(target)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(lock, target, what, wait, hint)
    except OSError as e:
        raise LangadaptError(f"{lock}: cannot create the lock file of {what} {target} "
                             f"({e.strerror or e}); the folder must be writable") from None
    _HELD.add(fd)
    try:
        _take(fd, target, what)
        yield
    finally:
        if fd in _HELD:  # not in a forked child leaving the block: it closed its copy
            _HELD.discard(fd)
            with contextlib.suppress(OSError):
                lock.unlink()  # while still holding it: see _try_lock
            os.close(fd)


def _take(fd: int, target: Path, what: str) -> None:
    """Write this process's record into the lock file, saying so when a killed holder's was there."""
    old = read_holder(target)
    if old is not None:
        state = {False: "is no longer running", None: "ran on another host"}.get(_alive(old), "ended")
        log.warning("%s %s: taking over the lock left by %s, which %s without releasing it",
                    what, target, describe(old, held=False), state)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(), "started": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
