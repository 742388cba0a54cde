from __future__ import annotations

import json

import pytest

from langadapt.errors import ConfigError
from langadapt.eval.speed import SpeedOptions, SpeedSettings, evaluate_speed, new_text, read_prompts

METRICS = ["speed.bytes_per_second", "speed.useful_bytes_per_second", "speed.tokens_per_second",
           "speed.bytes_per_token", "speed.pass_share", "speed.lang_share", "speed.repeated_trigrams"]


class FakeClock:
    """Advances `step` seconds per reading, so every timed batch lasts exactly `step`."""

    def __init__(self, step: float = 0.5):
        self.t, self.step, self.calls = 0.0, step, 0

    def __call__(self) -> float:
        self.calls += 1
        self.t += self.step
        return self.t


@pytest.fixture
def text(tmp_path):
    p = tmp_path / "prompts.txt"
    p.write_text("Монгол улсын засгийн газар өнөөдөр хуралдлаа.\n\n"
                 "Улаанбаатар хотод цас орж байна.\nHello world, this is a test.\nНэг хоёр гурав\n",
                 encoding="utf-8")
    return p


def test_prompts_are_the_first_words_of_the_first_documents(text):
    opts = SpeedSettings(prompts=3, prompt_words=2)
    assert read_prompts([text], opts) == ["Монгол улсын", "Улаанбаатар хотод", "Hello world,"]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_rows_are_ratios_of_the_measured_sums(tiny_model, text, batch_size):
    clock = FakeClock(0.5)
    opts = SpeedOptions(model=str(tiny_model("qwen3")), text=[str(text)], prompts=3, prompt_words=3,
                        max_new_tokens=5, batch_size=batch_size, warmup=2, resamples=50, variant="base")
    res = evaluate_speed(opts, clock=clock)
    batches = -(-3 // batch_size)
    assert clock.calls == 2 * batches  # warm-up generations are not timed
    assert [r.metric for r in res.rows] == METRICS
    by = {r.metric: r for r in res.rows}
    extra = res.rows[0].extra
    assert extra["tokens"] == 3 * 5 and extra["seconds"] == pytest.approx(0.5 * batches)
    assert extra["bytes"] == sum(len(r["text"].encode("utf-8")) for r in res.records) > 0
    assert by["speed.bytes_per_second"].value == pytest.approx(extra["bytes"] / extra["seconds"])
    assert by["speed.tokens_per_second"].value == pytest.approx(extra["tokens"] / extra["seconds"])
    assert by["speed.bytes_per_token"].value == pytest.approx(extra["bytes"] / extra["tokens"])
    for r in res.rows:
        assert r.n == 3 and r.variant == "base" and r.dataset == "prompts.txt"
        assert r.ci[0] <= r.value <= r.ci[1]
        assert r.signature["options"]["max_new_tokens"] == 5 and r.signature["data_hash"]
    assert [r["prompt"] for r in res.records] == read_prompts([text], opts)
    assert sum(r["seconds"] for r in res.records) == pytest.approx(extra["seconds"])
    # useful bytes: only the passing continuations' bytes, over all the time
    passed = [r for r in res.records if r["pass"]]
    assert extra["useful_bytes"] == sum(r["bytes"] for r in passed) <= extra["bytes"]
    useful = by["speed.useful_bytes_per_second"].value
    assert useful == pytest.approx(extra["useful_bytes"] / extra["seconds"])
    assert by["speed.useful_bytes_per_second"].value <= by["speed.bytes_per_second"].value
    assert by["speed.pass_share"].value == pytest.approx(len(passed) / 3)
    for r in res.records:
        assert r["pass"] == (not r["reasons"]) and 0 <= r["lang_share"] <= 1 and r["judge_bpb"] is None
    sig = res.rows[0].signature["options"]
    assert (sig["min_lang_share"], sig["max_repeated_trigrams"], sig["lang"]) == (0.8, 0.2, "khk_Cyrl")


def test_greedy_text_is_the_same_in_any_batch(tiny_model, text):
    one = evaluate_speed(SpeedOptions(model=str(tiny_model("qwen3")), text=[str(text)], prompts=3,
                                     max_new_tokens=6, warmup=0, resamples=0))
    two = evaluate_speed(SpeedOptions(model=str(tiny_model("qwen3")), text=[str(text)], prompts=3,
                                     max_new_tokens=6, warmup=0, resamples=0, batch_size=3))
    assert [r["text"] for r in one.records] == [r["text"] for r in two.records]


def test_sampling_is_seeded_and_differs_from_greedy(tiny_model, text):
    opts = dict(model=str(tiny_model("qwen3")), text=[str(text)], prompts=3, max_new_tokens=8, warmup=1,
                resamples=0)
    greedy = evaluate_speed(SpeedOptions(**opts))
    a = evaluate_speed(SpeedOptions(**opts, temperature=1.0))
    b = evaluate_speed(SpeedOptions(**{**opts, "warmup": 0}, temperature=1.0))  # no warmup draws: same
    c = evaluate_speed(SpeedOptions(**opts, temperature=1.0, seed=1))
    texts = [[r["text"] for r in x.records] for x in (greedy, a, b, c)]
    assert texts[1] == texts[2] and texts[1] != texts[0] and texts[1] != texts[3]
    assert a.rows[0].signature["options"]["decoding"] == "sampled at temperature 1"
    assert greedy.rows[0].signature["options"]["decoding"] == "greedy"


def test_new_text_counts_a_merged_leading_space_once(tokenizers_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizers_dir / "llama3")
    prompt = tok("Монгол улсын", add_special_tokens=False)["input_ids"]
    new = tok(" засгийн газар", add_special_tokens=False)["input_ids"]
    assert new_text(tok, prompt, new) == " засгийн газар"


def test_seq2seq_models_are_refused(tiny_model, text):
    with pytest.raises(ConfigError, match="causal"):
        evaluate_speed(SpeedOptions(model=str(tiny_model("m2m100")), text=[str(text)], prompts=1,
                                    max_new_tokens=2, warmup=0))


def test_cli_measures_several_models_on_the_same_prompts(tiny_model, text, tmp_path, capsys):
    from langadapt.cli import main

    gens = tmp_path / "gens.jsonl"
    models = [str(tiny_model("qwen3")), str(tiny_model("llama"))]
    assert main(["eval", "speed", "--model", *models, "--text", str(text), "--prompts", "2",
                 "--max-new-tokens", "3", "--warmup", "1", "--generations", str(gens), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == METRICS * 2
    assert [r["extra"]["tokens"] for r in rows] == [6] * len(METRICS) * 2
    recs = [json.loads(x) for x in gens.read_text(encoding="utf-8").splitlines()]
    assert [r["prompt"] for r in recs[:2]] == [r["prompt"] for r in recs[2:]]


def test_cli_rejects_a_bad_option_with_exit_2(tiny_model, text, capsys):
    from langadapt.cli import main

    assert main(["eval", "speed", "--model", str(tiny_model("qwen3")), "--text", str(text),
                 "--max-new-tokens", "0"]) == 2
    assert "max_new_tokens" in capsys.readouterr().err


def test_stage_writes_rows_and_generations(tiny_model, text, tmp_path):
    from langadapt.stages import StageContext, get_stage

    cls = get_stage("eval.speed")
    with pytest.raises(Exception, match="nope"):
        cls.Options(model="m", text=["t"], nope=1)
    judge = str(tiny_model("llama"))
    opts = cls.Options(model=str(tiny_model("qwen3")), text=[str(text)], prompts=2, max_new_tokens=3,
                       warmup=0, resamples=20, judge=judge, max_judge_bpb=100.0)
    rows = cls().run(opts, StageContext("speed", tmp_path, tmp_path, seed=4, variant="fvt"))
    assert [r.metric for r in rows] == METRICS + ["speed.judge_bpb"] and {r.variant for r in rows} == {"fvt"}
    assert rows[0].signature["seed"] == 4
    sig = rows[0].signature["options"]
    assert (sig["judge"], sig["max_judge_bpb"]) == (judge, 100)
    assert (tmp_path / "rows.jsonl").read_text().count("\n") == len(METRICS) + 1
    recs = [json.loads(x) for x in (tmp_path / "generations.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 2 and all(r["judge_bpb"] > 0 for r in recs if r["text"])
    judged = [r for r in recs if r["judge_bpb"] is not None]
    assert rows[-1].value == pytest.approx(sum(r["judge_bpb"] * r["bytes"] for r in judged)
                                           / sum(r["bytes"] for r in judged), rel=1e-3)


def test_useful_bytes_count_only_the_passing_continuations(data_dir):
    import numpy as np

    from langadapt.eval.speed import USEFUL, quality_stats, rows_from_stats

    good = " " + (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[1]
    loop = " байна." * 12
    records = [{"prompt": "Монгол улсын", "text": t, "bytes": len(t.encode()), "tokens": 8, "seconds": 1.0}
               for t in (loop, good, " The weather is fine today and the children play outside.")]
    speed = np.array([[r["bytes"], r["tokens"], r["seconds"]] for r in records])
    stats = np.hstack([speed, quality_stats(records, SpeedSettings())])
    assert stats.shape[1] > USEFUL and [r["pass"] for r in records] == [False, True, False]
    assert [r["reasons"] for r in records] == [["repetition", "repeated_span"], [], ["language"]]
    rows = {r.metric: r.value for r in rows_from_stats(stats, dataset="d", model="m", sig={}, resamples=0,
                                                        seed=0, variant=None)}
    assert rows["speed.useful_bytes_per_second"] == pytest.approx(len(good.encode()) / 3.0)
    assert rows["speed.bytes_per_second"] == pytest.approx(sum(r["bytes"] for r in records) / 3.0)
    assert rows["speed.pass_share"] == pytest.approx(1 / 3) and "speed.judge_bpb" not in rows
    loose = SpeedSettings(max_repeated_trigrams=None, min_lang_share=None, max_repeat_share=None)
    assert quality_stats([dict(r) for r in records], loose)[:, 1].tolist() == [1, 1, 1]
