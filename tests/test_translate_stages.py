"""Recipe stages `translate` and `eval.flores`, run as the recipe runner runs them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from langadapt.stages import StageContext, get_stage


def _ctx(tmp_path, stage_id):
    out = tmp_path / "run" / "stages" / f".{stage_id}.tmp"
    out.mkdir(parents=True)
    return StageContext(stage_id=stage_id, out_dir=out, run_dir=tmp_path / "run", seed=3,
                        variant="v1")


def test_flores_stage_scores_a_file(data_dir, tmp_path):
    stage = get_stage("eval.flores")
    opts = stage.Options(hyp=str(data_dir / "flores" / "google_mt.eng_Latn.dev.txt"), src="khk_Cyrl",
                         tgt="eng_Latn", metrics=["bleu", "chrf++"], resamples=50, limit=50)
    ctx = _ctx(tmp_path, "flores")
    rows = stage().run(opts, ctx)
    assert [(r.metric, r.n, r.variant) for r in rows] == [("bleu", 50, "v1"), ("chrf++", 50, "v1")]
    assert rows[0].signature["seed"] == 3
    assert (ctx.out_dir / "hyp.khk_Cyrl-eng_Latn.dev.txt").is_file()
    assert len((ctx.out_dir / "results.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("bad", [{}, {"model": "m", "hyp": "h"}, {"hyp": "h", "colour": 1},
                                 {"hyp": "h", "metrics": ["bleu", "blue"]}])
def test_flores_stage_options_are_strict(bad):
    with pytest.raises(ValidationError):
        get_stage("eval.flores").Options(src="khk_Cyrl", tgt="eng_Latn", **bad)


def test_translate_stage(tiny_model, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Сайн байна уу\nБаярлалаа\n", encoding="utf-8")
    stage = get_stage("translate")
    opts = stage.Options(model=str(tiny_model("m2m100")), input=str(src), src="khk_Cyrl",
                         tgt="eng_Latn", generation={"max_new_tokens": 4, "device": "cpu"})
    ctx = _ctx(tmp_path, "synth")
    rows = {r.metric: r for r in stage().run(opts, ctx)}
    assert rows["translate.new"].value == 2 and rows["translate.new"].variant == "v1"
    assert len((ctx.out_dir / "in.txt").read_text(encoding="utf-8").splitlines()) == 2
    assert json.loads((ctx.out_dir / "stats.json").read_text())["translate.empty"] is not None
    assert not (ctx.run_dir / "cache" / "synth").exists()
