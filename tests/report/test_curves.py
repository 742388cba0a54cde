"""Learning curves in the report: the crossover sentence, the plot, seeds averaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from langadapt.report import build_report
from langadapt.report.curves import Curve, crossover, curve_sentences, load_curves
from langadapt.report.store import load_run
from langadapt.runs import atomic_write_json


def _curve(name: str, values: list[float], seeds=(None,), text="news") -> Curve:
    c = Curve("cpt", name, text)
    for seed in seeds:
        shift = 0.0 if seed is None else 0.01 * seed
        c.points[seed] = [{"step": 10 * i, "tokens": 1000 * i, "bytes": 3000 * i, "bpb": v + shift,
                           "ci": [v - 0.05, v + 0.05]} for i, v in enumerate(values)]
    return c


@pytest.mark.parametrize("a, b, sentence", [
    ([3.0, 2.0, 1.5], [3.1, 2.5, 2.0], "On news, x is below y at every point: no crossover."),
    ([3.0, 2.6, 1.5, 1.2], [3.0, 2.5, 2.0, 2.1],
     "On news, x is below y from 2,000 tokens on (step 20; 6.0 kB of training text read by x, 6.0 kB by y); "
     "at the last point their 95% CIs are apart."),
    ([3.0, 2.0, 2.3], [3.1, 2.1, 2.2],
     "On news, y is below x from 2,000 tokens on (step 20; 6.0 kB of training text read by y, "
     "6.0 kB by x); at the last point their 95% CIs overlap."),
    ([3.0, 2.0, 2.5, 1.0], [2.9, 2.1, 2.4, 1.1],
     "On news, x is below y from 3,000 tokens on (step 30; 9.0 kB of training text read by x, "
     "9.0 kB by y) (the curves cross 3 times); at the last point their 95% CIs overlap."),
])
def test_crossover_sentence(a, b, sentence):
    assert crossover(_curve("x", a), _curve("y", b)) == sentence


def test_crossover_averages_seeds_and_needs_two_points():
    s = crossover(_curve("x", [3.0, 2.0], seeds=(0, 1)), _curve("y", [3.1, 2.5], seeds=(0, 1)))
    assert s == "On news (mean of 2 seeds), x is below y at every point: no crossover."
    assert crossover(_curve("x", [3.0]), _curve("y", [3.1])) is None


def _stage(root: Path, sid: str, variant: str, points: list[tuple[int, float]]) -> None:
    d = root / "stages" / sid
    atomic_write_json(d / "DONE.json", {"key": "k", "kind": "train", "spec": "cpt", "variant": variant})
    rows = [{"step": s, "tokens": 16 * s, "bytes": 40 * s, "text": t, "bpb": v + (t == "english"),
             "ci": [v - 0.01, v + 0.01], "docs": 3} for s, v in points for t in ("news", "english")]
    (d / "curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{half")


def test_report_draws_curves_per_variant_and_seed(tmp_path):
    root = tmp_path / "run"
    _stage(root, "cpt.lora", "lora", [(0, 3.0), (2, 2.5), (4, 2.0)])
    _stage(root, "cpt.lora.seed1", "lora@seed1", [(0, 3.0), (2, 2.4), (4, 2.1)])
    _stage(root, "cpt.emb", "emb", [(0, 3.0), (2, 2.6), (4, 1.9)])
    plan = [{"id": "cpt.lora", "seed": 0}, {"id": "cpt.lora.seed1", "seed": 1}, {"id": "cpt.emb"}]
    (root / "recipe.resolved.yaml").write_text(yaml.safe_dump({"plan": plan}))
    run = load_run(root)
    curves = {(c.variant, c.text): c for c in load_curves(run)}
    assert set(curves) == {(v, t) for v in ("lora", "emb") for t in ("news", "english")}
    assert sorted(curves[("lora", "news")].points) == [0, 1]
    assert [p["step"] for p in curves[("emb", "news")].points[None]] == [0, 2, 4]
    said = curve_sentences(run)
    assert "Learning curve (cpt): On news (mean of 2 seeds), emb is below lora from 64 tokens on" in said[0]
    rep = build_report(root, tmp_path / "out")
    assert (tmp_path / "out/curves.png").stat().st_size > 1000
    assert said[0] in (tmp_path / "out/results.md").read_text()
    assert any(f.name == "curves" for f in rep.figures)
