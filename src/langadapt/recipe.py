"""Recipes: a typed YAML schema, variants, references between stages, and the run plan.

A recipe is read top to bottom: a `name`, a `seed`, and an ordered list of stages,
each `{id, kind, with: {...}}` whose `with` is validated against the stage kind's
`Options`. Two small devices make comparisons easy to write:

* `variants: {lora: {...}, full: {...}}` on a stage expands it into one stage per
  variant (`cpt.lora`, `cpt.full`), each with its own options merged over `with`;
* a reference `@stage_id` (or `@stage_id/sub/path`) to another stage's output folder;
  when that stage has variants, the referring stage runs once per variant, so an
  evaluation written once evaluates every variant. `@cpt.lora` pins one variant.

`${data}` and `${tokenizers}` expand through `langadapt.paths`. Loading a recipe
validates everything and checks every named input file exists, before anything runs.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from langadapt.config import Seed, StrictModel, apply_overrides, read_yaml, validate
from langadapt.errors import ConfigError
from langadapt.names import (
    FileName,
    Name,
    name_problem,
    output_dir_problem,
    run_root_problem,
    show,
    subpath_problem,
)
from langadapt.paths import expand
from langadapt.recipe_inputs import REF, check_inputs, input_paths
from langadapt.recipe_params import apply_preset, substitute_params, walk_strings
from langadapt.recipe_seeds import SEED_KEY, check_seeds, seed_choices, seed_label, seed_suffixes, stage_seeds

__all__ = ["Plan", "PlannedStage", "Recipe", "StageSpec", "check_inputs", "input_paths", "load_plan",
           "read_recipe", "run_root"]



class StageSpec(StrictModel):
    """One stage as written in the recipe."""

    id: Name                    # names the stage folder: checked by langadapt.names
    kind: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    variants: dict[str, dict[str, Any]] | None = None  # names checked in _check_ids (they are keys)
    variant: Name | None = None  # label for this stage's rows when it has no variants
    seeds: list[Seed] | None = None  # run once per seed, and everything downstream (recipe_seeds)
    note: str | None = None


class Recipe(StrictModel):
    """A whole recipe."""

    name: FileName              # the run folder is runs/<name> unless output_dir is given
    seed: Seed = 0
    seeds: list[Seed] | None = None  # repeat every `train` stage per seed (recipe_seeds)
    output_dir: str | None = None
    imports: list[str] = Field(default_factory=list)  # modules that register extra stage kinds
    params: dict[str, Any] = Field(default_factory=dict)  # `${name}` in stage options (recipe_params)
    preset: str | list[str] | None = None  # name(s) in `presets` or .yaml files of overrides, in order
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stages: list[StageSpec]


@dataclass
class PlannedStage:
    """One stage instance to run (a stage with variants gives several)."""

    id: str                       # folder name under stages/, e.g. `cpt.lora`
    spec: str                     # the recipe stage id, e.g. `cpt`
    kind: str
    variant: str | None
    assignment: dict[str, str]    # recipe stage id -> variant name, for this and upstream stages
    raw: dict                     # options with references as written (`@cpt/adapter`)
    options: dict                 # options with references resolved to folders
    deps: list[str]               # ids of the instances it references
    index: int                    # position in the recipe, to locate errors
    seed: int | None = None       # its value of the seed dimension (None: no `seeds` upstream)
    seeded: bool = False          # the stage itself repeats per seed: its ctx.seed is `seed`

    def run_seed(self, recipe_seed: int) -> int:
        """The seed the stage runs with (its `ctx.seed`, part of its cache key)."""
        return self.seed if self.seeded and self.seed is not None else recipe_seed


@dataclass
class Plan:
    """A validated recipe, expanded into stage instances in run order."""

    recipe: Recipe
    file: str
    root: Path
    resolved: dict                # the recipe data after overrides and placeholder expansion
    stages: list[PlannedStage] = field(default_factory=list)

    def by_id(self) -> dict[str, PlannedStage]:
        return {s.id: s for s in self.stages}


# ---------------------------------------------------------------- loading
def _stage_override(data: dict, item: str) -> str:
    """Let `cpt.with.lr=1e-4` stand for `stages.<index of cpt>.with.lr=1e-4`; refuse a key that
    names no stage or recipe key, saying which exist."""
    stages = data.get("stages") if isinstance(data.get("stages"), list) else []
    ids = {s.get("id"): i for i, s in enumerate(stages) if isinstance(s, dict)}
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    key, sep, value = item.partition("=")
    key = key.strip()
    parts = key.split(".")
    known = ", ".join(str(i) for i in ids) or "none"
    if parts[0] == "stages" and len(parts) > 1 and stages:
        if parts[1] in ids:
            parts[1] = str(ids[parts[1]])
        elif not parts[1].isdigit():
            raise ConfigError(f"no stage '{parts[1]}' (stage ids: {known})", file="command line", key=key)
        elif int(parts[1]) >= len(stages):
            n = len(stages)
            raise ConfigError(f"the recipe has {n} stage{'s' * (n != 1)} (indexes 0 to {n - 1})",
                              file="command line", key=key)
    elif parts[0] in ids:
        parts = ["stages", str(ids[parts[0]]), *parts[1:]]
    elif len(parts) == 1 and parts[0] in params:  # `model=...` sets params.model
        parts = ["params", parts[0]]
    elif sep and parts[0] not in Recipe.model_fields:
        also = f" nor a param ({', '.join(map(str, params))})" if params else ""
        raise ConfigError(f"'{parts[0]}' is neither a stage id ({known}) nor a recipe key "
                          f"({', '.join(Recipe.model_fields)}){also}", file="command line", key=key)
    return ".".join(parts) + sep + value


def read_recipe(path: str | Path, overrides: list[str] | None = None) -> tuple[Recipe, dict, dict]:
    """Read and validate the recipe schema; return (recipe, data, key locations)."""
    data, locations = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=str(path))
    apply_preset(data, overrides or [], _apply_override, str(path), locations)
    for item in overrides or []:
        _apply_override(data, item)
    stage_ids = {s.get("id") for s in data.get("stages") or [] if isinstance(s, dict)}
    substitute_params(data, str(path), locations, stage_ids | set(Recipe.model_fields))
    return validate(Recipe, data, file=str(path), locations=locations), data, locations


def _apply_override(data: dict, item: str) -> None:
    rewritten = _stage_override(data, item)
    try:
        apply_overrides(data, [rewritten])
    except ConfigError as e:
        if rewritten == item:
            raise
        raise ConfigError(f"{e} (the override as written: '{item.partition('=')[0]}')") from None


def run_root(path: str | Path, overrides: list[str] | None = None) -> Path:
    """The run folder of a recipe, from the recipe alone (no stage module is imported)."""
    recipe, _, locations = read_recipe(path, overrides)
    return _run_root(recipe, str(path), locations)


def load_plan(path: str | Path, overrides: list[str] | None = None) -> Plan:
    """Read, validate and expand a recipe; check its input files. Writes nothing."""
    from langadapt.stages import get_stage

    recipe, data, locations = read_recipe(path, overrides)
    _import_plugins(recipe, str(path), locations)
    _check_ids(recipe, str(path), locations)
    root = _run_root(recipe, str(path), locations)
    resolved = copy.deepcopy(data)
    plan = Plan(recipe=recipe, file=str(path), root=root, resolved=resolved)
    for i, spec in enumerate(recipe.stages):
        loc = ("stages", i)
        try:
            stage_cls = get_stage(spec.kind)
        except ConfigError as e:
            raise ConfigError(str(e).split(": ", 1)[-1], file=str(path),
                              line=locations.get(loc + ("kind",)), key=f"stages.{spec.id}.kind") from None
        for inst in _expand(plan, spec, i, str(path), locations):
            _validate_options(stage_cls, inst, spec, str(path), locations)
            plan.stages.append(inst)
    return plan


def _import_plugins(recipe: Recipe, file: str, locations: dict) -> None:
    import importlib

    for i, mod in enumerate(recipe.imports):
        try:
            importlib.import_module(mod)
        except ImportError as e:
            raise ConfigError(f"cannot import module '{mod}' ({e})", file=file,
                              line=locations.get(("imports", i)), key="imports") from None


def _check_ids(recipe: Recipe, file: str, locations: dict) -> None:
    seen: set[str] = set()
    for i, spec in enumerate(recipe.stages):
        if spec.id in seen:
            raise ConfigError("duplicate stage id", file=file, line=locations.get(("stages", i, "id")),
                              key=f"stages.{spec.id}")
        seen.add(spec.id)
        if spec.variants is not None and not spec.variants:
            raise ConfigError("variants is empty", file=file,
                              line=locations.get(("stages", i, "variants")), key=f"stages.{spec.id}.variants")
        for name in spec.variants or {}:  # each becomes part of a folder name: `<id>.<variant>`
            problem = name_problem(name, "id")
            if problem:
                raise ConfigError(f"variant name {problem}", file=file,
                                  line=locations.get(("stages", i, "variants", name))
                                  or locations.get(("stages", i, "variants")),
                                  key=f"stages.{spec.id}.variants")


def _run_root(recipe: Recipe, file: str, locations: dict) -> Path:
    """The run folder: `output_dir`, else `runs/<name>`; never a folder reached by `..` nor
    an existing folder that is not a run folder (a run writes and replaces files there)."""
    key = "output_dir" if recipe.output_dir is not None else "name"
    problem = output_dir_problem(recipe.output_dir) if recipe.output_dir is not None else None
    root = Path(recipe.output_dir or Path("runs") / recipe.name).absolute()
    problem = problem or run_root_problem(root)
    if problem:
        raise ConfigError(problem, file=file, line=locations.get((key,)), key=key)
    return root


# ---------------------------------------------------------------- references and variants
def find_refs(obj: Any) -> list[tuple[str, str | None]]:
    """The `(stage id, pinned variant or None)` of every `@` reference in `obj`."""
    found: list[tuple[str, str | None]] = []

    def visit(s: str) -> str:
        m = REF.match(s)
        if m and (m.group(1), m.group(2)) not in found:
            found.append((m.group(1), m.group(2)))
        return s

    walk_strings(obj, visit)
    return found


def deep_merge(base: dict, over: dict) -> dict:
    """`over` merged into a copy of `base`; nested mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _candidates(plan: Plan, spec: StageSpec, i: int, file: str, locations: dict,
                ref: tuple[str, str | None]) -> list[PlannedStage]:
    target, pinned = ref
    insts = [s for s in plan.stages if s.spec == target]
    if pinned is not None:  # a pinned variant still comes once per seed; `@cpt.lora.seed1` pins one
        name = f"{target}.{pinned}"
        seedless = [s.id.removesuffix(seed_suffixes(s.seed, plan.recipe.seed)[0]) for s in insts]
        insts = [s for s, bare in zip(insts, seedless) if name in (s.id, bare)]
    if not insts:
        what = f"'@{target}.{pinned}'" if pinned else f"'@{target}'"
        raise ConfigError(f"reference {what} names no earlier stage (stages run in order)", file=file,
                          line=locations.get(("stages", i, "with")) or locations.get(("stages", i, "id")),
                          key=f"stages.{spec.id}")
    return insts


