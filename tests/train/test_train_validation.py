"""Training options that would train nothing or NaN are refused up front; a run whose loss turns
non-finite stops at that step with one line and writes nothing as final."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import TrainerCallback

from langadapt.cli import main
from langadapt.errors import LangadaptError
from langadapt.recipe import load_plan

BASE = {"model": "m", "data": {"train": "t.txt"}, "output_dir": "out"}


@pytest.mark.parametrize("override", ["lr=.nan", "lr=nan", "lr=.inf", "lr=-.inf", "lr=0", "lr=-1e-4",
                                      "embedding_lr=.nan", "embedding_lr=0"])
def test_non_finite_or_non_positive_lr_is_refused_at_validation(write_config, capsys, override):
    path = write_config(BASE)
    assert main(["train", "cpt", str(path), override, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"key '{override.split('=')[0]}'" in err[0]


@pytest.mark.parametrize("seed, ok", [(2**32 - 1, True), (2**32, False), (-3, False)])
def test_train_seed_beyond_what_the_generators_take_is_refused(write_config, capsys, seed, ok):
    path = write_config(BASE)
    assert main(["train", "cpt", str(path), f"seed={seed}", "--dry-run"]) == (0 if ok else 2)
    if not ok:
        assert "key 'seed'" in capsys.readouterr().err


@pytest.mark.parametrize("lr", [".nan", "0", "-0.1"])
def test_recipe_train_stage_with_a_bad_lr_is_refused_at_validation(tmp_path, lr):
    text = tmp_path / "t.txt"
    text.write_text("some text\n", encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nstages:\n  - id: cpt\n    kind: train\n    with:\n      model: m\n"
                      f"      data: {{train: ['{text}']}}\n      lr: {lr}\n", encoding="utf-8")
    with pytest.raises(LangadaptError, match=r"r\.yaml:8: key 'stages\.cpt\.with\.lr'"):
        load_plan(recipe)


class _PoisonWeights(TrainerCallback):
    """Makes every weight NaN after step `at`, as an exploding update would."""

    def __init__(self, at: int):
        self.at = at

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step == self.at:
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(math.nan)


def test_loss_that_becomes_non_finite_stops_the_run_naming_the_step(small_model, data_dir, tmp_path):
    from langadapt.train import TrainConfig, train

    out = tmp_path / "run"
    cfg = TrainConfig.model_validate(dict(
        model=str(small_model("qwen3")), output_dir=str(out), seq_len=16, batch_size=1, max_steps=5,
        method="full", lr=5e-3, data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 20}))
    with pytest.raises(LangadaptError, match=r"^training loss became non-finite \(nan\) at step 3 of 5") as e:
        train(cfg, "cpt", callbacks=[_PoisonWeights(2)])
    assert "\n" not in str(e.value)
    assert not (out / "train_summary.json").exists()
    assert not any(out.glob("*.safetensors"))
