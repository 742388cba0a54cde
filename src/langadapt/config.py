"""Typed configuration: strict pydantic models, YAML with line numbers, `key=value` overrides.

Every stage's options and the recipe are `StrictModel`s, so an unknown key is an
error. `load_config` reports the file, line and dotted key of the first problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langadapt.errors import ConfigError

T = TypeVar("T", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


# numpy's legacy seeding (which transformers' set_seed calls) takes 0 .. 2**32 - 1; a larger
# seed would pass validation and fail once a stage seeds its generators.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, description="random seed, 0 to 4294967295")]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and records the line of every key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    lines: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError("duplicate key", file=loader.name, line=key_node.start_mark.line + 1,
                              key=str(key))
        out[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    loader.key_lines[id(out)] = lines
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# A config is a few hundred values; aliases that expand past this many nodes are a
# "billion laughs" bomb (each level multiplies the size), refused before anything walks them.
MAX_EXPANDED_NODES = 100_000


def _expanded_size(root: yaml.Node, file: str) -> int:
    """Nodes in the tree that `root` expands to once every alias is followed.

    PyYAML shares an aliased node instead of copying it, but validation and our key-line
    walk visit every expansion, so the size is counted with memoization (linear in the
    file) and a recursive alias is refused outright.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise ConfigError("a YAML alias refers to a node that contains it (recursive alias)",
                              file=file, line=node.start_mark.line + 1)
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(id(node))
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    return size(root)


def read_yaml(path: str | Path) -> tuple[Any, dict[tuple, int]]:
    """Read YAML; return (data, {key path tuple: line}).

    Duplicate keys, text that is not UTF-8 and aliases that expand past
    `MAX_EXPANDED_NODES` nodes raise ConfigError.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError("is a folder, not a YAML file (name the .yaml file inside it)", file=str(path))
    if not path.is_file():
        raise ConfigError("config file not found", file=str(path))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start}); save the "
                          "file as UTF-8", file=str(path), line=line) from None
    loader = _LineLoader(text)
    loader.name = str(path)
    loader.key_lines = {}
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, str(path)) > MAX_EXPANDED_NODES:
            raise ConfigError(f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values (nested "
                              "aliases that multiply, a 'billion laughs'): write the values out or "
                              "use fewer levels of aliases", file=str(path))
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(e, 'problem', e)}", file=str(path),
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply to read", file=str(path)) from None
    finally:
        loader.dispose()
    locations: dict[tuple, int] = {}

    def walk(obj: Any, prefix: tuple) -> None:
        if isinstance(obj, dict):
            for k, line in loader.key_lines.get(id(obj), {}).items():
                locations[prefix + (k,)] = line
            for k, v in obj.items():
                walk(v, prefix + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, prefix + (i,))

    walk(data, ())
    return (data if data is not None else {}), locations


def apply_overrides(data: dict, overrides: list[str] | None, source: str = "command line") -> dict:
    """Apply `a.b.c=value` overrides (values parsed as YAML scalars/lists) in place.

    A key that cannot be followed (an index out of range, a name where a list needs an
    index, a step into a plain value) raises a ConfigError naming the key and why.
    """
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not key=value", file=source)
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override value {raw!r} is not valid YAML ({getattr(e, 'problem', e)})",
                              file=source, key=key) from None
        parts = key.split(".")
        if not all(parts):
            raise ConfigError("override key has an empty part (check the dots)", file=source, key=key)
        node: Any = data
        for n, part in enumerate(parts):
            where = ".".join(parts[:n]) or "the top level"
            last = n == len(parts) - 1
            if isinstance(node, list):
                index = _list_index(node, part, where, source, key)
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(f"'{where}' is a value ({node!r}), not a mapping or list, so it has "
                                  f"no '{part}'", file=source, key=key)
    return data


def _list_index(node: list, part: str, where: str, source: str, key: str) -> int:
    """`part` as an index into the list `node` at `where`, or a ConfigError saying why not."""
    try:
        index = int(part)
    except ValueError:
        raise ConfigError(f"'{where}' is a list of {len(node)} entries: use an index, not '{part}'",
                          file=source, key=key) from None
    if not 0 <= index < len(node):
        raise ConfigError(f"'{where}' has {len(node)} entries, so there is no index {index}",
                          file=source, key=key)
    return index


def validate(schema: type[T], data: Any, *, file: str | None = None,
             locations: dict[tuple, int] | None = None) -> T:
    """Validate `data` against `schema`; turn the first pydantic error into a located ConfigError."""
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line = None
        for n in range(len(loc), 0, -1):
            if locations and loc[:n] in locations:
                line = locations[loc[:n]]
                break
        key = ".".join(str(p) for p in loc) or None
        msg = "unknown key (check the spelling; see the schema in the docs)" \
            if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(msg, file=file, line=line, key=key) from None


def load_config(schema: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Read a YAML file, apply overrides, validate against `schema`."""
    data, locations = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=str(path))
    apply_overrides(data, overrides)
    return validate(schema, data, file=str(path), locations=locations)
