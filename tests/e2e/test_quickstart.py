"""The quickstart recipe end to end on tiny settings (overrides), with every stage that exists."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from langadapt.cli import main

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.yaml"

# Shrink every stage so the whole recipe runs in about a minute on 2 cores; the recipe
# file, stage kinds and code paths are the real ones.
SMALL = [
    "clean.with.limit=1500",
    "news.with.heldout=30",
    "tok.with.limit=1500",
    "ext.with.add=40", "ext.with.limit=800", "ext.with.check_lines=100",
    "base.with.max_steps=4", "base.with.seq_len=32", "base.with.batch_size=4", "base.with.data.limit=300",
    "cpt.with.max_steps=3", "cpt.with.seq_len=32", "cpt.with.batch_size=4", "cpt.with.eval_steps=2",
    "cpt.with.data.limit=300", "cpt.with.data.eval_limit=5",
    "mt_base.with.max_steps=3", "mt_base.with.batch_size=4", "mt_base.with.seq_len=32",
    "mt_lora.with.max_steps=3", "mt_lora.with.batch_size=4", "mt_lora.with.seq_len=32",
    "flores.with.limit=8", "flores.with.generation.max_new_tokens=8", "flores.with.resamples=50",
    "ablation.with.inputs.limit=8",
]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, data_dir, tokenizers_dir):
    out = tmp_path_factory.mktemp("quick") / "run"
    t0 = time.perf_counter()
    code = main(["run", str(QUICKSTART), f"output_dir={out}", *SMALL])
    assert code == 0
    return out, time.perf_counter() - t0


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_outputs_and_report(first_run):
    out, _ = first_run
    for name in ("report.html", "results.md", "results.jsonl", "recipe.resolved.yaml",
                 "bpb.png", "train_loss.png", "cleaning_funnel.png", "fertility.png"):
        assert (out / name).is_file(), name
    bpb = {r["variant"]: r for r in _rows(out) if r["metric"] == "bpb"}
    assert {"base", "lora", "full", "embeddings"} <= set(bpb)
    for r in bpb.values():
        assert r["value"] > 0 and r["ci"][0] <= r["value"] <= r["ci"][1] and r["signature"]["tools"]
    flores = {r["variant"] for r in _rows(out) if r["extra"].get("kind") == "eval.flores"}
    assert {"nllb_base", "nllb_lora", "google"} <= flores
    assert any(r["extra"].get("kind") == "eval.ablation" for r in _rows(out))
    md = (out / "results.md").read_text()
    assert "FLORES translation" in md and "| google |" in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert all((d / "DONE.json").is_file() for d in (out / "stages").iterdir())


def test_report_in_a_browser(first_run):
    """Chromium at 1280×900: no console errors, every figure loaded, no horizontal scroll,
    a figure on the first screen; report.screenshot.png is written beside report.html."""
    from headless_chromium import check_report

    out, _ = first_run
    check_report(out / "report.html")
    assert (out / "report.screenshot.png").is_file()


def test_second_run_reuses_every_stage(first_run, capsys):
    out, first = first_run
    before = {p: p.stat().st_mtime for p in (out / "stages").rglob("DONE.json")}
    capsys.readouterr()
    t0 = time.perf_counter()
    assert main(["run", str(QUICKSTART), f"output_dir={out}", *SMALL]) == 0
    second = time.perf_counter() - t0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert lines and all(ln.rstrip().endswith("cached") for ln in lines)
    assert {p: p.stat().st_mtime for p in (out / "stages").rglob("DONE.json")} == before
    assert second < first


def test_missing_data_file_exits_2_without_outputs(tmp_path, data_dir, capsys):
    partial = tmp_path / "data"
    shutil.copytree(data_dir / "flores", partial / "flores")  # mono/ is missing
    os.environ["LANGADAPT_DATA"], old = str(partial), os.environ.get("LANGADAPT_DATA")
    try:
        code = main(["run", str(QUICKSTART), f"output_dir={tmp_path / 'run'}"])
    finally:
        if old is None:
            del os.environ["LANGADAPT_DATA"]
        else:
            os.environ["LANGADAPT_DATA"] = old
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "news_ner_v1.txt" in err[0]
    assert not (tmp_path / "run").exists()
