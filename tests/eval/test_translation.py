"""FLORES scoring: equals the sacrebleu command line, CIs, paired tests, layouts, CLI, models."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.eval.translation import FloresOptions, eval_flores, find_flores_file, score_translations


def _flores(out_dir=None, gen=None, **kw):
    """`eval_flores` on options given as keywords (paths as `Path`s, metrics as a tuple)."""
    kw = {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
          for k, v in kw.items()}
    if gen is not None:
        kw["generation"] = gen
    return eval_flores(FloresOptions(**kw), out_dir=out_dir)


def _sacrebleu_cli(ref, hyp) -> list[float]:
    out = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu",
                          "chrf", "ter", "--chrf-word-order", "2", "-b", "-w", "4"],
                         capture_output=True, text=True, check=True).stdout
    return [float(x.strip(" ,[]")) for x in out.split() if x.strip(" ,[]")]


def _degrade(lines):
    """A worse system: drop every third word (so the held-out pair differs from the real one)."""
    return [" ".join(w for i, w in enumerate(x.split()) if i % 3 != 1) for x in lines]


def _awkward(lines):
    """Windows line ends, trailing blanks, a carriage return inside a line, an empty segment."""
    out = [x + ("\r\n" if i % 3 == 0 else " \t\n" if i % 3 == 1 else "\n") for i, x in enumerate(lines)]
    out[5] = "\n"
    out[7] = out[7].replace(" ", " \r ", 1)
    return "".join(out)


@pytest.mark.parametrize("src,tgt,which", [("khk_Cyrl", "eng_Latn", "google"),
                                           ("eng_Latn", "khk_Cyrl", "degraded"),
                                           ("khk_Cyrl", "eng_Latn", "awkward")])
def test_matches_the_sacrebleu_command_line(data_dir, tmp_path, src, tgt, which):
    flores = data_dir / "flores"
    n = 506
    if which == "google":
        hyp = flores / "google_mt.eng_Latn.dev.txt"
    elif which == "degraded":
        hyp = tmp_path / "hyp.txt"
        lines = (flores / f"{tgt}.dev.txt").read_text(encoding="utf-8").splitlines()
        hyp.write_text("".join(x + "\n" for x in _degrade(lines)), encoding="utf-8")
    else:  # held-out style files with messy line ends, on a 60-sentence FLORES folder
        n, hyp, own = 60, tmp_path / "hyp.txt", tmp_path / "flores"
        own.mkdir()
        for name, dest in (("google_mt.eng_Latn", hyp), ("eng_Latn", own / "eng_Latn.dev.txt")):
            lines = (flores / f"{name}.dev.txt").read_text(encoding="utf-8").splitlines()[:n]
            dest.write_bytes(_awkward(lines).encode("utf-8"))
        flores = own
    bleu, chrfpp, ter = _sacrebleu_cli(flores / f"{tgt}.dev.txt", hyp)
    rows = {r.metric: r for r in _flores(src=src, tgt=tgt, hyp=hyp, data=flores, resamples=200,
                                             metrics=("bleu", "chrf++", "ter"),
                                             out_dir=tmp_path / "out")}
    assert rows["bleu"].value == pytest.approx(bleu, abs=0.01)
    assert rows["chrf++"].value == pytest.approx(chrfpp, abs=0.01)
    assert rows["ter"].value == pytest.approx(ter, abs=0.01)
    for r in rows.values():
        assert r.ci[0] <= r.value <= r.ci[1] and r.ci[1] - r.ci[0] > 0.1
        assert r.n == n and "version:" in r.signature["options"]["sacrebleu"]
    assert "nw:2" in rows["chrf++"].signature["options"]["sacrebleu"]
    saved = (tmp_path / "out" / f"hyp.{src}-{tgt}.dev.txt").read_bytes().decode("utf-8").split("\n")
    assert len(saved) == n + 1 and saved[0] == hyp.read_bytes().decode("utf-8").split("\n")[0].rstrip()
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize("hyp,ref,metric,expected", [
    ("the cat sat on the mat", "the cat sat on the mat", "bleu", 100.0),
    ("the cat sat on the mat", "the cat sat on the mat", "chrf++", 100.0),
    ("the cat sat on the mat", "the cat sat on the mat", "ter", 0.0),
    ("a b c", "x y z", "ter", 100.0),
    ("a b c", "x y z", "chrf", 0.0),
    ("a b c", "x y z", "bleu", 0.0),
])
def test_metric_values(hyp, ref, metric, expected):
    (row,) = score_translations([hyp], [ref], tgt="eng_Latn", metrics=(metric,), resamples=1)
    assert row.value == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("metric,module", [("spbleu", "sentencepiece"), ("meteor", "nltk"),
                                           ("comet", "comet")])
def test_unavailable_metrics_are_rows_not_silence(metric, module):
    (row,) = score_translations(["a b"], ["a b"], tgt="eng_Latn", srcs=["x"], metrics=(metric,))
    if importlib.util.find_spec(module) is None:
        assert row.value is None and row.extra["note"].startswith("not available: install")
    else:
        assert row.value is not None or row.extra["note"].startswith("not available")


def test_paired_test_against_a_baseline(data_dir):
    refs = (data_dir / "flores" / "eng_Latn.dev.txt").read_text(encoding="utf-8").splitlines()
    good = (data_dir / "flores" / "google_mt.eng_Latn.dev.txt").read_text(encoding="utf-8").splitlines()
    bad = _degrade(good)
    for test in ("bs", "ar"):
        rows = {r.metric: r for r in score_translations(good, refs, tgt="eng_Latn", baseline=bad,
                                                        metrics=("chrf++",), test=test, resamples=300)}
        delta = rows["chrf++.delta"]
        assert delta.value > 5 and delta.extra["p_value"] < 0.01
        same = score_translations(good, refs, tgt="eng_Latn", baseline=good, metrics=("chrf++",),
                                  test=test, resamples=300)[1]
        assert same.value == 0 and same.extra["p_value"] > 0.5


@pytest.mark.parametrize("layout", ["{code}.{split}.txt", "{split}/{code}.{split}",
                                    "{split}/{split}.{code}", "{split}/{code}", "{split}/{code}.txt"])
def test_flores_layouts(tmp_path, layout):
    path = tmp_path / layout.format(code="khk_Cyrl", split="devtest")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Сайн\n", encoding="utf-8")
    assert find_flores_file(tmp_path, "khk_Cyrl", "devtest") == path
    with pytest.raises(DataError, match="no FLORES 'dev' file"):
        find_flores_file(tmp_path, "khk_Cyrl", "dev")


def test_misaligned_hypotheses_are_an_error(data_dir, tmp_path):
    hyp = tmp_path / "short.txt"
    hyp.write_text("one line\n")
    n_refs = len((data_dir / "flores" / "eng_Latn.dev.txt").read_text(encoding="utf-8").splitlines())
    with pytest.raises(DataError, match=rf"line-aligned: \S*short.txt has 1 lines, "
                                        rf"\S*eng_Latn.dev.txt has {n_refs}"):
        _flores(src="khk_Cyrl", tgt="eng_Latn", hyp=hyp, data=data_dir / "flores")


def _blanked(data_dir, tmp_path, every: int):
    """Google's FLORES outputs with every `every`-th line empty; (file, number blanked)."""
    lines = (data_dir / "flores" / "google_mt.eng_Latn.dev.txt").read_text(encoding="utf-8").splitlines()
    out = [("" if i % every == 0 else x) for i, x in enumerate(lines)]
    hyp = tmp_path / f"blank{every}.txt"
    hyp.write_text("".join(x + "\n" for x in out), encoding="utf-8")
    return hyp, sum(1 for x in out if not x)


