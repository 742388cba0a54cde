"""Names that become paths, and the check that a path stays inside its folder.

Stage ids, variant names, variant labels, run names and output file names all end up as
folder or file names under a run folder. Each is checked here, once, against a short
allow-list rule, so a recipe cannot name `../..`, an absolute path, a hidden file or a
name the file system refuses. `inside` is the last line of defence: the runner calls it
before it creates, replaces or removes anything.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from langadapt.errors import LangadaptError

MAX_NAME = 64    # characters of one name (a stage folder joins several: `cpt.lora.fvt`)
MAX_FOLDER = 200  # bytes of a stage folder name; its temp sibling adds ~14, under the usual 255

# kind -> (pattern, what it allows, in words)
_RULES = {
    "id": (re.compile(r"[A-Za-z][A-Za-z0-9_-]*"),
           "a letter, then ASCII letters, digits, '_' or '-'"),
    "file": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"),
             "an ASCII letter, digit or '_', then letters, digits, '_', '.', '+' or '-'"),
}
# A stage instance folder: the stage id, then one `.variant` per varied stage it depends on.
_FOLDER = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*")


def show(value: object) -> str:
    """A hostile name as it can be printed on one line (escaped, shortened)."""
    text = repr(value)
    return text if len(text) <= 48 else text[:40] + "…" + text[-6:]


def name_problem(value: object, kind: str = "id") -> str | None:
    """Why `value` cannot be a name of this kind (`id` or `file`), or None when it can."""
    pattern, allowed = _RULES[kind]
    if not isinstance(value, str):
        return f"{show(value)} is not a string"
    if not value:
        return "a name cannot be empty"
    if len(value) > MAX_NAME:
        return f"{show(value)} is {len(value)} characters long; at most {MAX_NAME}"
    if not pattern.fullmatch(value):
        return f"{show(value)} is not a safe name: use {allowed}"
    return None


def _schema_check(kind: str) -> AfterValidator:
    def check(value: str) -> str:
        problem = name_problem(value, kind)
        if problem:  # a custom error keeps pydantic's "Value error, " prefix out of the message
            raise PydanticCustomError("unsafe_name", problem)
        return value

    return AfterValidator(check)


# For schemas: a field of this type becomes a folder (Name) or a file name (FileName).
Name = Annotated[str, _schema_check("id")]
FileName = Annotated[str, _schema_check("file")]


def folder_problem(value: str) -> str | None:
    """Why a stage instance id (`cpt.lora`) cannot be a folder name, or None."""
    if not _FOLDER.fullmatch(value):
        return f"{show(value)} is not a stage folder name (ids and variant names joined by '.')"
    if len(value.encode()) > MAX_FOLDER:
        return f"stage folder name {show(value)} is longer than {MAX_FOLDER} bytes"
    return None


def output_dir_problem(value: object) -> str | None:
    """Why a recipe's `output_dir` cannot be used, or None.

    Any folder the user names is allowed (absolute, relative, non-ASCII) except one reached
    through `..`: the run folder must be where the text says it is.
    """
    if not isinstance(value, str) or not value.strip():
        return "output_dir must be a non-empty path"
    if "\x00" in value:
        return f"{show(value)} contains a NUL character"
    parts = Path(value).parts
    if ".." in parts:
        return f"{show(value)} goes up with '..': name the folder without it (an absolute path is fine)"
    if any(len(p.encode()) > 255 for p in parts):
        return f"{show(value)} has a path component longer than 255 bytes"
    return None


def subpath_problem(sub: str) -> str | None:
    """Why the `/sub/path` of a reference `@stage/sub/path` leaves that stage's folder, or None."""
    if "\x00" in sub:
        return f"{show(sub)} contains a NUL character"
    norm = posixpath.normpath("/stage" + sub)
    if norm != "/stage" and not norm.startswith("/stage/"):
        return f"the path {show(sub)} leaves the referenced stage's folder"
    return None


# Files only a run folder has: an existing folder without them is somebody else's.
RUN_MARKERS = ("recipe.resolved.yaml", "stages")


def run_root_problem(root: Path) -> str | None:
    """Why `root` cannot be a run folder: it exists, is not empty, and is not a run folder."""
    if not root.exists():
        return None
    if not root.is_dir():
        return f"'{root}' exists and is not a folder"
    if any(root.iterdir()) and not any((root / m).exists() for m in RUN_MARKERS):
        return (f"'{root}' is an existing folder that is not a langadapt run folder (no "
                f"{' or '.join(RUN_MARKERS)}); choose a new output_dir or empty it")
    return None


def inside(root: str | Path, path: str | Path) -> Path:
    """Return `path` when it resolves to `root` or below it; raise LangadaptError otherwise.

    Both sides are resolved, so neither `..` nor a symbolic link lets a path escape.
    """
    base, target = Path(root).resolve(), Path(path).resolve()
    if target != base and base not in target.parents:
        raise LangadaptError(f"refusing to touch '{path}': it is outside the run folder '{root}'")
    return Path(path)
