"""The real-model recipe end to end at its `cpu-smoke` preset.

`recipes/adapt.yaml` runs every stage (model load, clean, trim, sweep, resize with four
inits, three trainings, bpb with paired tests, speed, FLORES) with each stage shrunk to a
few documents and steps. Every test run takes a tiny random Qwen3 model as a local folder
(`model=<folder>`) and the cached SmolLM2 GGUF checkpoint (`langadapt model fetch`, CI:
`make models`; skipped naming the command without it); Gemma 3 270M (~10 CPU-minutes)
runs the same flow when LANGADAPT_TEST_GEMMA=1. Gemma's import is checked against
transformers' own GGUF load in tests/models/test_gguf.py either way.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from langadapt.cli import main
from langadapt.models import fetch

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "adapt.yaml"
REAL = ("smollm2-135m-instruct", "gemma3-270m")
# The whole flow on real weights in every test run with the smaller checkpoint.
RUN_BY_DEFAULT = {"smollm2-135m-instruct"}


def _model(name: str, tiny_model) -> Path:
    if name == "tiny":
        return tiny_model("qwen3")
    if name not in RUN_BY_DEFAULT and os.environ.get("LANGADAPT_TEST_GEMMA") != "1":
        pytest.skip(f"the {name} recipe run takes ~10 CPU-minutes; set LANGADAPT_TEST_GEMMA=1 to run it")
    path = fetch.cached_path(name)
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the model cache {path.parent} "
                    f"(run 'make models' or 'langadapt model fetch {name}')")
    return path


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", *REAL])
def test_adapt_recipe_cpu_smoke(name, tiny_model, tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    args = ["run", str(RECIPE), f"output_dir={out}", f"model={_model(name, tiny_model)}", "preset=cpu-smoke"]
    assert main(args) == 0
    rows = _rows(out)
    by = {}
    for r in rows:
        by.setdefault((r["extra"].get("stage", "").split(".")[0], r["metric"]), []).append(r)
    # step 0 and after training: every variant scored, each with a paired delta to the base
    assert len(by[("bpb0", "bpb")]) == 4 and len(by[("bpb0", "bpb_delta")]) == 4
    assert len(by[("bpb", "bpb")]) == 3 and len(by[("bpb_en", "bpb_delta")]) == 3
    for r in by[("bpb", "bpb_delta")]:
        assert r["ci"][0] <= r["value"] <= r["ci"][1] and r["extra"]["baseline"]
    fert = {r["model"]: r["value"] for r in by[("fertility", "fertility")]
            if r["dataset"] == "khk_Cyrl.dev.txt"}
    # (the smoke trim reads 1500 documents, so FLORES may tokenize finer than with the base)
    assert set(fert) == {"base", "trimmed", "extended"} and fert["extended"] < fert["trimmed"]
    assert len(by[("speed", "speed.bytes_per_second")]) == 5  # base x2, and the three trainings
    # base and adapted exported as q8_0 GGUF, tokenized in llama.cpp as in HF on every check line
    assert [r["value"] for r in by[("gguf", "gguf.tokenization_identical")]] == [1.0, 1.0]
    assert all(r["n"] > 1000 for r in by[("gguf", "gguf.tokenization_identical")])
    assert len(by[("speed_gguf", "speed.bytes_per_second")]) == 2
    assert {r["variant"] for r in rows if r["extra"].get("kind") == "eval.flores"} >= {
        "zero-shot", "few-shot", "lora", "google"}
    # the budget of every training variant, in tokens and bytes of text
    for stage in ("cpt.fvt.embeddings", "cpt.fvt.lora-emb", "cpt.control", "mt"):
        summary = json.loads((out / "stages" / stage / "train_summary.json").read_text())
        assert summary["total_tokens"] == 2 * 2 * 32 or stage == "mt"
        assert summary["total_bytes"] > 0
    assert "Training budget" in (out / "results.md").read_text()
    # learning curves: news and English at step 0 and after the 2 steps, in the report
    for stage in ("cpt.fvt.embeddings", "cpt.fvt.lora-emb", "cpt.control"):
        curve = [json.loads(x) for x in (out / "stages" / stage / "curve.jsonl").read_text().splitlines()]
        points = [(r["step"], r["text"]) for r in curve]
        assert points == [(s, t) for s in (0, 2) for t in ("news", "english")]
    assert (out / "curves.png").is_file() and "Learning curve (cpt)" in (out / "results.md").read_text()
    source = out / "stages" / "pretrained" / ("model_source.json" if name == "tiny" else "gguf_import.json")
    assert source.is_file()
    # a second run reuses every stage
    capsys.readouterr()
    assert main([*args, "--dry-run"]) == 0
    assert re.search(r"^0 of \d+ stages to run", capsys.readouterr().out, re.M)
    assert main(args) == 0
    assert [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()] == rows


@pytest.mark.slow
def test_adapt_recipe_study_smoke(tiny_model, tmp_path, data_dir):
    """`preset=[cpu-smoke,study]`: seeds, curves, greedy and sampled speed, lens and ablation."""
    out = tmp_path / "run"
    args = ["run", str(RECIPE), f"output_dir={out}", f"model={tiny_model('qwen3')}",
            "preset=[cpu-smoke,study]", "seeds=[0,1]"]
    assert main(args) == 0
    rows = _rows(out)
    stages = {r["extra"].get("stage", "") for r in rows}
    # every training variant once per seed, each with its own learning curve
    for stage in ("cpt.fvt.embeddings", "cpt.fvt.lora-emb", "cpt.control"):
        for folder in (stage, stage + ".seed1"):
            assert (out / "stages" / folder / "curve.jsonl").is_file()
    assert "mt.seed1" not in {p.name for p in (out / "stages").iterdir()}  # the translator: seed 0
    # greedy and sampled speed, each continuation scored: useful beside raw bytes/s
    for stage in ("speed", "speed_sampled"):
        metrics = {r["metric"] for r in rows if r["extra"].get("stage", "").startswith(stage + ".")}
        assert {"speed.bytes_per_second", "speed.useful_bytes_per_second", "speed.pass_share"} <= metrics
    sampled = [r for r in rows if r["extra"].get("stage", "").startswith("speed_sampled.")
               and r["metric"] == "speed.bytes_per_second"]
    assert len(sampled) == 1 + 3  # the base and the three trainings of seed 0
    # the lens: layer by layer against the model before training, and the new tokens' mass
    lens = {(r["extra"]["stage"].split(".")[-1], r["metric"]) for r in rows
            if r["extra"].get("kind") == "eval.lens"}
    for variant in ("embeddings", "lora-emb"):
        assert (variant, "lens_new_token_mass") in lens and (variant, "lens_base_new_token_mass") in lens
        assert (variant, "lens_base_kl") in lens
    assert ("control", "lens_base_kl") in lens and ("control", "lens_new_token_mass") not in lens
    # the ablation: news and English, LoRA switched off per layer selection, both LoRA models
    for stage in ("ablation", "ablation_en"):
        ab = [r for r in rows if r["extra"].get("stage", "").startswith(stage + ".")]
        want = {f"{stage}.fvt.lora-emb.lora-emb", f"{stage}.control.control"}
        assert {r["extra"]["stage"] for r in ab} == want
        assert len(ab) >= 2 * 3  # none, layer 0 and layer 1 off (the smoke sizes), for each model
    assert not any(s.endswith(".seed1") for s in stages if s.startswith(("lens", "ablation", "gguf")))
    md = (out / "results.md").read_text()
    assert "Across seeds" in md and "Learning curve (cpt)" in md