def test_empty_hypotheses_are_counted_and_warned(data_dir, tmp_path, caplog):
    hyp, n_empty = _blanked(data_dir, tmp_path, every=3)
    with caplog.at_level("WARNING", logger="langadapt.eval.translation"):
        rows = _flores(src="khk_Cyrl", tgt="eng_Latn", hyp=hyp, data=data_dir / "flores",
                           metrics=("bleu", "chrf"), resamples=10,
                           baseline=data_dir / "flores" / "google_mt.eng_Latn.dev.txt")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and f"{n_empty} of {rows[0].n} hypotheses are empty in {hyp}" in warned[0]
    assert n_empty > rows[0].n // 4 and len(rows) == 4
    for r in rows:
        assert r.extra["empty_hypotheses"] == n_empty and r.signature["options"]["empty_hyps"] == n_empty
    full = _flores(src="khk_Cyrl", tgt="eng_Latn", data=data_dir / "flores", metrics=("chrf",),
                       hyp=data_dir / "flores" / "google_mt.eng_Latn.dev.txt", resamples=10)
    assert full[0].extra["empty_hypotheses"] == 0 and "empty_hyps" not in full[0].signature["options"]


def test_a_model_that_generates_nothing_scores_zero_with_the_count():
    refs = ["the cat sat on the mat", "a dog barked"]
    with pytest.raises(DataError, match="all 2 hypotheses in the hypotheses are empty"):
        score_translations(["", " "], refs, tgt="eng_Latn", metrics=("chrf",), resamples=1)
    rows = score_translations(["", " "], refs, tgt="eng_Latn", metrics=("chrf",), resamples=1,
                              allow_all_empty=True)
    assert rows[0].value == 0.0 and rows[0].extra["empty_hypotheses"] == 2


