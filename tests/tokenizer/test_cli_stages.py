"""The `langadapt tokenizer` CLI (stats, sweep, trim, errors) and the tokenizer recipe stages."""

from __future__ import annotations

import json

import pytest

from langadapt.cli import main
from langadapt.stages import StageContext, get_stage


def _json_lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def test_stats_json_and_plot(tokenizers_dir, flores, tmp_path, capsys):
    png = tmp_path / "f.png"
    code = main(["tokenizer", "stats", f"q={tokenizers_dir / 'qwen3'}", "--text", str(flores["eng_Latn"]),
                 "--metric", "fertility", "bytes_per_token", "--plot", str(png), "--json"])
    rows = _json_lines(capsys.readouterr().out)
    assert code == 0 and png.is_file()
    assert [(r["metric"], r["model"], r["dataset"]) for r in rows] == [
        ("fertility", "q", "eng_Latn.dev.txt"), ("bytes_per_token", "q", "eng_Latn.dev.txt")]


@pytest.mark.parametrize("argv, message", [
    (["tokenizer", "extend", "BASE", "--corpus", "c.txt", "--add", "ten", "--out", "o"], "--add"),
    (["tokenizer", "extend", "BASE", "--corpus", "c.txt", "--add", "0", "--out", "o"], "positive"),
    (["tokenizer", "extend", "BASE", "--corpus", "c.txt", "--add", "50,-5", "--out", "o"], "positive"),
    (["tokenizer", "extend", "BASE", "--corpus", "c.txt", "--add", "50,200,50", "--out", "o"],
     "key '--add': size 50 is given twice"),
    (["tokenizer", "trim", "no/such/dir", "--corpus", "c.txt", "--out", "o"], "not"),
])
def test_user_errors_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("adds, message", [([50, 50], "given twice"), ([0, 20], "positive")])
def test_sweep_refuses_repeated_or_empty_sizes(tokenizers_dir, small_corpus, tmp_path, adds, message):
    from langadapt.errors import ConfigError
    from langadapt.tokenizer.extend import Corpus
    from langadapt.tokenizer.sweep import sweep

    with pytest.raises(ConfigError, match=f"key 'add': .*{message}"):
        sweep(tokenizers_dir / "llama3", Corpus([small_corpus], limit=200), adds, tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_sweep_stage_refuses_repeated_sizes_when_read():
    from pydantic import ValidationError

    options = get_stage("tokenizer.sweep").Options
    with pytest.raises(ValidationError, match="size 50 is given twice"):
        options(base="b", corpus=["c.txt"], add=[50, 200, 50])
    assert options(base="b", corpus=["c.txt"], add=[50, 200]).add == [50, 200]


def test_sweep_prints_fertility_per_size(tokenizers_dir, small_corpus, flores, tmp_path, capsys):
    code = main(["tokenizer", "extend", str(tokenizers_dir / "llama3"), "--corpus", str(small_corpus),
                 "--add", "50,200", "--out", str(tmp_path / "sweep"), "--eval", str(flores["khk_Cyrl"]),
                 "--check-lines", "200", "--plot", str(tmp_path / "sweep.png"), "--json"])
    rows = _json_lines(capsys.readouterr().out)
    assert code == 0 and (tmp_path / "sweep.png").is_file()
    fert = {r["extra"]["added"]: r["value"] for r in rows if r["metric"] == "fertility"}
    assert list(fert) == [0, 50, 200] and fert[0] > fert[50] > fert[200]
    assert (tmp_path / "sweep" / "add50" / "new_tokens.jsonl").read_text().count("\n") == 50


def test_stages_registered_and_run(tokenizers_dir, small_corpus, flores, tmp_path):
    kinds = ("tokenizer.train", "tokenizer.extend", "tokenizer.trim", "tokenizer.stats")
    assert all(get_stage(k).kind == k for k in kinds)
    trim = get_stage("tokenizer.trim")
    opts = trim.Options(base=str(tokenizers_dir / "qwen3"), corpus=[str(flores["eng_Latn"])])
    ctx = StageContext(stage_id="trim", out_dir=tmp_path / "trim", run_dir=tmp_path)
    rows = trim().run(opts, ctx)
    assert (tmp_path / "trim" / "id_map.json").is_file()
    assert {r.metric for r in rows} == {"vocab_size", "vocab_kept_fraction"}
    stats = get_stage("tokenizer.stats")
    ctx = StageContext(stage_id="stats", out_dir=tmp_path / "stats", run_dir=tmp_path, variant="v")
    rows = stats().run(stats.Options(tokenizers=[f"trimmed={tmp_path / 'trim'}"],
                                     text=[str(flores["eng_Latn"])], metrics=["fertility"]), ctx)
    assert (tmp_path / "stats" / "fertility.png").is_file()
    assert [(r.metric, r.model, r.variant) for r in rows] == [("fertility", "trimmed", "v")]
    ext = get_stage("tokenizer.extend")  # extending a trimmed tokenizer, as the quickstart does
    ctx = StageContext(stage_id="ext", out_dir=tmp_path / "ext", run_dir=tmp_path)
    rows = ext().run(ext.Options(base=str(tmp_path / "trim"), corpus=[str(small_corpus)], add=50,
                                 check_lines=200), ctx)
    size = json.loads((tmp_path / "trim" / "id_map.json").read_text())["kept_old_ids"]
    assert {r.metric: r.value for r in rows} == {"added_tokens": 50, "vocab_size": len(size) + 50}
    with pytest.raises(ValueError):
        ext.Options(base="x", corpus=["c"], add=5, typo=1)


def test_sweep_stage_writes_each_size_and_its_fertility(tokenizers_dir, small_corpus, flores, tmp_path):
    sweep = get_stage("tokenizer.sweep")
    ctx = StageContext(stage_id="sweep", out_dir=tmp_path / "sweep", run_dir=tmp_path)
    opts = sweep.Options(base=str(tokenizers_dir / "llama3"), corpus=[str(small_corpus)], add=[200, 50],
                         text=[str(flores["khk_Cyrl"])], metrics=["fertility"], check_lines=200)
    rows = sweep().run(opts, ctx)
    fert = {r.extra["added"]: r.value for r in rows if r.metric == "fertility"}
    assert list(fert) == [0, 50, 200] and fert[0] > fert[50] > fert[200]
    assert (tmp_path / "sweep" / "add200" / "new_tokens.jsonl").read_text().count("\n") == 200
    assert (tmp_path / "sweep" / "sweep.png").is_file()
    with pytest.raises(ValueError):
        sweep.Options(base="x", corpus=["c"], add=[])
