"""What a recipe stage's options name: references to other stages' outputs, and input files.

A string `@stage`, `@stage.variant` or `@stage/sub/path` (or `NAME=@stage…`) is a
reference, resolved by the plan; any other string written as a path, or naming a file
that exists, is an input of the stage, checked before anything runs and hashed into its key.
Functions take a planned stage (`recipe.PlannedStage`: its `id`, `raw` options as written
and validated `options`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from langadapt.errors import DataError

_ID = r"[A-Za-z][A-Za-z0-9_-]*"
# `@id`, `@id.variant`, optionally followed by `/sub/path`; `NAME=@id` keeps its `NAME=`
# (for options that take labelled paths, like tokenizer.stats' `trimmed=@tok`).
LABEL = re.compile(r"^[A-Za-z0-9_.+-]+=")
REF = re.compile(rf"^(?:[A-Za-z0-9_.+-]+=)?@({_ID})(?:\.({_ID}(?:\.{_ID})*))?(/.*)?$")


def input_paths(inst: Any) -> list[Path]:
    """Local files and folders an instance names, other than other stages' outputs."""
    found: list[Path] = []

    def visit(raw: str, value: str) -> None:
        if REF.match(raw):
            return
        label = LABEL.match(raw)
        if label and value.startswith(label.group(0)):  # `NAME=path`: the path is the input
            raw, value = raw[label.end():], value[label.end():]
        if "${" in raw or raw.startswith(("/", "./", "../", "~")):
            found.append(Path(value).expanduser())  # named as a path: must exist
        elif Path(value).is_file() or ("/" in value and Path(value).exists()):
            found.append(Path(value))  # a relative path (a bare file name too) rather than a hub id

    _zip_strings(inst.raw, inst.options, visit)
    return found


def _zip_strings(raw: Any, value: Any, fn) -> None:
    if isinstance(raw, str) and isinstance(value, str):
        fn(raw, value)
    elif isinstance(raw, dict) and isinstance(value, dict):
        for k in raw:
            _zip_strings(raw[k], value.get(k), fn)
    elif isinstance(raw, list) and isinstance(value, list):
        for r, v in zip(raw, value):
            _zip_strings(r, v, fn)


def check_inputs(inst: Any) -> None:
    """Raise a DataError naming the first input file that does not exist, or a checkpoint of
    the model cache (`${models}/...`) that fails its pinned SHA-256 (it is moved aside)."""
    from langadapt.models.fetch import verify_if_cached

    for p in input_paths(inst):
        if not p.exists():
            raise DataError(f"input of stage '{inst.id}' not found ({_missing_hint(p)})", file=str(p))
        verify_if_cached(p)


def _missing_hint(path: Path) -> str:
    """How to get a missing input: the fetch command for a known checkpoint, else where to look."""
    from langadapt.models.fetch import CHECKPOINTS
    from langadapt.paths import models_root

    for name, ck in CHECKPOINTS.items():
        if path.name == ck.file:
            return f"run 'langadapt model fetch {name}' or 'make models'; the model cache is " \
                   f"{models_root()} (LANGADAPT_MODELS)"
    return "check the path or LANGADAPT_DATA"
