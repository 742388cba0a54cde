import json

import pytest
from transformers import TrainerCallback

from langadapt.config import validate
from langadapt.errors import ConfigError
from langadapt.stages import StageContext, get_stage
from langadapt.stages.train import _work_dir
from langadapt.train.callbacks import read_log
from langadapt.train.config import TrainConfig
from langadapt.train.trainer import train


def test_train_stage_writes_into_its_folder_and_returns_rows(small_model, data_dir, tmp_path):
    stage = get_stage("train")
    opts = stage.Options.model_validate(dict(
        objective="cpt", model=str(small_model("qwen3")), method="lora", lora={"r": 2},
        data={"train": [str(data_dir / "mono" / "news_ner_v1.txt")], "limit": 40, "eval_fraction": 0.2},
        seq_len=32, batch_size=2, max_steps=2))
    out = tmp_path / "stages" / "cpt"
    rows = stage().run(opts, StageContext(stage_id="cpt", out_dir=out, run_dir=tmp_path, variant="lora"))
    assert {r.metric for r in rows} == {"train_loss", "eval_loss", "tokens_per_second"}
    assert all(r.variant == "lora" and r.signature["options"]["method"] == "lora" for r in rows)
    assert (out / "adapter_config.json").is_file() and (out / "train_summary.json").is_file()
    assert [r["step"] for r in read_log(out / "train_log.jsonl") if "loss" in r] == [1, 2]


def test_train_stage_options_have_no_output_dir():
    with pytest.raises(ConfigError, match="output_dir"):
        validate(get_stage("train").Options, {"model": "m", "data": {"train": "x"}, "output_dir": "o"})


class _Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 2:
            raise KeyboardInterrupt


def test_train_stage_resumes_from_the_runner_work_dir(small_model, data_dir, tmp_path):
    stage = get_stage("train")
    opts = stage.Options.model_validate(dict(
        model=str(small_model("qwen3")), method="full", save_steps=1, max_steps=2, seq_len=16,
        batch_size=1, data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 20}))
    work = tmp_path / "cache" / "cpt"

    def ctx(n):
        return StageContext(stage_id="cpt", out_dir=tmp_path / f"attempt{n}", run_dir=tmp_path,
                            extra={"key": "k1", "work_dir": work})

    # a first attempt is interrupted after checkpoint-1 was written to the work dir
    data = {**opts.model_dump(exclude={"objective"}), "output_dir": str(_work_dir(ctx(0)))}
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig.model_validate(data), "cpt", callbacks=[_Kill()])
    rows = stage().run(opts, ctx(1))
    out = tmp_path / "attempt1"
    assert json.loads((out / "train_summary.json").read_text())["resumed_from"].endswith("checkpoint-1")
    assert (out / "model.safetensors").is_file() and not (out / "checkpoints").exists()
    assert rows and all(r.model == str(out) for r in rows)
    # the runner did not commit that attempt: the next one finds the final checkpoint and
    # finishes from it without training a step past max_steps
    rows2 = stage().run(opts, ctx(2))
    out2 = tmp_path / "attempt2"
    assert (out2 / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert [r["step"] for r in read_log(out2 / "train_log.jsonl") if "loss" in r] == [1, 2]
    assert json.loads((out2 / "train_summary.json").read_text())["steps"] == 2
    assert [r.value for r in rows2 if r.metric == "train_loss"] == \
        [r.value for r in rows if r.metric == "train_loss"]
    # options changed (new key): stale checkpoints are not resumed
    ctx2 = StageContext(stage_id="cpt", out_dir=tmp_path / "a2", run_dir=tmp_path,
                        extra={"key": "k2", "work_dir": work})
    work.mkdir(parents=True, exist_ok=True)
    (work / "checkpoints").mkdir(exist_ok=True)
    assert not (_work_dir(ctx2) / "checkpoints").exists()
