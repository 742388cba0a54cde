"""Command-line flags generated from an options model, so a default lives in one place.

Each field of a pydantic options model (the same model a recipe stage validates)
becomes `--field-name`, with its description as help and its default shown there.
Unset flags are left out of the parsed namespace (`argparse.SUPPRESS`), so the
model, not argparse, fills in defaults. argparse and pydantic have no bridge for
this in the libraries we depend on, hence this small helper.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel

from langadapt.config import validate


def _unwrap_optional(ann: Any) -> Any:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _scalar(ann: Any, name: str) -> dict:
    if typing.get_origin(ann) is Literal:
        choices = list(typing.get_args(ann))
        return {"type": type(choices[0]), "choices": choices}
    if ann in (int, float, str):
        return {"type": ann}
    raise TypeError(f"no command-line flag for field '{name}' of type {ann!r}; exclude it")


def field_kwargs(name: str, info) -> dict:
    """argparse keyword arguments for one pydantic field."""
    ann = _unwrap_optional(info.annotation)
    if ann is bool:
        kw: dict = {"action": argparse.BooleanOptionalAction}
    elif typing.get_origin(ann) is list:
        (item,) = typing.get_args(ann)
        kw = {"nargs": "+", **_scalar(_unwrap_optional(item), name)}
    else:
        kw = _scalar(ann, name)
    help_text = info.description or ""
    if info.is_required():
        kw["required"] = True
    elif (default := info.get_default(call_default_factory=True)) not in (None, [], ()):
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        help_text += f" (default: {shown})"
    kw["help"] = help_text.strip().replace("%", "%%") or None
    return kw


def add_option_args(p: argparse.ArgumentParser, model: type[BaseModel], *, exclude: Iterable[str] = (),
                    overrides: dict[str, dict] | None = None) -> None:
    """Add one `--flag` per field of `model` (except `exclude`); `overrides` adjust a flag's kwargs.

    An override's `note` is appended to the field's help (which keeps its description and default).
    """
    skip = set(exclude)
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        extra = dict((overrides or {}).get(name, {}))
        note = extra.pop("note", None)
        kw = {**field_kwargs(name, info), **extra}
        if note:
            kw["help"] = "; ".join(filter(None, [kw.get("help"), note.replace("%", "%%")]))
        action = p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=argparse.SUPPRESS, **kw)
        action.option_field = (model, name)  # where the flag comes from (tests compare the two)


def options_from_args(schema: type[BaseModel], args: argparse.Namespace, /, **update):
    """Validate the flags that were given (plus `update`) against `schema`; errors name the key."""
    data = {k: v for k, v in vars(args).items() if k in schema.model_fields}
    return validate(schema, {**data, **update}, file="command line")
