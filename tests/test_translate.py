"""Resumable translation: an interrupted run resumes to the same file, JSONL fields, checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from langadapt.errors import ConfigError, DataError
from langadapt.generate import GenerationOptions, translate_texts
from langadapt.models.loading import load_model
from langadapt.resume import journal_path, read_records
from langadapt.translate import Translation, quality_rows, read_document, translate_file

GEN = GenerationOptions(batch_size=2, max_new_tokens=5)


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def m2m(tiny_model):
    return load_model(tiny_model("m2m100"), device="cpu")


@pytest.fixture()
def source(data_dir, tmp_path):
    lines = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:10]
    lines = lines[:4] + [""] + lines[4:] + [lines[1]]  # an empty line and a repeated sentence
    path = tmp_path / "in.txt"
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


def _rows(rows):
    return {r.metric: r.value for r in rows}


def _finished(out):
    """Translations the journal of `out` holds (a killed or stopped run's finished work)."""
    return read_records(journal_path(out), Translation)[2]


def test_interrupted_run_resumes_to_the_same_file(m2m, source, tmp_path):
    whole = tmp_path / "whole.txt"
    translate_file(m2m, source, whole, src="khk_Cyrl", tgt="eng_Latn", gen=GEN, flush_every=4)

    def stop_after_one(k):
        if k == 1:
            raise Stop

    out = tmp_path / "resumed.txt"
    with pytest.raises(Stop):
        translate_file(m2m, source, out, src="khk_Cyrl", tgt="eng_Latn", gen=GEN, flush_every=4,
                       on_flush=stop_after_one)
    assert not out.exists() and len(_finished(out)) == 4  # the one flush made before the stop
    rows = _rows(translate_file(m2m, source, out, src="khk_Cyrl", tgt="eng_Latn", gen=GEN,
                                flush_every=4))
    assert out.read_bytes() == whole.read_bytes()
    assert (rows["translate.resumed"], rows["translate.new"]) == (4, 6)  # 10 distinct texts
    assert not journal_path(out).parent.exists()
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 13 and lines[4] == "" and lines[11] == lines[1]


def test_killed_cli_run_resumes_to_the_same_file(tiny_model, m2m, source, tmp_path):
    model = str(tiny_model("m2m100"))
    whole = tmp_path / "whole.txt"
    translate_file(m2m, source, whole, src="khk_Cyrl", tgt="eng_Latn",
                   gen=GenerationOptions(batch_size=1, max_new_tokens=5), flush_every=1)
    out = tmp_path / "killed.txt"
    cmd = [sys.executable, "-m", "langadapt", "translate", "--model", model, "--src", "khk_Cyrl",
           "--tgt", "eng_Latn", "--batch-size", "1", "--max-new-tokens", "5", "--device", "cpu",
           "--flush-every", "1", str(source), str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        # the run-key line and two finished texts, counted by their line ends (whole lines only)
        if journal_path(out).is_file() and journal_path(out).read_bytes().count(b"\n") >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()
    done = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == whole.read_bytes()
    rows = {json.loads(x)["metric"]: json.loads(x)["value"] for x in done.stdout.splitlines()}
    assert rows["translate.resumed"] >= 2 and rows["translate.resumed"] + rows["translate.new"] == 10


def test_jsonl_fields_are_translated_in_place(m2m, tmp_path):
    recs = [{"id": 1, "instruction": "Монгол улс", "input": "", "output": "Улаанбаатар"},
            {"id": 2, "instruction": "Сайн байна уу", "output": "Сайн",
             "messages": [{"role": "user", "content": "Сайн уу"}, {"role": "assistant", "content": ""}]}]
    src = tmp_path / "sft.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    out = tmp_path / "sft.en.jsonl"
    fields = ("instruction", "input", "messages")
    translate_file(m2m, src, out, src="khk_Cyrl", tgt="eng_Latn", gen=GEN, fields=fields)
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in got] == [1, 2]
    assert [r["output"] for r in got] == ["Улаанбаатар", "Сайн"]  # untouched field
    assert got[0]["input"] == "" and "input" not in got[1]
    assert [m["role"] for m in got[1]["messages"]] == ["user", "assistant"]
    assert got[1]["messages"][1]["content"] == ""
    alone = translate_texts(m2m, ["Сайн уу", "Монгол улс"], "khk_Cyrl", "eng_Latn", GEN)
    assert [got[1]["messages"][0]["content"], got[0]["instruction"]] == alone
    assert read_document(src, fields).texts == ["Монгол улс", "Сайн байна уу", "Сайн уу"]


@pytest.mark.parametrize("record,error", [({"text": 3}, "not a string"),
                                          ({"text": [{"role": "user"}]}, "item 0"),
                                          ([1, 2], "not a JSON object")])
def test_bad_jsonl_records_are_located(tmp_path, record, error):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n' + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad.jsonl:2: .*{error}"):
        read_document(path)


def test_other_settings_refuse_to_resume_unless_restarted(m2m, source, tmp_path):
    out = tmp_path / "o.txt"
    with pytest.raises(Stop):
        translate_file(m2m, source, out, src="khk_Cyrl", tgt="eng_Latn", gen=GEN, flush_every=4,
                       on_flush=lambda k: (_ for _ in ()).throw(Stop()))
    other = GenerationOptions(batch_size=2, max_new_tokens=3)
    with pytest.raises(ConfigError, match="restart"):
        translate_file(m2m, source, out, src="khk_Cyrl", tgt="eng_Latn", gen=other)
    rows = _rows(translate_file(m2m, source, out, src="khk_Cyrl", tgt="eng_Latn", gen=other,
                                restart=True))
    assert rows["translate.resumed"] == 0 and rows["translate.new"] == 10


@pytest.mark.parametrize("sources,outputs,tgt,expected", [
    (["Сайн уу", "Баяртай"], ["Hello", "Goodbye"], "eng_Latn", (0, 0, 0)),
    (["Сайн уу", "Баяртай"], ["", "баяртай "], "eng_Latn", (1, 1, 1)),
    (["Hello", "Thanks"], ["Сайн уу", "Thanks a lot"], "khk_Cyrl", (0, 0, 1)),
    (["Hello"], ["123 !!"], "khk_Cyrl", (0, 0, 0)),  # no letters: nothing to judge
    (["Hello, how are you today?"], ["Привет, как дела у тебя сегодня?"], "khk_Cyrl", (0, 0, 1)),
])
def test_quality_counts(sources, outputs, tgt, expected):
    rows = _rows(quality_rows(sources, outputs, tgt))
    # Russian for Mongolian is the same script: only the language-ID model can tell.
    assert "py3langid:mn" in quality_rows(["a"], ["b"], "khk_Cyrl")[2].extra["method"]
    assert (rows["translate.empty"], rows["translate.untranslated"],
            rows["translate.wrong_language"]) == expected
