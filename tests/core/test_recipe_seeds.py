"""`seeds`: a stage and everything downstream of it once per seed; cached and resumed per seed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from langadapt.config import StrictModel
from langadapt.errors import ConfigError
from langadapt.recipe import load_plan
from langadapt.runner import compute_keys, execute, run_recipe
from langadapt.runs import ResultRow
from langadapt.stages import Stage, register_stage

CALLS: list[tuple[str, int]] = []
FAIL: set[str] = set()   # stage instances that fail (an interrupted run)


@register_stage
class _Draw(Stage):
    """Writes its seed (after the upstream's); fails where FAIL says so."""

    kind = "test.draw"

    class Options(StrictModel):
        src: str | None = None
        seed: int | None = None

    def run(self, opts, ctx):
        CALLS.append((ctx.stage_id, ctx.seed))
        if ctx.stage_id in FAIL:
            raise RuntimeError("boom")
        up = Path(opts.src).read_text() if opts.src else ""
        (ctx.out_dir / "out.txt").write_text(f"{up}{ctx.seed};")
        return [ResultRow(metric="bpb", value=float(ctx.seed), dataset="toy")]


RECIPE = """\
name: seeded
seed: 0
output_dir: OUT
stages:
  - id: data
    kind: test.draw
  - id: fit
    kind: test.draw
    with: {src: "@data/out.txt"}
    variants: {a: {}, b: {}}
  - id: score
    kind: test.draw
    with: {src: "@fit/out.txt"}
  - id: both
    kind: test.draw
    with: {src: "@fit.a/out.txt"}
"""


def write(tmp_path: Path, body: str = RECIPE) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(body).replace("OUT", str(tmp_path / "run")))
    return p


def test_seeds_fan_out_downstream_and_keep_the_recipe_seed_as_it_was(tmp_path):
    path = write(tmp_path)
    plain = load_plan(path)
    plan = load_plan(path, ["fit.seeds=[0,1,2]"])
    ids = [s.id for s in plan.stages]
    assert ids == ["data", "fit.a", "fit.a.seed1", "fit.a.seed2", "fit.b", "fit.b.seed1",
                   "fit.b.seed2", "score.a", "score.a.seed1", "score.a.seed2", "score.b", "score.b.seed1",
                   "score.b.seed2", "both.a", "both.a.seed1", "both.a.seed2"]
    by = plan.by_id()
    assert by["score.b.seed2"].deps == ["fit.b.seed2"] and by["both.a.seed1"].deps == ["fit.a.seed1"]
    assert by["fit.a.seed1"].variant == "a@seed1" and by["data"].variant is None
    assert by["fit.a.seed1"].run_seed(0) == 1 and by["score.a.seed1"].run_seed(0) == 0  # evals keep theirs
    # the recipe's own seed is the run without seeds: same folder, label and cache key
    keys, old = compute_keys(plan), compute_keys(plain)
    assert {k: keys[k] for k in old} == old
    assert len(set(keys.values())) == len(keys)


TRAIN = """\
  - id: cpt
    kind: train
    with: {model: "@data", data: {train: "@data/out.txt"}}
"""


def test_recipe_wide_seeds_repeat_training_stages(tmp_path):
    body = RECIPE.replace("  - id: fit", TRAIN + "  - id: fit")
    plan = load_plan(write(tmp_path, body), ["seeds=[0,1]"])
    assert [s.id for s in plan.stages if s.spec in ("data", "cpt", "fit")] == \
        ["data", "cpt", "cpt.seed1", "fit.a", "fit.b"]


@pytest.mark.parametrize("override, needle", [
    ("fit.seeds=[1,1]", "each once"),
    ("fit.seeds=[]", "at least one"),
    ("fit.with.seed=4", "drop with.seed"),
])
def test_bad_seeds_are_refused(tmp_path, override, needle):
    overrides = [override] + (["fit.seeds=[0,1]"] if "with.seed" in override else [])
    with pytest.raises(ConfigError, match=needle):
        load_plan(write(tmp_path), overrides)


def test_seeds_are_cached_and_resumed_one_by_one(tmp_path):
    path = write(tmp_path)
    CALLS.clear()
    execute(load_plan(path, ["fit.seeds=[0,1]"]), report=False)
    assert ("fit.a.seed1", 1) in CALLS and ("score.b.seed1", 0) in CALLS and len(CALLS) == 11
    out = (tmp_path / "run/stages/score.b.seed1/out.txt").read_text()
    assert out == "0;1;0;"  # data (seed 0), fit.b with seed 1, score with the recipe's seed
    # a third seed runs that seed only; interrupted half-way, the rerun runs only what is left
    CALLS.clear()
    FAIL.add("score.b.seed2")
    try:
        with pytest.raises(RuntimeError):
            execute(load_plan(path, ["fit.seeds=[0,1,2]"]), report=False)
    finally:
        FAIL.clear()
    assert [c[0] for c in CALLS] == ["fit.a.seed2", "fit.b.seed2", "score.a.seed2", "score.b.seed2"]
    CALLS.clear()
    plan, st = run_recipe(path, ["fit.seeds=[0,1,2]"], report=False)
    assert CALLS == [("score.b.seed2", 0), ("both.a.seed2", 0)]   # only what the failure left
    rows = [json.loads(x) for x in (plan.root / "results.jsonl").read_text().splitlines()]
    labels = {(r["extra"]["stage"], r["variant"], r["extra"].get("seed")) for r in rows}
    assert {("score.a", "a", 0), ("score.a.seed2", "a@seed2", 2), ("fit.b.seed1", "b@seed1", 1),
            ("data", None, None)} <= labels
