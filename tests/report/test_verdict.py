"""The report's first screen: one verdict table, variant × (news bpb, English cost, useful speed, chrF++)."""

from __future__ import annotations

from pathlib import Path

from langadapt.report import build_report
from langadapt.report.store import load_run
from langadapt.report.verdict import verdict_table
from langadapt.runs import ResultRow, atomic_write_json, write_results

STAGES = "/run/stages"


def _bpb(model: str, seed: int, ds: str, value: float, delta: float, ci: list[float]) -> list[ResultRow]:
    folder = model + (f".seed{seed}" if seed else "")
    stage = f"bpb.{model}" + (f".seed{seed}" if seed else "")
    label = model + (f"@seed{seed}" if seed else "")
    common = dict(dataset=ds, model=f"{STAGES}/{folder}", variant=label, n=200)
    extra = {"kind": "eval.bpb", "stage": stage, "seed": seed, "baseline": f"{STAGES}/bpb_base.{ds}"}
    p = 0.5 if ci[0] < 0 < ci[1] else 0.001
    return [ResultRow(metric="bpb", value=value, ci=[value - 0.03, value + 0.03], extra=extra, **common),
            ResultRow(metric="bpb_delta", value=delta, ci=ci, extra={**extra, "p_value": p}, **common)]


def _speed(model: str, seed: int, useful: float, raw: float, passed: float,
           temperature: float) -> list[ResultRow]:
    folder = model + (f".seed{seed}" if seed else "")
    sig = {"options": {"temperature": temperature}}
    extra = {"kind": "eval.speed", "stage": f"speed.{folder}", "seed": seed}
    return [ResultRow(metric=m, value=v, ci=[v, v], n=16, dataset="heldout.txt",
                      model=f"{STAGES}/{folder}", variant=model + (", sampled" if temperature else ""),
                      signature=sig, extra=extra)
            for m, v in (("speed.useful_bytes_per_second", useful), ("speed.bytes_per_second", raw),
                         ("speed.pass_share", passed))]


def make_run(root: Path) -> Path:
    rows = []
    for ds in ("news", "english"):  # the baseline: the trimmed base, scored by stage bpb_base.<text>
        rows.append(ResultRow(metric="bpb", value=1.5 if ds == "news" else 1.0, dataset=ds,
                              model=f"{STAGES}/base", variant="base",
                              extra={"kind": "eval.bpb", "stage": f"bpb_base.{ds}"}))
    rows += _bpb("emb", 0, "news", 1.48, -0.02, [-0.05, 0.01])
    rows += _bpb("emb", 1, "news", 1.46, -0.04, [-0.06, -0.02])
    rows += _bpb("emb", 0, "english", 1.0, 0.0, [-0.001, 0.001])
    rows += _bpb("emb", 1, "english", 1.0, 0.0, [-0.001, 0.001])
    rows += _bpb("lora", 0, "news", 1.3, -0.2, [-0.23, -0.17])
    rows += _bpb("lora", 1, "news", 1.32, -0.18, [-0.2, -0.16])
    rows += _bpb("lora", 0, "english", 1.04, 0.04, [0.03, 0.05])
    rows += _bpb("lora", 1, "english", 1.03, 0.03, [0.02, 0.04])
    rows += _speed("base", 0, 5.0, 30.0, 0.25, 0) + _speed("emb", 0, 0.0, 120.0, 0.0, 0)
    rows += _speed("emb", 1, 10.0, 100.0, 0.125, 0) + _speed("emb", 0, 60.0, 110.0, 0.5, 1.0)
    rows.append(ResultRow(metric="chrf++", value=14.2, ci=[12.9, 15.5], n=50, dataset="flores",
                          model=f"{STAGES}/mt", variant="translator",
                          extra={"kind": "eval.flores", "stage": "flores.lora"}))
    rows.append(ResultRow(metric="train_loss", value=3.0, model=f"{STAGES}/mt", variant="mt",
                          extra={"kind": "train", "stage": "mt"}))
    write_results(root / "results.jsonl", rows)
    atomic_write_json(root / "stages/bpb.emb/DONE.json", {"key": "k", "kind": "eval.bpb"})
    return root


def test_one_row_per_variant_joined_across_stages_and_seeds(tmp_path):
    t = verdict_table(load_run(make_run(tmp_path / "run")))
    assert t.columns == ["bits per byte, news", "bits per byte, english",
                         "useful bytes/s (raw, share passing)", "FLORES chrF++", "verdict"]
    rows = dict(t.rows)
    assert list(rows) == ["base", "emb", "lora", "translator"]  # the baseline first
    assert rows["base"][0] == "1.500 (the baseline)" and rows["base"][-1] == "the baseline"
    news, english, speed, chrf, words = rows["emb"]
    # the mean over seeds, its sd, seed 0's CI, and a verdict that holds only when every seed agrees
    assert news.startswith("1.470, Δ -0.030 (-2.0%) ± 0.014 sd over 2 seeds; "
                           "CI of seed 0 [-0.050, +0.010]")
    assert english.startswith("1.000, Δ +0.0000 (+0.0%)")  # a difference under 0.01 keeps 4 digits
    # greedy useful speed is the mean over seeds; the loop's raw speed stays beside it
    assert speed == ("greedy 5.0 ± 7.1 sd over 2 seeds (raw 110.0, 6% pass); "
                     "sampled 60.0 (raw 110.0, 50% pass)")
    assert chrf == "–"
    assert words == ("news: mixed across seeds (not distinguishable for seed 0; better for seed 1); "
                     "english: not distinguishable for every seed")
    assert rows["lora"][1].startswith("1.035, Δ +0.035 (+3.5%)")  # the English cost, in words: worse
    assert rows["lora"][-1] == "news: better for every seed (2 of 2); english: worse for every seed (2 of 2)"


def test_the_verdict_opens_the_report(tmp_path):
    run = make_run(tmp_path / "run")
    build_report(run, tmp_path / "out")
    md = (tmp_path / "out/results.md").read_text()
    assert md.index("## Verdict") < md.index("Bits per byte on news")
    html = (tmp_path / "out/report.html").read_text()
    assert html.index('class="verdict"') < html.index('class="summary"')
    assert "english: worse for every seed (2 of 2)" in html


def test_no_comparison_no_table(tmp_path):
    root = tmp_path / "run"
    row = ResultRow(metric="bpb", value=2.0, dataset="news", variant="base",
                    extra={"kind": "eval.bpb", "stage": "bpb"})
    write_results(root / "results.jsonl", [row])
    atomic_write_json(root / "stages/bpb/DONE.json", {"key": "k", "kind": "eval.bpb"})
    assert verdict_table(load_run(root)) is None
