import pytest

from langadapt.errors import ConfigError
from langadapt.stages import StageContext, get_stage
from langadapt.train.callbacks import read_log


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
    from langadapt.config import validate

    stage = get_stage("train")
    with pytest.raises(ConfigError, match="output_dir"):
        validate(stage.Options, {"model": "m", "data": {"train": "x"}, "output_dir": "o"})
