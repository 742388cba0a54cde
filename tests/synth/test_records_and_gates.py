"""Structured records keep their shape and protected spans; bad answers are rejected by reason."""

from __future__ import annotations

import gzip
import json

import pytest

from langadapt.gen.protect import markdown_signs, missing_numbers, protect, restore
from langadapt.synth.run import translate_file_openai
from langadapt.train.chat import to_messages


def _records(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _rejected(folder):
    return {p.name.removesuffix(".jsonl.gz"): [json.loads(x) for x in gzip.open(p, "rt", encoding="utf-8")]
            for p in folder.glob("*.jsonl.gz")}


@pytest.mark.parametrize("text, kinds, masked, spans", [
    ("Run `ls -l` now", ["code"], "Run ⟦0⟧ now", ["`ls -l`"]),
    ("See https://x.org/a?b=1.", ["url"], "See ⟦0⟧.", ["https://x.org/a?b=1"]),
    ("Hi {name}, {{ user.id }} has %(n)s and %d", ["placeholder"], "Hi ⟦0⟧, ⟦1⟧ has ⟦2⟧ and ⟦3⟧",
     ["{name}", "{{ user.id }}", "%(n)s", "%d"]),
    ("a\n```py\nprint('{x}', 'https://a.b')\n```\nb {y}", ["code", "url", "placeholder"],
     "a\n⟦0⟧\nb ⟦1⟧", ["```py\nprint('{x}', 'https://a.b')\n```", "{y}"]),
    ("{y} then `z`", ["code", "placeholder"], "⟦0⟧ then ⟦1⟧", ["{y}", "`z`"]),  # reading order
    ("In 1206, 3.5 km", ["number"], "In ⟦0⟧, ⟦1⟧ km", ["1206", "3.5"]),
    ("plain text", ["code", "url", "placeholder"], "plain text", []),
])
def test_protect_table(text, kinds, masked, spans):
    assert protect(text, kinds) == (masked, spans)
    assert restore(masked, spans) == (text, [])


@pytest.mark.parametrize("answer, bad", [("⟦1⟧ x ⟦0⟧", []), ("x ⟦0⟧", [1]), ("⟦0⟧ ⟦0⟧ ⟦1⟧", [0]),
                                         ("⟦0⟧ ⟦1⟧ ⟦2⟧", [2])])
def test_restore_names_lost_repeated_and_invented_markers(answer, bad):
    assert restore(answer, ["{a}", "{b}"])[1] == bad


def test_numbers_and_markdown_checks():
    assert missing_numbers("3 cats, 3 dogs, 1.5 kg", "3 муур, 1.5 кг") == ["3"]
    assert missing_numbers("In 1206", "1206 онд") == []
    # a number written the target language's way is the same number; a changed one is not
    assert missing_numbers("12,500 people, 3.5 km, 1,000,000",
                           "12 500 хүн, 3,5 км, 1\u00a0000\u00a0000") == []
    assert missing_numbers("12,500 people", "12 600 хүн") == ["12500"]
    assert missing_numbers("In 1206, 500 soldiers", "1206 онд 500 цэрэг") == []
    assert markdown_signs("## Plan\n\n1. a\n2. b\n- c\n**d**") == ["##", "1.", "1.", "-", "**", "**"]


def test_alpaca_records_keep_structure_and_protected_spans(server, fast_options, fixture_file, tmp_path):
    out = tmp_path / "mn.jsonl"
    translate_file_openai(fast_options(), fixture_file, out, src="eng_Latn", tgt="khk_Cyrl")
    src, got = _records(fixture_file), _records(out)
    assert [r["id"] for r in got] == [r["id"] for r in src]
    for s, g in zip(src, got):
        assert set(g) == set(s) and (g["input"] == "") == (s["input"] == "")
        to_messages(g, str(out), 1)  # the shape `langadapt train sft` reads
        for f in ("instruction", "input", "output"):
            for span in protect(s[f], ["code", "url", "placeholder"])[1]:
                assert span in g[f]
            assert not missing_numbers(s[f], g[f]) and markdown_signs(s[f]) == markdown_signs(g[f])
    assert "```python\ndef add(a, b):\n    return a + b\n```" in got[3]["output"]
    assert "https://docs.python.org/3/" in got[4]["output"]
    assert got[2]["input"].endswith("{name}!")
    sent = "\n".join(server.texts())
    assert "https://" not in sent and "{name}" not in sent and "⟦0⟧" in sent  # masked on the wire
    assert "What is the capital of Mongolia?" in sent  # the source text goes in verbatim


def test_chat_messages_are_translated_turn_by_turn(server, fast_options, tmp_path):
    inp = tmp_path / "chat.jsonl"
    rec = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "How many legs does a spider have?"},
                        {"role": "assistant", "content": "A spider has 8 legs."}], "source": "x"}
    inp.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    translate_file_openai(fast_options(), inp, out, src="eng_Latn", tgt="khk_Cyrl")
    got = _records(out)[0]
    assert [m["role"] for m in got["messages"]] == ["system", "user", "assistant"]
    assert got["source"] == "x" and "8" in got["messages"][2]["content"]
    assert all(not any("a" <= c <= "z" for c in m["content"]) for m in got["messages"])


