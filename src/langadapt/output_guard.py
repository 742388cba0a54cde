"""What a command may write over, and how a finished output folder takes the old one's place.

A command that writes a folder (`--out`) replaces it whole, so it may only replace a folder
that langadapt wrote: every output folder gets a marker file, `MARKER`, naming the command.
`check_out_dir` refuses (one line, before any heavy work) the current folder or one above it,
a folder holding one of the command's inputs, an existing non-empty folder without the
marker, a file and a symbolic link. `check_out_file` refuses an output file that is one of
the inputs, or a folder.

`replace_dir` swaps a finished temp folder in: the old folder is renamed aside, the new one
renamed into place, then the old one removed, so a reader or a kill never meets half of
either. Temp and aside names carry the writer's process id (`.NAME.<pid>-<random>.tmp` /
`.old`); `clean_stale` removes those a dead writer left, and puts an old folder back when a
kill fell between the two renames.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from langadapt.errors import ConfigError

log = logging.getLogger(__name__)

MARKER = ".langadapt-output.json"
# mkdtemp's random part: 8 characters of [a-z0-9_]
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[a-z0-9_]{8}\.(?P<kind>tmp|old)")


def write_marker(folder: str | Path, command: str | None = None) -> Path:
    """Mark `folder` as written by langadapt (`command`: what wrote it, e.g. `model tiny`)."""
    path = Path(folder) / MARKER
    # the same bytes every time: the marker must not change a folder's content hash
    path.write_text(json.dumps({"written_by": "langadapt", "command": command}) + "\n", encoding="utf-8")
    return path


def is_ours(folder: str | Path, also: Iterable[str] = ()) -> bool:
    """True when `folder` holds the marker (or one of `also`: files only that command writes)."""
    folder = Path(folder)
    return any((folder / name).exists() for name in (MARKER, *also))


def _local(ref: str | Path) -> Path | None:
    """A local path that exists (or is a link), else None (a hub id, a URL)."""
    if "://" in str(ref):
        return None
    path = Path(ref).expanduser()
    return path if os.path.lexists(path) else None


def _holds(outer: Path, inner: Path) -> bool:
    """True when `inner` is `outer` or lies below it (both resolved, so links do not hide it)."""
    outer, inner = outer.resolve(), inner.resolve()
    return inner == outer or outer in inner.parents


def check_out_dir(out: str | Path, inputs: Iterable[str | Path] = (), *, also_ours: Iterable[str] = (),
                  owned: bool = False) -> Path:
    """Return `out` when a command may write the folder there and replace what is there.

    Args:
        out: the output folder (created, or replaced whole).
        inputs: the command's input files and folders (hub ids and URLs are skipped).
        also_ours: file names that mark an output of this command written before the marker existed.
        owned: the caller vouches the folder is langadapt's (a stage folder of a run folder),
            or the command only adds files of its own names to it: then only a file, a link,
            or a folder holding an input is refused.

    Raises:
        ConfigError: naming the folder and what to do.
    """
    path = Path(out).expanduser()
    if path.is_symlink():
        what = "a symbolic link to nothing" if not path.exists() else "a symbolic link"
        raise ConfigError(f"output folder '{out}' is {what}; name a real folder (it is created)")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output folder '{out}' is a file; name a folder (it is created)")
    for ref in inputs:
        local = _local(ref) if ref else None
        if local is not None and _holds(path, local):
            raise ConfigError(f"output folder '{out}' holds the input '{ref}'; name another folder")
    if owned:
        return path
    if _holds(path, Path.cwd()):
        raise ConfigError(f"output folder '{out}' is the current folder or holds it; name a new folder")
    if path.is_dir() and next(path.iterdir(), None) is not None and not is_ours(path, also_ours):
        raise ConfigError(f"output folder '{out}' holds files langadapt did not write (no {MARKER}), "
                             "which the output could replace; name a new or empty folder")
    return path


def prepare_out_dir(out: str | Path, inputs: Iterable[str | Path | None] = (), command: str | None = None,
                    *, also_ours: Iterable[str] = ()) -> Path:
    """`check_out_dir`, then create the folder and mark it: for commands that write files into it."""
    path = check_out_dir(out, [p for p in inputs if p], also_ours=also_ours)
    path.mkdir(parents=True, exist_ok=True)
    if not (path / MARKER).is_file():
        write_marker(path, command)
    return path


def check_out_file(out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Return `out` when a command may write the file there: not a folder, not one of `inputs`."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise ConfigError(f"output file '{out}' is a folder; name a file")
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"output file '{out}' is a symbolic link to nothing; name a real file")
    for ref in inputs:
        local = _local(ref)
        if local is None:
            continue
        if path.resolve() == local.resolve() or (path.exists() and os.path.samefile(path, local)):
            raise ConfigError(f"output file '{out}' is the input '{ref}' and would be overwritten; "
                                 "name another file")
    return path


def staging_dir(path: Path, suffix: str = ".tmp") -> Path:
    """A new folder beside `path` (`.tmp`: to write into; `.old`: to put the old one aside),
    named so that `clean_stale` knows whose it is."""
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=suffix))


def replace_dir(tmp: Path, path: Path) -> None:
    """Put the finished folder `tmp` at `path`: the old one aside, the new one in, the old one removed."""
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    old = staging_dir(path, ".old")
    os.replace(path, old)  # onto the empty folder mkdtemp made: the name is reserved, no race
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale(path: Path) -> None:
    """Remove the temp and aside folders of `path` that a killed writer left behind.

    Only folders named by `staging_dir` / `replace_dir` whose process is gone are touched;
    an aside (`.old`) folder goes back to `path` when the kill fell between the two renames.
    """
    parent = path.parent
    if not parent.is_dir():
        return
    for p in parent.iterdir():
        m = _LEFTOVER.fullmatch(p.name)
        if not m or m["name"] != path.name or _alive(int(m["pid"])) or p.is_symlink():
            continue
        if not p.is_dir():  # a half-written file of `runs.atomic_file`
            log.info("removing %s, left by an interrupted writer of %s", p.name, path.name)
            p.unlink(missing_ok=True)
            continue
        if m["kind"] == "old" and not os.path.lexists(path):
            log.info("putting back %s, which an interrupted replace left aside", path)
            os.replace(p, path)
            continue
        log.info("removing %s, left by an interrupted writer of %s", p.name, path.name)
        shutil.rmtree(p, ignore_errors=True)