def test_all_empty_hypotheses_are_refused(data_dir, tmp_path):
    hyp, _ = _blanked(data_dir, tmp_path, every=1)
    with pytest.raises(DataError, match=r"all \d+ hypotheses in \S*blank1.txt are empty"):
        _flores(src="khk_Cyrl", tgt="eng_Latn", hyp=hyp, data=data_dir / "flores",
                    metrics=("chrf",), resamples=10)


def test_cli_prints_rows_with_cis(data_dir, tmp_path, capsys):
    rc = main(["eval", "flores", "--hyp", "${data}/flores/google_mt.eng_Latn.dev.txt",
               "--src", "khk_Cyrl", "--tgt", "eng_Latn", "--resamples", "100", "--json",
               "--baseline", str(data_dir / "flores" / "google_mt.eng_Latn.dev.txt"),
               "--metrics", "bleu", "chrf++", "meteor"])
    assert rc == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["metric"] for r in rows] == ["bleu", "bleu.delta", "chrf++", "chrf++.delta", "meteor"]
    assert all(r["ci"] for r in rows[:4])


@pytest.mark.parametrize("arch,src,tgt,prompt", [("m2m100", "khk_Cyrl", "eng_Latn", "auto"),
                                                  ("m2m100", "eng_Latn", "khk_Cyrl", "auto"),
                                                  ("qwen3", "khk_Cyrl", "eng_Latn", "fewshot")])
def test_generates_with_a_model(tiny_model, data_dir, tmp_path, arch, src, tgt, prompt):
    from langadapt.generate import GenerationOptions

    rows = _flores(src=src, tgt=tgt, model=tiny_model(arch), data=data_dir / "flores", limit=4,
                       gen=GenerationOptions(max_new_tokens=4, prompt=prompt, device="cpu"),
                       metrics=("bleu", "chrf++"), resamples=20, out_dir=tmp_path)
    assert [r.metric for r in rows] == ["bleu", "chrf++"]
    assert all(r.n == 4 and r.value is not None for r in rows)
    assert rows[0].extra["generation"]["max_new_tokens"] == 4
    assert len((tmp_path / f"hyp.{src}-{tgt}.dev.txt").read_text(encoding="utf-8").splitlines()) == 4


def test_flores_plus_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from langadapt.eval.translation import load_flores

    (tmp_path / "devtest").mkdir()
    table = pa.table({"id": [1, 2], "text": ["Сайн", "уу"]})
    pq.write_table(table, tmp_path / "devtest" / "khk_Cyrl.parquet")
    assert load_flores(tmp_path, "khk_Cyrl", "devtest")[0] == ["Сайн", "уу"]


def test_cli_with_a_model_keeps_its_hypotheses(tiny_model, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = tiny_model("m2m100")
    rc = main(["eval", "flores", "--model", str(model), "--src", "eng_Latn", "--tgt", "khk_Cyrl",
               "--data", str(data_dir / "flores"), "--limit", "3", "--max-new-tokens", "3",
               "--metrics", "chrf++", "--resamples", "10", "--device", "cpu"])
    assert rc == 0 and "chrf++" in capsys.readouterr().out
    out = tmp_path / "flores-out" / f"{model.name}.eng_Latn-khk_Cyrl.dev"
    assert len((out / "hyp.eng_Latn-khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()) == 3
    assert (out / "results.jsonl").is_file()
