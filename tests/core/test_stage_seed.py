"""`StageContext.seeded`: the one rule for "the recipe's seed unless the stage sets its own"."""

from __future__ import annotations

from langadapt.config import StrictModel
from langadapt.stages import StageContext


class _Opts(StrictModel):
    seed: int | None = None
    n: int = 1


class _NoSeed(StrictModel):
    n: int = 1


def test_seeded(tmp_path):
    ctx = StageContext(stage_id="s", out_dir=tmp_path, run_dir=tmp_path, seed=7)
    assert ctx.seeded(_Opts()).seed == 7                       # unset: the recipe's seed
    assert ctx.seeded(_Opts(seed=0)).seed == 0                 # set, even to 0: the stage's own
    assert ctx.seeded(_Opts.model_validate({"n": 2})).seed == 7
    assert ctx.seeded(_NoSeed()) == _NoSeed()                  # no seed field: unchanged


def test_stages_take_the_recipe_seed(tmp_path):
    from langadapt.generation_options import GenerationOptions
    from langadapt.models.tiny_options import TinyOptions

    ctx = StageContext(stage_id="s", out_dir=tmp_path, run_dir=tmp_path, seed=11)
    assert ctx.seeded(GenerationOptions()).seed == 11 and ctx.seeded(GenerationOptions(seed=3)).seed == 3
    assert ctx.seeded(TinyOptions(tokenizer="t")).seed == 11
