import json

import pytest

from langadapt.cli import main
from langadapt.errors import ConfigError
from langadapt.train.config import load_train_config

BASE = {"model": "m", "data": {"train": "t.txt"}, "output_dir": "out"}


@pytest.mark.parametrize("extra, overrides, match", [
    ({"lerning_rate": 0.1}, [], r"train.yaml:\d+: key 'lerning_rate': unknown key"),
    ({"lora": {"rank": 8}}, [], r"train.yaml:\d+: key 'lora.rank': unknown key"),
    ({}, ["method=adapterz"], r"key 'method'"),
    ({"method": "full", "lora": {"train_embeddings": True}}, [], r"train_embeddings"),
    ({"lora": {"train_embeddings": "some"}}, [], r"key 'lora.train_embeddings'"),
    ({}, ["data.replay_ratio=1.5"], r"key 'data.replay_ratio'"),
])
def test_bad_configs_are_located(write_config, extra, overrides, match):
    path = write_config({**BASE, **extra})
    with pytest.raises(ConfigError, match=match):
        load_train_config(path, overrides)


@pytest.mark.parametrize("override, match", [
    ("max_steps=0", r"train.yaml: key 'max_steps': max_steps must be ≥ 1 \(got 0\)"),
    ("max_steps=-5", r"key 'max_steps': max_steps must be ≥ 1 \(got -5\)"),
    ("batch_size=0", r"key 'batch_size': batch_size must be ≥ 1"),
    ("grad_accum=0", r"key 'grad_accum': grad_accum must be ≥ 1"),
    ("seq_len=0", r"key 'seq_len': seq_len must be ≥ 8"),
    ("epochs=0", r"key 'epochs': epochs must be > 0"),
    ("epochs=-1", r"key 'epochs': epochs must be > 0"),
    ("save_steps=0", r"key 'save_steps': save_steps must be ≥ 1"),
    ("eval_steps=0", r"key 'eval_steps': eval_steps must be ≥ 1"),
    ("logging_steps=0", r"key 'logging_steps': logging_steps must be ≥ 1"),
    ("eval_batch_size=0", r"key 'eval_batch_size': eval_batch_size must be ≥ 1"),
    ("data.limit=0", r"key 'data.limit': limit must be ≥ 1"),
    ("mt.max_target_length=0", r"key 'mt.max_target_length': max_target_length must be ≥ 1"),
    ("warmup_steps=-1", r"key 'warmup_steps': warmup_steps must be ≥ 0"),
])
def test_counts_that_must_be_positive_are_refused(write_config, override, match):
    with pytest.raises(ConfigError, match=match):
        load_train_config(write_config(BASE), [override])


def test_zero_max_steps_in_the_file_is_located(write_config):
    with pytest.raises(ConfigError, match=r"train.yaml:3: key 'max_steps': max_steps must be ≥ 1"):
        load_train_config(write_config({**BASE, "max_steps": 0}))


def test_overrides_and_defaults(write_config):
    cfg = load_train_config(write_config(BASE), ["method=full", "lora.r=4", "max_steps=3"])
    assert (cfg.method, cfg.lora.r, cfg.max_steps, cfg.epochs) == ("full", 4, 3, None)
    assert cfg.data.train == ["t.txt"]
    assert load_train_config(write_config(BASE)).epochs == 1.0


def test_cli_dry_run_prints_resolved_config(write_config, capsys):
    assert main(["train", "sft", str(write_config(BASE)), "lr=0.5", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "sft" and out["lr"] == 0.5


def test_cli_unknown_key_exits_2_with_one_line(write_config, capsys):
    path = write_config({**BASE, "bogus": 1})
    assert main(["train", "cpt", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bogus" in err and "train.yaml:" in err


def test_cli_missing_data_exits_2(write_config, small_model, capsys, tmp_path):
    cfg = {"model": str(small_model("qwen3")), "data": {"train": str(tmp_path / "nope.txt")},
           "output_dir": str(tmp_path / "o"), "max_steps": 1}
    assert main(["train", "cpt", str(write_config(cfg))]) == 2
    assert "nope.txt" in capsys.readouterr().err


def test_qlora_without_gpu_or_bitsandbytes_is_a_clear_error(small_model, tmp_path, data_dir):
    import torch

    from langadapt.train import TrainConfig, train

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: qlora may legitimately run here")
    cfg = TrainConfig(model=str(small_model("qwen3")), method="qlora", output_dir=str(tmp_path / "q"),
                      data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")]}, max_steps=1)
    with pytest.raises(ConfigError, match=r"key 'method': method qlora needs (bitsandbytes|a CUDA GPU)"):
        train(cfg, "cpt")


def test_cli_json_prints_only_result_rows(write_config, small_model, data_dir, tmp_path, capsys):
    cfg = {"model": str(small_model("qwen3")), "output_dir": str(tmp_path / "o"), "max_steps": 1,
           "seq_len": 16, "batch_size": 1, "method": "full",
           "data": {"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 10}}
    assert main(["train", "cpt", str(write_config(cfg)), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["train_loss", "tokens_per_second"]
    assert rows[0]["signature"]["data_hash"] and rows[0]["signature"]["options"]["method"] == "full"
