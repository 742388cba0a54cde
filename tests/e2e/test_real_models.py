"""The real-model recipe end to end on a cached GGUF checkpoint, with the smoke overrides.

`recipes/gemma3-270m-mongolian.yaml` runs every stage on the real weights (import, trim,
sweep, resize with four inits, three trainings, bpb with paired tests, speed, FLORES)
with each stage shrunk to a few documents and steps (`SMOKE`, also in
docs/real-models.md). The checkpoint comes from `langadapt model fetch` (CI: `make
models`); without it the test skips, naming the command.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from langadapt.cli import main
from langadapt.models import fetch

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "gemma3-270m-mongolian.yaml"

# Every stage of the recipe, shrunk: a few hundred documents, 2 training steps, 4 FLORES
# sentences. The stage kinds and code paths are the real ones.
SMOKE = [
    "clean.with.limit=800",
    "news.with.heldout=12",
    "tok.with.limit=1500",
    "sweep.with.add=[20,40]", "sweep.with.limit=500", "sweep.with.check_lines=50",
    'resized.with.tokenizer="@sweep/add40"', "resized.variants.focus.init_options.dim=16",
    "fertility.with.tokenizers=[base=@gemma,trimmed=@tok,extended=@sweep/add40]",
    "bpb_base.with.max_docs=8", "bpb0.with.max_docs=8", "bpb.with.max_docs=8",
    "bpb_en_base.with.max_docs=8", "bpb_en.with.max_docs=8",
    "bpb_base.with.resamples=50", "bpb0.with.resamples=50", "bpb.with.resamples=50",
    "bpb_en_base.with.resamples=50", "bpb_en.with.resamples=50",
    "cpt.with.max_steps=2", "cpt.with.seq_len=32", "cpt.with.batch_size=2", "cpt.with.save_steps=1",
    "cpt.with.warmup_steps=0", "cpt.with.data.limit=100",
    "mt.with.max_steps=2", "mt.with.seq_len=384", "mt.with.batch_size=2", "mt.with.warmup_steps=0",
    "mt.with.data.limit=20",
    "speed.with.prompts=2", "speed.with.max_new_tokens=4", "speed.with.warmup=0",
    "speed.with.resamples=50",
    "flores.with.limit=3", "flores.with.resamples=50",
    "flores.variants.zero-shot.generation.max_new_tokens=6",
    "flores.variants.few-shot.generation.max_new_tokens=6",
    "flores.variants.lora.generation.max_new_tokens=6",
]

CHECKPOINTS = {"smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
               "gemma3-270m": "gemma-3-270m-q4_k_m.gguf"}


# The recipe's whole flow on SmolLM2 (the smaller checkpoint) in every test run; Gemma 3 270M
# (import alone is ~2 CPU-minutes) when LANGADAPT_TEST_GEMMA=1. Its import is checked against
# transformers' own GGUF load in tests/models/test_gguf.py either way.
RUN_BY_DEFAULT = {"smollm2-135m-instruct"}


def _cached(name: str) -> Path:
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
@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_real_model_recipe_smoke(name, tmp_path, data_dir, capsys):
    path = _cached(name)
    out = tmp_path / "run"
    args = ["run", str(RECIPE), f"output_dir={out}", f"gemma.with.gguf={path}", *SMOKE]
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
    assert {r["variant"] for r in rows if r["extra"].get("kind") == "eval.flores"} >= {
        "zero-shot", "few-shot", "lora", "google"}
    # the budget of every training variant, in tokens and bytes of text
    for stage in ("cpt.fvt.embeddings", "cpt.fvt.lora-emb", "cpt.control", "mt"):
        summary = json.loads((out / "stages" / stage / "train_summary.json").read_text())
        assert summary["total_tokens"] == 2 * 2 * 32 or stage == "mt"
        assert summary["total_bytes"] > 0
    assert "Training budget" in (out / "results.md").read_text()
    # a second run reuses every stage
    capsys.readouterr()
    assert main([*args, "--dry-run"]) == 0
    assert re.search(r"^0 of \d+ stages to run", capsys.readouterr().out, re.M)
    assert main(args) == 0
    assert [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()] == rows