def _check_ref_paths(spec: StageSpec, i: int, file: str, locations: dict) -> None:
    """A reference's `/sub/path` must stay inside the referenced stage's folder."""
    sources = [(("with",), spec.with_)] + [(("variants", v), o) for v, o in (spec.variants or {}).items()]
    for where, opts in sources:
        def visit(s: str, where: tuple = where) -> str:
            m = REF.match(s)
            problem = subpath_problem(m.group(3)) if m and m.group(3) else None
            if problem:
                raise ConfigError(f"reference {show(s)}: {problem}", file=file,
                                  line=locations.get(("stages", i, *where)),
                                  key=".".join(["stages", spec.id, *where]))
            return s

        walk_strings(opts, visit)


def _expand(plan: Plan, spec: StageSpec, i: int, file: str, locations: dict) -> list[PlannedStage]:
    """Per own variant: one instance per consistent combination of the referenced stages' variants."""
    _check_ref_paths(spec, i, file, locations)
    seeds = stage_seeds(plan.recipe, spec)
    out = []
    for vname, vopts in (spec.variants or {None: {}}).items():
        raw = deep_merge(spec.with_, vopts)
        check_seeds(seeds, raw, spec.id, file, locations.get(("stages", i, "seeds"))
                    or locations.get(("stages", i, "id")))
        refs = find_refs(raw)
        pools = [_candidates(plan, spec, i, file, locations, r) for r in refs]
        for combo in itertools.product(*pools):
            assign: dict = {}
            if not _merge_assignments(assign, [c.assignment for c in combo]):
                continue
            if vname is not None:
                assign[spec.id] = vname
            for seed in seed_choices(assign, seeds):
                inst = _instance(plan, spec, i, {**assign, SEED_KEY: seed} if seed is not None else assign,
                                 raw, dict(zip(refs, combo)))
                inst.seeded = seeds is not None
                out.append(inst)
    return out


