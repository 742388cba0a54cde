"""Recipe params and presets: the settings a user changes most, written once at the top.

* `params: {model: ..., new_tokens: 4000}`: `${model}` in any stage option is replaced by
  the param's value when the recipe is read, before it is validated or keyed, so a cache
  key sees the value (a hub id by name, a local file by content), never the placeholder.
  A whole option that is just `${name}` takes the value with its type (`null`, a number).
  `model=Qwen/Qwen2.5-7B` on the command line sets the param.
* `presets: {cpu-smoke: {cpt.with.max_steps: 2, ...}, gpu: {...}}`: named sets of
  overrides, each key written as on the command line. `preset: gpu` in the recipe, or
  `preset=gpu` on the command line, applies one before the command line's overrides, so
  those still win. `preset=sizes.yaml` reads a preset of the same form from a file;
  `preset=[cpu-smoke,study]` applies several, in order.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from langadapt.config import read_yaml
from langadapt.errors import ConfigError

_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Placeholders langadapt.paths expands itself; a param of that name would hide them.
BUILTIN = ("data", "tokenizers", "models")

Apply = Callable[[dict, str], None]  # applies one `key=value` override to the recipe data


def apply_preset(data: dict, overrides: list[str], apply: Apply, file: str, locations: dict) -> None:
    """Apply the chosen preset's overrides to `data` in place (the command line's come after)."""
    probe = copy.deepcopy(data)  # the command line may choose the preset: see what it sets
    for item in overrides:
        apply(probe, item)
    chosen = probe.get("preset")
    if chosen is None:
        return
    from_cli = any(item.partition("=")[0].strip() == "preset" for item in overrides)
    # A list applies several in order (`preset=[cpu-smoke,study]`: sizes, then what to repeat).
    for name in chosen if isinstance(chosen, list) else [chosen]:
        items, pfile, plocs, prefix = _preset(data, str(name), file, locations, from_cli)
        for key, value in items.items():
            try:
                # JSON is YAML, so the value reads back exactly as the override parser reads it.
                apply(data, f"{key}={json.dumps(value)}")
            except ConfigError as e:
                raise ConfigError(f"preset '{name}': {str(e).removeprefix('command line: ')}",
                                  file=pfile, line=plocs.get(prefix + (key,))) from None


def _preset(data: dict, name: str, file: str, locations: dict,
            from_cli: bool) -> tuple[dict, str, dict, tuple]:
    """(overrides, the file they come from, its key lines, their key prefix) of preset `name`."""
    presets = data.get("presets") if isinstance(data.get("presets"), dict) else {}
    if name in presets:
        items, pfile, plocs, prefix = presets[name], file, locations, ("presets", name)
    elif name.endswith((".yaml", ".yml")):
        items, plocs = read_yaml(name)
        pfile, prefix = name, ()
    else:
        known = ", ".join(presets) or "none in this recipe"
        raise ConfigError(f"unknown preset '{name}' (known: {known}; or a .yaml file of overrides)",
                          file="command line" if from_cli else file,
                          line=None if from_cli else locations.get(("preset",)), key="preset")
    if not isinstance(items, dict):
        raise ConfigError("a preset is a mapping of override keys to values (cpt.with.max_steps: 2)",
                          file=pfile, line=plocs.get(prefix), key=".".join(prefix) or None)
    return items, pfile, plocs, prefix


def substitute_params(data: dict, file: str, locations: dict, reserved: set[str]) -> None:
    """Replace `${param}` in every stage's options by the param's value, in place."""
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        return  # (a params that is not a mapping is reported by the schema)
    for name in params:
        problem = _name_problem(str(name), reserved)
        if problem:
            raise ConfigError(f"{problem}: rename the param", file=file,
                              line=locations.get(("params", name)), key=f"params.{name}")

    def sub(s: str) -> Any:
        whole = _PARAM.fullmatch(s)
        if whole and whole.group(1) in params:
            return params[whole.group(1)]
        return _PARAM.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), s)

    if isinstance(data.get("stages"), list):
        data["stages"] = walk_strings(data["stages"], sub)


def walk_strings(obj: Any, fn) -> Any:
    """Return a copy of `obj` with `fn` applied to every string (here, not in recipe.py, which
    imports this module: no import cycle)."""
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: walk_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [walk_strings(v, fn) for v in obj]
    return obj


def _name_problem(name: str, reserved: set[str]) -> str | None:
    if not _PARAM.fullmatch(f"${{{name}}}"):
        return f"'{name}' is not a param name (letters, digits and _)"
    if name in BUILTIN:
        return f"'{name}' is the name of a built-in placeholder ({', '.join(BUILTIN)})"
    if name in reserved:
        return f"'{name}' is also a stage id or recipe key, so '{name}=' would be ambiguous"
    return None