def test_bad_answers_are_rejected_by_reason_and_counted(server, fast_options, fixture_file, tmp_path):
    server.always = {"leap year": "length", "haiku": "refusal", "four seasons": "empty",
                     "healthy breakfast": "copy", "weather and climate": "english",
                     "Here is a simple function": "strip_markers"}
    out = tmp_path / "mn.jsonl"
    rows = {r.metric: r for r in translate_file_openai(fast_options(), fixture_file, out,
                                                       src="eng_Latn", tgt="khk_Cyrl")}
    rejected = _rejected(tmp_path / "rejected")
    assert {k: [r["source"]["id"] for r in v] for k, v in rejected.items()} == {
        "truncated": [9], "refusal": [26], "empty": [8], "copied": [19], "language": [24],
        "lost_protected": [4]}
    assert rows["translate.kept"].value == 24 and rows["translate.rejected"].value == 6
    assert rows["translate.rejected"].extra["by_reason"]["truncated"] == 1
    assert rejected["truncated"][0]["where"] == "record 9 (id 9) field instruction"
    assert sorted(r["id"] for r in _records(out)) == sorted(set(range(1, 31)) - {4, 8, 9, 19, 24, 26})


def test_gates_on_restored_text(server, fast_options):
    from langadapt.synth.gates import Gates

    g = Gates(fast_options(), "khk_Cyrl")
    src = "Sunlight is made of many colours, and 7 of them are easy to see."
    good = "Нарны гэрэл олон өнгөөс бүрддэг бөгөөд тэдний 7 нь амархан харагддаг."
    assert g.judge(src, good) is None
    assert g.judge(src, good.replace("7", "долоо")) == "lost_numbers"
    assert g.judge(src, "Нарны гэрэл.") == "length_ratio"
    assert g.judge(src, "Солнечный свет состоит из многих цветов, и 7 из них легко увидеть.") == "language"
    loop = "Нарны гэрэл олон өнгөтэй. " + "Тэр нь маш сайхан өнгө юм. " * 8
    assert g.judge("Sunlight has many colours and 7 of them are easy to see. " * 3, loop + "7") \
        == "repetition"
    assert g.judge("- a\n- b", "- нэг\nхоёр") == "markdown"


@pytest.mark.parametrize("source, answer, refused", [
    ("Tell me a joke.", "I'm sorry, but I can't help with that.", True),
    ("Tell me a joke.", "Уучлаарай, би энэ хүсэлтэд тусалж чадахгүй.", True),
    ("Tell me a joke.", "Би үүнийг орчуулж чадахгүй.", True),
    ("Tell me a joke.", "Хиймэл оюун ухааны хувьд би хошигнол хэлдэггүй.", True),
    ("Tell me a joke.", "Надад нэг хошигнол хэлээч.", False),
    # the source opens that way: its translation does too, and is no refusal
    ("I'm sorry, I cannot come tomorrow.", "Уучлаарай, би маргааш ирж чадахгүй.", False),
    ("I can't swim.", "Би сэлж чадахгүй.", False),
])
def test_refusals_in_english_and_mongolian(server, fast_options, source, answer, refused):
    from langadapt.gen.client import Answer
    from langadapt.synth.gates import Gates

    g = Gates(fast_options(), "khk_Cyrl")
    a = Answer(key="k", text=answer, finish_reason="stop", refusal=None, prompt_tokens=1,
               completion_tokens=1, retries=0)
    assert (g.raw_text(a, source)[1] == "refusal") is refused


def test_back_translation_scores_and_gates(server, fast_options, tmp_path):
    from fake_openai_server import translate

    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("The steppe is wide and green in summer\nWolves live in the high mountains\n",
                   encoding="utf-8")
    # the second line's translation comes back as something else: its round trip is poor
    server.always = {translate("Wolves live in the high mountains"): "english"}
    bt = {"min_chrf": 50}
    rows = {r.metric: r for r in translate_file_openai(fast_options(back_translation=bt), inp, out,
                                                       src="eng_Latn", tgt="khk_Cyrl")}
    row = rows["translate.backtranslation_chrf"]
    assert row.n == 2 and row.extra["below_min"] == 1 and 40 < row.value < 60  # 100 and a low one
    assert out.read_text(encoding="utf-8").split("\n")[:2] == [translate("The steppe is wide and green "
                                                                         "in summer"), ""]
    assert _rejected(tmp_path / "rejected")["backtranslation"][0]["where"] == "line 2"
    scores = _records(tmp_path / "out.txt.bt_chrf.jsonl")
    assert scores[0] == {"where": "line 1", "bt_chrf": 100.0} and scores[1]["bt_chrf"] < 20
    assert rows["translate.requests"].value == 4  # two there, two back
    # only scored (no threshold): nothing rejected for it; answers are reused from nowhere (new
    # output, journal gone), so the server is asked again
    rows = {r.metric: r for r in translate_file_openai(fast_options(back_translation={}), inp,
                                                       tmp_path / "o2.txt", src="eng_Latn",
                                                       tgt="khk_Cyrl")}
    assert rows["translate.kept"].value == 2 and rows["translate.backtranslation_chrf"].extra[
        "below_min"] is None


def test_back_translation_failures_keep_every_answer_for_the_rerun(server, fast_options, tmp_path):
    from fake_openai_server import translate

    from langadapt.synth.run import GenerationFailed

    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("The steppe is wide and green in summer\n", encoding="utf-8")
    server.always = {translate("The steppe"): "500"}  # the way back fails
    opts = fast_options(back_translation={}, max_retries=0)
    with pytest.raises(GenerationFailed, match="1 of 1 requests failed"):
        translate_file_openai(opts, inp, out, src="eng_Latn", tgt="khk_Cyrl")
    assert not out.exists() and len(server.log) == 2
    server.always = {}
    translate_file_openai(opts, inp, out, src="eng_Latn", tgt="khk_Cyrl")
    assert [r["text"] for r in server.log].count("The steppe is wide and green in summer") == 1
    assert len(server.log) == 3
