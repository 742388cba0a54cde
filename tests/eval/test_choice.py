"""Multiple choice: loaders for the real formats, number normalisation, scoring, CLI.

There is no MM-Eval or Belebele data in the shared folder, so the fixture files are
built here in those formats from real Mongolian sentences (FLORES, Tatoeba, lexicon).
"""

from __future__ import annotations

import json

import pytest
import torch

from langadapt.errors import ConfigError, DataError
from langadapt.eval.choice import ChoiceOptions, evaluate_choice, first_number, normalize_number
from langadapt.eval.tasks import Task, load_belebele, load_items, load_mmeval, load_numeric, load_task


def _choice(model, task, **kw):
    """`evaluate_choice` of a loaded model or a model path on a task name or `Task`."""
    name = task.name if isinstance(task, Task) else task
    if isinstance(model, str):
        return evaluate_choice(ChoiceOptions(model=model, task=name, **kw))
    return evaluate_choice(ChoiceOptions(model=model.name, task=name, **kw), loaded=model,
                           task=task if isinstance(task, Task) else None)

def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mn(data_dir):
    """Real Mongolian text: FLORES sentences, Tatoeba sentences, frequent words."""
    flores = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    pairs = (data_dir / "parallel" / "mn_en.tsv").read_text(encoding="utf-8").splitlines()[103:]
    words = [w.split(",")[0] for w in
             (data_dir / "lexicon" / "most_frequent_words.csv").read_text(encoding="utf-8").splitlines()[1:]]
    return {"flores": flores, "tatoeba": [p.split("\t")[0] for p in pairs], "words": words}


@pytest.fixture(scope="module")
def files(mn, tmp_path_factory):
    d = tmp_path_factory.mktemp("tasks")
    bele = [{"link": "https://example.org/x", "question_number": i, "dialect": "khk_Cyrl",
             "flores_passage": mn["flores"][i][:120], "question": mn["tatoeba"][i] + " ",
             **{f"mc_answer{k}": mn["words"][4 * i + k] for k in range(1, 5)},
             "correct_answer_num": str(1 + i % 4)} for i in range(4)]
    mmeval = [{"id": f"q{i}", "question": mn["tatoeba"][10 + i],
               "choices": {L: mn["words"][40 + 4 * i + j] for j, L in enumerate("ABCD")},
               "answer": "ABCD"[i % 4]} for i in range(5)]
    numeric = [{"question": mn["tatoeba"][20 + i] + f" {i} + {i} = ?", "answer": str(2 * i)}
               for i in range(3)]
    return {"belebele": _write_jsonl(d / "belebele.jsonl", bele),
            "mmeval": _write_jsonl(d / "mmeval.jsonl", mmeval),
            "numeric": _write_jsonl(d / "numeric.jsonl", numeric)}


@pytest.fixture(scope="module")
def qwen(tiny_model):
    from langadapt.models.loading import load_model

    return load_model(tiny_model("qwen3"))


@pytest.mark.parametrize("text, expected", [
    ("42", "42"), ("42.0", "42"), ("1,234", "1234"), ("1 234,5", "1234.5"), ("3,5", "3.5"),
    ("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("−7", "-7"), ("0.50", "0.5"),
    ("1\u00a0000", "1000"), ("abc", None),
])
def test_normalize_number_table(text, expected):
    assert normalize_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Хариулт нь 1 234 төгрөг.", "1234"), ("= 12, дараа нь 3", "12"), ("тоо алга", None),
    ("-3.50 градус", "-3.5"),
])
def test_first_number_table(text, expected):
    assert first_number(text) == expected


def test_belebele_loader(files, mn):
    items = load_belebele(files["belebele"])
    assert [it.gold for it in items] == [0, 1, 2, 3]  # correct_answer_num "1".."4"
    assert items[1].choices == mn["words"][5:9] and items[1].letters == list("ABCD")
    assert items[0].fields["question"] == mn["tatoeba"][0].strip()


def test_mmeval_and_numeric_loaders(files, tmp_path):
    items = load_mmeval(files["mmeval"])
    assert [it.gold for it in items] == [0, 1, 2, 3, 0] and items[0].id == "q0"
    listed = load_mmeval(_write_jsonl(tmp_path / "l.jsonl", [{"question": "?", "choices": ["a", "b"],
                                                             "answer": "B"}]))
    assert listed[0].letters == ["A", "B"] and listed[0].gold == 1
    gsm = load_numeric(_write_jsonl(tmp_path / "g.jsonl", [{"question": "?", "answer": "2+2 #### 4"}]))
    assert gsm[0].gold == "4"


@pytest.mark.parametrize("record, message", [
    ({"question": "?", "choices": {"A": "x", "B": "y"}}, "lacks answer"),
    ({"question": "?", "choices": {"A": "x", "B": "y"}, "answer": "C"}, "not one of"),
    ({"question": "?", "choices": {"A": "x"}, "answer": "A"}, "at least two"),
])
def test_mmeval_errors_name_file_and_line(tmp_path, record, message):
    path = _write_jsonl(tmp_path / "bad.jsonl", [{"question": "?", "choices": ["a", "b"], "answer": "A"},
                                                 record])
    with pytest.raises(DataError, match=message) as e:
        load_mmeval(path)
    assert e.value.line == 2 and "bad.jsonl" in str(e.value)


