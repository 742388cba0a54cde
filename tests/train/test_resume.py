"""Resume: a finished run is not trained again, no run passes its end, the summary spans all segments."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from langadapt.errors import ConfigError
from langadapt.train import TrainConfig, train
from langadapt.train.callbacks import read_log
from langadapt.train.resume import mean_train_loss, run_time


def _cfg(model, data_dir, out, **kw):
    # 49 steps per epoch: the run ends mid-epoch, where HF's resume used to train one step more
    base = dict(model=str(model), output_dir=str(out), seq_len=32, batch_size=2, lr=5e-3, max_steps=3,
                save_steps=2, method="lora", lora={"r": 4, "dropout": 0.1},
                data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 60,
                      "eval_fraction": 0.1})
    return TrainConfig.model_validate({**base, **kw})


class _Kill(TrainerCallback):
    """Simulates a kill at the end of step `at`, before it is logged or saved."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def _loss_steps(out):
    return [r["step"] for r in read_log(out / "train_log.jsonl") if "loss" in r]


@pytest.fixture(scope="module")
def finished(small_model, data_dir, tmp_path_factory):
    """A finished 3-step LoRA run (checkpoints at 2 and 3): (output folder, summary text, adapter bytes)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train(_cfg(small_model("qwen3"), data_dir, out), "cpt")
    return out, (out / "train_summary.json").read_text(), (out / "adapter_model.safetensors").read_bytes()


def test_rerunning_a_finished_run_is_a_no_op(finished, small_model, data_dir):
    out, summary, weights = finished
    res = train(_cfg(small_model("qwen3"), data_dir, out, resume=True), "cpt")
    assert _loss_steps(out) == [1, 2, 3]
    assert (out / "adapter_model.safetensors").read_bytes() == weights
    assert (out / "train_summary.json").read_text() == summary
    assert res.summary == json.loads(summary) and res.summary["steps"] == 3


def test_final_checkpoint_without_summary_finishes_without_training(finished, small_model, data_dir,
                                                                      tmp_path):
    """What a stage re-run finds in its work folder: the last checkpoint, no summary."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    (out / "train_summary.json").unlink()
    (out / "adapter_model.safetensors").unlink()
    res = train(_cfg(small_model("qwen3"), data_dir, out, resume=True), "cpt")
    assert _loss_steps(out) == [1, 2, 3]
    assert res.summary["steps"] == 3 and res.summary["resumed_from"].endswith("checkpoint-3")
    first = json.loads(finished[1])
    assert res.summary["train_loss"] == pytest.approx(first["train_loss"], rel=1e-12)
    assert res.summary["total_tokens"] == first["total_tokens"]
    assert 0 < res.summary["wall_time_s"] <= first["wall_time_s"]
    old = load_file(finished[0] / "adapter_model.safetensors")
    new = load_file(out / "adapter_model.safetensors")
    assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)


def test_checkpoint_past_max_steps_is_refused_and_a_longer_run_continues(finished, small_model, data_dir,
                                                                         tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    with pytest.raises(ConfigError, match=r"key 'max_steps': checkpoint .*checkpoint-3 is at step 3, "
                                          r"past this run's last step 2"):
        train(_cfg(small_model("qwen3"), data_dir, out, resume=True, max_steps=2), "cpt")
    res = train(_cfg(small_model("qwen3"), data_dir, out, resume=True, max_steps=5), "cpt")
    rows = [r for r in res.log if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert res.summary["steps"] == 5 and res.summary["total_tokens"] == 5 * 2 * 32
    assert res.summary["train_loss"] == pytest.approx(sum(r["loss"] for r in rows) / 5, rel=1e-9)


def test_resumed_summary_describes_the_whole_run(small_model, data_dir, tmp_path):
    # logging every 3 steps, checkpoints every 2: the loss of step 4 is only kept because the
    # trainer also logs at checkpoints
    kw = dict(max_steps=6, logging_steps=3)
    full = train(_cfg(small_model("qwen3"), data_dir, tmp_path / "a", **kw), "cpt")
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(small_model("qwen3"), data_dir, tmp_path / "b", **kw), "cpt", callbacks=[_Kill(5)])
    state = json.loads((tmp_path / "b" / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    first_segment = run_time(state["log_history"], 4)
    assert first_segment > 0
    resumed = train(_cfg(small_model("qwen3"), data_dir, tmp_path / "b", resume=True, **kw), "cpt")
    a, b = full.summary, resumed.summary
    assert b["resumed_from"].endswith("checkpoint-4")
    assert b["steps"] == a["steps"] == 6
    assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)
    assert b["total_tokens"] == a["total_tokens"] == 6 * 2 * 32
    assert b["total_bytes"] == a["total_bytes"] > 0
    assert b["bytes_per_epoch"] == a["bytes_per_epoch"]
    assert b["wall_time_s"] > first_segment
    assert b["tokens_per_second"] == pytest.approx(b["total_tokens"] / b["wall_time_s"])
    assert [r["step"] for r in resumed.log if "loss" in r] == [2, 3, 4, 6]


@pytest.mark.parametrize("rows, steps, expected", [
    ([{"step": 2, "loss": 1.0}, {"step": 3, "loss": 4.0}], 3, 2.0),     # a row weighs the steps it covers
    ([{"step": 1, "loss": 2.0}, {"step": 1, "eval_loss": 9.0}, {"step": 2, "loss": 4.0}], 2, 3.0),
    ([{"step": 2, "loss": 1.0}, {"step": 4, "loss": 3.0}], 2, 1.0),     # rows after `steps` are ignored
    ([{"step": 1, "eval_loss": 1.0}], 1, None),
])
def test_mean_train_loss(rows, steps, expected):
    assert mean_train_loss(rows, steps) == (pytest.approx(expected) if expected is not None else None)


def test_options_hash_sees_data_contents_and_the_langadapt_version(tmp_path, monkeypatch):
    import langadapt
    from langadapt.train.resume import options_hash

    text = tmp_path / "train.txt"
    text.write_text("one\n", encoding="utf-8")
    cfg = TrainConfig.model_validate({"model": "org/model", "output_dir": str(tmp_path / "out"),
                                      "data": {"train": [str(text)]}})
    first = options_hash(cfg, "cpt")
    assert options_hash(cfg, "cpt") == first
    text.write_text("two\n", encoding="utf-8")  # same path, new text: not the finished run
    second = options_hash(cfg, "cpt")
    assert second != first
    monkeypatch.setattr(langadapt, "__version__", "99.0.0")
    assert options_hash(cfg, "cpt") != second
