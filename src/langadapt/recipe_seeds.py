"""Seeds as a dimension of the plan: a stage repeated per seed, with everything downstream.

`seeds: [0, 1, 2]` on a stage (or recipe-wide, for every `train` stage that gives none)
runs that stage once per seed, each instance taking the seed as its own (data order,
init noise, LoRA init); every stage that references it then runs once per seed as well,
like a variant. The seed is one dimension of the whole plan (the assignment key
`SEED_KEY`), so a stage that reads two seeded stages pairs them seed by seed.

The instance of the recipe's own `seed` keeps its usual folder, label and cache key: a run
finished without `seeds` is the first seed of a run with them, and is not trained again.
Another seed adds `.seedN` to the folder name and `@seedN` to the row label.
"""

from __future__ import annotations

from typing import Any

from langadapt.errors import ConfigError

SEED_KEY = "@seed"        # the assignment key of the seed dimension (never a stage id)
SEEDED_KINDS = ("train",)  # the kinds a recipe-wide `seeds` repeats


def stage_seeds(recipe: Any, spec: Any) -> list[int] | None:
    """The seeds this stage repeats over: its own `seeds`, else the recipe's for training stages."""
    if spec.seeds is not None:
        return spec.seeds
    return recipe.seeds if spec.kind in SEEDED_KINDS else None


def check_seeds(seeds: list[int] | None, raw: dict, spec_id: str, file: str, line: int | None) -> None:
    """Refuse an empty or repeated list, and a stage that pins its own `seed` beside `seeds`."""
    if seeds is None:
        return
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError("seeds must list at least one seed, each once", file=file, line=line,
                          key=f"stages.{spec_id}.seeds")
    if "seed" in raw:
        raise ConfigError("the stage sets its own seed: with seeds, each run takes its seed from "
                          "the list (drop with.seed)", file=file, line=line,
                          key=f"stages.{spec_id}.with.seed")


def seed_choices(assign: dict, seeds: list[int] | None) -> list[int | None]:
    """The seeds an instance with upstream assignment `assign` runs with.

    A stage with `seeds` under a seeded upstream keeps only the upstream's seed (one
    dimension); a stage without `seeds` inherits the upstream's seed, or has none.
    """
    upstream = assign.get(SEED_KEY)
    if seeds is None:
        return [upstream]
    return [s for s in seeds if upstream is None or s == upstream]


def seed_suffixes(seed: int | None, recipe_seed: int) -> tuple[str, str]:
    """(folder suffix, label suffix) of an instance: none for the recipe's own seed."""
    if seed is None or seed == recipe_seed:
        return "", ""
    return f".seed{seed}", f"@seed{seed}"


def seed_label(label: str | None, suffix: str) -> str | None:
    """A row or variant label with the seed suffix (once)."""
    if not suffix:
        return label
    if not label:
        return suffix.lstrip("@")
    return label if label.endswith(suffix) else label + suffix