def test_bundled_tasks_load_and_render(files):
    for name in ("belebele_khk", "mmeval_khk", "mmeval_khk_letters", "numeric_khk"):
        task = load_task(name)
        items = load_items(task, files[task.format])
        assert task.render(items[0])
    bele = load_task("belebele_khk")
    item = load_items(bele, files["belebele"])[0]
    assert bele.render(item).endswith(f"D: {item.choices[3]}\nAnswer:")
    assert bele.continuations(item) == [" A", " B", " C", " D"]


def test_task_errors(tmp_path, files):
    with pytest.raises(ConfigError, match="unknown task"):
        load_task("no_such_task")
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nversion: 1\nformat: mmeval\nprompt: '{passage}'\n", encoding="utf-8")
    task = load_task(bad)
    with pytest.raises(ConfigError, match="passage") as e:
        task.render(load_items(task, files["mmeval"])[0])
    assert "t.yaml" in str(e.value) and "prompt" in str(e.value)
    bad.write_text("name: t\nversion: 1\nformat: mmeval\nprompt: x\npromt: y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="promt"):
        load_task(bad)


def test_choice_scores_match_hand_computation(qwen, files):
    res = _choice(qwen, "mmeval_khk", data=str(files["mmeval"]), batch_size=3,
                                                            limit=3)
    task = load_task("mmeval_khk")
    items = load_items(task, files["mmeval"], limit=3)
    tok = qwen.tokenizer
    for item, pred in zip(items, res.predictions):
        prompt = task.render(item)
        n_ctx = len(tok(prompt)["input_ids"])
        for cont, lp in zip(task.continuations(item), pred["logprobs"]):
            ids = tok(prompt + cont)["input_ids"]
            with torch.no_grad():
                logp = qwen.model(torch.tensor([ids])).logits[0].log_softmax(-1).double()
            hand = sum(logp[i - 1, ids[i]].item() for i in range(n_ctx, len(ids)))
            assert lp == pytest.approx(hand, rel=1e-5)
    acc = {r.metric: r for r in res.rows}
    assert acc["acc"].value == pytest.approx(sum(p["acc"] for p in res.predictions) / 3)
    assert acc["acc"].n == 3 and acc["acc"].extra["chance"] == 0.25
    assert acc["acc_bytes"].ci[0] <= acc["acc_bytes"].value <= acc["acc_bytes"].ci[1]


def test_accuracy_follows_the_gold_answers(qwen, files, tmp_path):
    """Gold = the model's own pick gives 1.0; gold = another option gives 0.0."""
    first = _choice(qwen, "mmeval_khk", data=str(files["mmeval"]), limit=3)
    recs = [json.loads(x) for x in files["mmeval"].read_text(encoding="utf-8").splitlines()][:3]
    for answer_of, expected in ((lambda p: p["pred"], 1.0), (lambda p: (p["pred"] + 1) % 4, 0.0)):
        for rec, p in zip(recs, first.predictions):
            rec["answer"] = "ABCD"[answer_of(p)]
        path = _write_jsonl(tmp_path / "gold.jsonl", recs)
        res = _choice(qwen, "mmeval_khk", data=str(path))
        assert res.rows[0].metric == "acc" and res.rows[0].value == expected


def test_generate_mode_exact_match(qwen, files, tmp_path):
    res = _choice(qwen, "numeric_khk", data=str(files["numeric"]))
    assert [r.metric for r in res.rows] == ["exact_match"]
    # Make the gold answer the model's own number where it wrote one: exact match follows.
    recs = [json.loads(x) for x in files["numeric"].read_text(encoding="utf-8").splitlines()]
    for rec, p in zip(recs, res.predictions):
        rec["answer"] = p["pred"] if p["pred"] is not None else "123456789"
    again = _choice(qwen, "numeric_khk", data=str(_write_jsonl(tmp_path / "n.jsonl",
                                                                                        recs)))
    expected = sum(p["pred"] is not None for p in res.predictions) / len(recs)
    assert again.rows[0].value == pytest.approx(expected)


def test_translate_first_option(qwen, tiny_model, files):
    mt = str(tiny_model("m2m100"))
    # A random tiny MT model never stops by itself: a few new tokens are enough here.
    res = _choice(qwen, "mmeval_khk", data=str(files["mmeval"]), limit=1,
                                                            translate_model=mt, translate_max_new_tokens=4)
    assert res.rows[0].signature["options"]["translate_model"] == mt
    plain = _choice(qwen, "mmeval_khk", data=str(files["mmeval"]), limit=1)
    assert res.predictions[0]["logprobs"] != plain.predictions[0]["logprobs"]


def test_cli_json_rows_and_predictions(tiny_model, files, tmp_path, capsys):
    from langadapt.cli import main

    preds = tmp_path / "preds.jsonl"
    assert main(["eval", "choice", "--model", str(tiny_model("qwen3")), "--task", "belebele_khk",
                 "--data", str(files["belebele"]), "--json", "--predictions", str(preds)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["acc", "acc_bytes"]
    assert rows[0]["dataset"] == "belebele_khk" and rows[0]["n"] == 4
    assert rows[0]["signature"]["options"]["version"] == 1
    assert len(preds.read_text(encoding="utf-8").splitlines()) == 4


def test_task_schema_is_strict():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Task(name="x", version=1, format="mmeval", prompt="p", unknown=1)


def test_stage_writes_predictions(tiny_model, files, tmp_path):
    from langadapt.stages import StageContext, get_stage

    cls = get_stage("eval.choice")
    opts = cls.Options(model=str(tiny_model("qwen3")), task="mmeval_khk_letters",
                       data=str(files["mmeval"]), limit=2, resamples=20)
    rows = cls().run(opts, StageContext("mc", tmp_path, tmp_path, variant="lora"))
    assert {r.variant for r in rows} == {"lora"} and rows[0].n == 2
    assert len((tmp_path / "predictions.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_option_logprobs_match_lm_evaluation_harness(qwen, files):
    pytest.importorskip("lm_eval", reason="lm-eval not installed (pip install 'langadapt[lmeval]')")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    task = load_task("belebele_khk")
    items = load_items(task, files["belebele"])[:2]
    ours = _choice(qwen, task, data=str(files["belebele"]), limit=2).predictions
    lm = HFLM(pretrained=qwen.model, tokenizer=qwen.tokenizer, batch_size=4)
    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=(task.render(it), c), idx=0)
            for it in items for c in task.continuations(it)]
    theirs = [ll for ll, _ in lm.loglikelihood(reqs, disable_tqdm=True)]
    assert [lp for p in ours for lp in p["logprobs"]] == pytest.approx(theirs, rel=1e-5)


def test_seq2seq_model_scores_options_on_the_decoder(tiny_model, files):
    res = _choice(str(tiny_model("m2m100")), "mmeval_khk", data=str(files["mmeval"]), limit=2, resamples=0)
    lps = [lp for p in res.predictions for lp in p["logprobs"]]
    assert len(lps) == 8 and all(lp < 0 for lp in lps) and len(set(lps)) == 8


def _held_out_questions(data_dir, n: int) -> list[dict]:
    """MM-Eval-style questions from Mongolian sentences: a first half, four second halves."""
    lines = (data_dir / "parallel" / "mn_en.tsv").read_text(encoding="utf-8").splitlines()
    halves = []
    for line in (x.split("\t")[0] for x in lines):
        words = line.split()
        if len(words) >= 3 and len(line) <= 120:
            halves.append((" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2:])))
    out = []
    for i, (question, _) in enumerate(halves[:n]):
        options = [halves[(i + k) % len(halves)][1] for k in range(4)]
        options[0], options[i % 4] = options[i % 4], options[0]
        out.append({"id": f"q{i}", "question": question, "choices": dict(zip("ABCD", options)),
                    "answer": "ABCD"[i % 4]})
    return out


@pytest.mark.slow
# Gemma's 262k-row output layer makes each request ~10x SmolLM2's cost: fewer questions.
@pytest.mark.parametrize("name, adds_bos, n", [("smollm2-135m-instruct", False, 20),
                                               ("gemma3-270m", True, 6)])
def test_real_models_score_what_lm_evaluation_harness_scores(imported, data_dir, tmp_path, name, adds_bos, n):
    """SmolLM2 has a BOS it does not add, Gemma 3 adds its own: the same token ids and scores."""
    pytest.importorskip("lm_eval", reason="lm-eval not installed (pip install 'langadapt[lmeval]')")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from langadapt.eval.choice import choice_requests
    from langadapt.eval.loglik import tokenizer_adds_bos
    from langadapt.models.loading import load_model

    loaded = load_model(imported(name)[1])
    assert tokenizer_adds_bos(loaded.tokenizer) == adds_bos and loaded.tokenizer.bos_token_id is not None
    data = _write_jsonl(tmp_path / "q.jsonl", _held_out_questions(data_dir, n))
    task = load_task("mmeval_khk")
    items = load_items(task, data)
    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=8)
    seen, score = [], lm._loglikelihood_tokens

    def record(reqs, **kw):  # the token ids lm-eval scores, in request order
        seen.extend(tuple(ctx) + tuple(cont) for _, ctx, cont in reqs)
        return score(reqs, **kw)

    lm._loglikelihood_tokens = record
    theirs = [ll for ll, _ in lm.loglikelihood(
        [Instance(request_type="loglikelihood", doc={}, arguments=(task.render(it), c), idx=0)
         for it in items for c in task.continuations(it)], disable_tqdm=True)]
    assert [r.context + r.target for r in choice_requests(loaded, task, items)] == seen
    ours = _choice(loaded, task, data=str(data), resamples=0).predictions
    assert [lp for p in ours for lp in p["logprobs"]] == pytest.approx(theirs, rel=1e-4, abs=1e-4)
    picks = [max(range(4), key=lambda k, i=i: theirs[4 * i + k]) for i in range(len(items))]
    assert [p["pred"] for p in ours] == picks
