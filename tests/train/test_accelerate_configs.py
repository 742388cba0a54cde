"""The shipped accelerate configs (configs/accelerate/) parse with the installed accelerate
and turn into the intended FSDP / DeepSpeed settings under `accelerate launch`."""

from pathlib import Path

import pytest

launch = pytest.importorskip("accelerate.commands.launch")

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"


def _launch_args(name: str):
    argv = ["--config_file", str(CONFIGS / name), "-m", "langadapt.cli", "train", "cpt", "cpt.yaml"]
    args = launch.launch_command_parser().parse_args(argv)
    args, _, _ = launch._validate_launch_command(args)
    return args


def test_fsdp_config_gives_fsdp2_full_state_dict(monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin

    args = _launch_args("fsdp.yaml")
    assert args.use_fsdp and not args.use_deepspeed
    env = launch.prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    plugin = FullyShardedDataParallelPlugin()       # what the trainer's Accelerator builds from the env
    assert plugin.fsdp_version == 2
    assert plugin.state_dict_type.name == "FULL_STATE_DICT"       # one ordinary HF folder on save
    assert plugin.auto_wrap_policy.__name__ == "transformer_auto_wrap_policy"
    assert plugin.cpu_ram_efficient_loading is False


def test_deepspeed_config_is_zero3_with_16bit_save():
    args = _launch_args("deepspeed_zero3.yaml")
    assert args.use_deepspeed and not args.use_fsdp
    assert int(args.zero_stage) == 3
    assert str(args.zero3_save_16bit_model).lower() == "true"
    assert args.mixed_precision == "no"             # the training config's dtype decides


def test_fsdp_launch_without_gpus_warns_it_runs_as_data_parallel(monkeypatch, caplog):
    import torch

    from langadapt.train.trainer import _cpu_data_parallel

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: FSDP really shards here")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with caplog.at_level("WARNING", logger="langadapt.train.trainer"):
        assert _cpu_data_parallel() is True
    assert "FSDP needs GPUs" in caplog.text
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "false")
    caplog.clear()
    with caplog.at_level("WARNING", logger="langadapt.train.trainer"):
        assert _cpu_data_parallel() is True
    assert "FSDP" not in caplog.text