def _merge_assignments(into: dict, parts: list[dict]) -> bool:
    for part in parts:
        for k, v in part.items():
            if into.setdefault(k, v) != v:
                return False
    return True


def _instance(plan: Plan, spec: StageSpec, i: int, assign: dict, raw: dict,
              chosen: dict[tuple, PlannedStage]) -> PlannedStage:
    order = [s.id for s in plan.recipe.stages]
    values = [assign[k] for k in sorted(set(assign) - {SEED_KEY}, key=order.index)]
    seed = assign.get(SEED_KEY)
    folder, label = seed_suffixes(seed, plan.recipe.seed)
    inst_id = spec.id + "".join(f".{v}" for v in values) + folder
    deps: list[str] = []

    def resolve(s: str) -> str:
        m = REF.match(s)
        if not m:
            return expand(s) if "$" in s else s
        dep = chosen[(m.group(1), m.group(2))]
        if dep.id not in deps:
            deps.append(dep.id)
        label = s[:s.index("@")]
        return label + str(plan.root / "stages" / dep.id) + (m.group(3) or "")

    options = walk_strings(raw, resolve)
    return PlannedStage(id=inst_id, spec=spec.id, kind=spec.kind,
                        variant=seed_label("+".join(values) if values else spec.variant, label),
                        assignment=assign, raw=raw, options=options, deps=deps, index=i, seed=seed)


# ---------------------------------------------------------------- validation
def _validate_options(stage_cls, inst: PlannedStage, spec: StageSpec, file: str, locations: dict) -> None:
    """Validate one instance's options against its kind's schema; check its input files."""
    base = ("stages", inst.index)
    try:
        stage_cls.Options.model_validate(inst.options)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        own = inst.assignment.get(spec.id)
        line = None
        for prefix in ([base + ("variants", own)] if own else []) + [base + ("with",)]:
            for n in range(len(loc), -1, -1):
                if prefix + loc[:n] in locations:
                    line = locations[prefix + loc[:n]]
                    break
            if line:
                break
        msg = "unknown key (check the spelling; see the stage's options in docs/recipes.md)" \
            if err["type"] == "extra_forbidden" else err["msg"]
        in_variant = own is not None and loc and loc[0] in (spec.variants or {}).get(own, {})
        where = ["variants", own] if in_variant else ["with"]
        raise ConfigError(msg, file=file, line=line or locations.get(base + ("id",)),
                          key=".".join(["stages", spec.id, *where, *map(str, loc)])) from None
    check_inputs(inst)
