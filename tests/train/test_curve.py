"""Learning curves: held-out bits per byte at step 0, every N steps and the last step; resume keeps them."""

from __future__ import annotations

import pytest
from transformers import TrainerCallback

from langadapt.train.config import TrainConfig
from langadapt.train.curve import CURVE_NAME, read_curve, split_label
from langadapt.train.trainer import train


class _Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 3:
            raise KeyboardInterrupt


def _cfg(model, data_dir, out, **kw):
    news = data_dir / "mono" / "news_ner_v1.txt"
    return TrainConfig.model_validate(dict(
        model=str(model), method="lora", lora={"r": 2}, output_dir=str(out), max_steps=5, seq_len=16,
        batch_size=1, save_steps=2, data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")],
                                          "limit": 30},
        curve={"every": 2, "texts": [f"news={news}", str(data_dir / "flores" / "eng_Latn.dev.txt")],
               "max_docs": 3, "resamples": 20}, **kw))


def test_curve_rows_at_step_0_every_n_and_the_end_and_resume_keeps_them(small_model, data_dir, tmp_path):
    cfg = _cfg(small_model("qwen3"), data_dir, tmp_path / "out")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, "cpt", callbacks=[_Kill()])
    before = read_curve(tmp_path / "out" / CURVE_NAME)
    assert sorted({r["step"] for r in before}) == [0, 2]
    train(cfg.model_copy(update={"resume": True}), "cpt")   # resumes from checkpoint-2
    rows = read_curve(tmp_path / "out" / CURVE_NAME)
    assert [(r["step"], r["text"]) for r in rows] == [
        (s, t) for s in (0, 2, 4, 5) for t in ("news", "eng_Latn.dev.txt")]
    assert rows[:4] == before  # the points measured before the interruption are kept as they were
    news = [r for r in rows if r["text"] == "news"]
    assert news[0]["tokens"] == 0 and news[0]["bytes"] == 0
    assert [r["tokens"] for r in news] == [0, 32, 64, 80]            # 16 tokens per step
    assert all(b > 0 for b in (r["bytes"] for r in news[1:]))
    for r in rows:
        assert r["docs"] == 3 and len(r["doc_nll"]) == 3 and r["ci"][0] <= r["bpb"] <= r["ci"][1]
    assert news[-1]["bpb"] != news[0]["bpb"]                           # training moved it


def test_split_label():
    assert split_label("news=/a/b.txt") == ("news", "/a/b.txt")
    assert split_label("/a/x=y.txt") == ("x=y.txt", "/a/x=y.txt")
