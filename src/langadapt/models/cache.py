"""The model cache (`LANGADAPT_MODELS`): a folder that must be writable, and checkpoints that
are checked against their pinned SHA-256 before every use.

Hashing a GGUF file of a few hundred MB takes about a second, too slow for every `langadapt
run`, so the hash is kept in a small sidecar beside the file (`.<file>.sha256.json`) with
the file's size, modification time and inode: while those are unchanged the sidecar's hash
is used, and any rewrite or replacement of the file makes it hash again. (A change that keeps
size and modification time, such as bit rot, is not seen until the sidecar goes.) A file
that fails its pin is moved aside to `<file>.corrupt`, so it is never used again and a new
fetch can take its place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from langadapt.errors import DataError
from langadapt.paths import models_root

log = logging.getLogger(__name__)


def writable_root(root: str | Path | None = None) -> Path:
    """The model cache folder, created if needed.

    Raises:
        DataError: one line naming the folder when it is a file or cannot be written.
    """
    path = Path(root) if root is not None else models_root()
    hint = "set LANGADAPT_MODELS to a folder you can write (it is created)"
    if path.exists() and not path.is_dir():
        raise DataError(f"the model cache is not a folder; {hint}", file=str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise DataError(f"the model cache cannot be written ({e.strerror or e}); {hint}",
                        file=str(path)) from None
    return path


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.sha256.json")


def _stamp(st: os.stat_result) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def file_sha256(path: str | Path) -> tuple[str, os.stat_result]:
    """The SHA-256 of `path` (from its sidecar while the file is unchanged) and the stat it is for."""
    path = Path(path)
    st = path.stat()
    with contextlib.suppress(OSError, ValueError):
        rec = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        if {k: rec.get(k) for k in ("size", "mtime_ns", "inode")} == _stamp(st) and rec.get("sha256"):
            return rec["sha256"], st
    h = hashlib.sha256()
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())  # the file that is hashed, even if the path is replaced meanwhile
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    remember(path, h.hexdigest(), st)
    return h.hexdigest(), st


def remember(path: Path, sha256: str, st: os.stat_result | None = None) -> None:
    """Record `path`'s hash in its sidecar (a read-only cache is checked again next time)."""
    from langadapt.runs import atomic_write_json

    with contextlib.suppress(OSError):
        atomic_write_json(_sidecar(path), {**_stamp(st or path.stat()), "sha256": sha256})


def quarantine(path: Path, st: os.stat_result) -> str:
    """Move the file `st` describes from `path` to `<path>.corrupt`; say what happened."""
    bad = path.with_name(path.name + ".corrupt")
    try:
        now = path.stat()
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev):
            return "it has been replaced meanwhile"  # a fetch put a new file there: leave it
        os.replace(path, bad)
    except OSError as e:
        return f"it could not be moved aside ({e.strerror or e})"
    _sidecar(path).unlink(missing_ok=True)
    return f"moved it to {bad.name}"


def verify(path: str | Path, name: str, pinned: str) -> Path:
    """Return `path` when it hashes to `pinned` (checkpoint `name`'s pin); else move it aside
    and raise.

    Raises:
        DataError: one line with both hashes, where the file went and the fetch command.
    """
    path = Path(path)
    got, st = file_sha256(path)
    if got == pinned:
        return path
    done = quarantine(path, st)
    log.warning("%s: SHA-256 %s is not the pinned %s; %s", path, got, pinned, done)
    raise DataError(f"SHA-256 {got} is not the pinned {pinned} of {name}: the file is corrupt or was "
                    f"changed; {done}; run 'langadapt model fetch {name}' to download it again",
                    file=str(path))
