"""Scores over seeds in the report: the spread beside the CIs, verdicts that hold for every seed."""

from __future__ import annotations

from pathlib import Path

from langadapt.report import build_report
from langadapt.report.seeds import seed_groups, seed_sentences, seed_tables
from langadapt.report.store import load_run
from langadapt.runs import ResultRow, atomic_write_json, write_results


def _row(variant: str, seed: int, value: float, ci: list[float], metric="bpb_delta") -> ResultRow:
    suffix = f"@seed{seed}" if seed else ""
    stage = f"bpb.{variant}" + (f".seed{seed}" if seed else "")
    p = 0.5 if ci[0] < 0 < ci[1] else 0.001
    return ResultRow(metric=metric, value=value, ci=ci, n=50, dataset="heldout.txt", variant=variant + suffix,
                     extra={"kind": "eval.bpb", "stage": stage, "seed": seed, "p_value": p})


def make_run(root: Path) -> Path:
    rows = [_row("lora", 0, -0.10, [-0.12, -0.08]), _row("lora", 1, -0.09, [-0.11, -0.07]),
            _row("lora", 2, -0.11, [-0.13, -0.09]),
            _row("emb", 0, -0.05, [-0.07, -0.03]), _row("emb", 1, 0.01, [-0.01, 0.03]),
            _row("emb", 2, 0.04, [0.02, 0.06]),
            _row("emb", 0, 1.9, [1.8, 2.0], "bpb"), _row("emb", 1, 2.0, [1.9, 2.1], "bpb"),
            ResultRow(metric="bpb", value=2.5, dataset="heldout.txt", variant="base",
                      extra={"kind": "eval.bpb", "stage": "bpb_base"})]
    write_results(root / "results.jsonl", rows)
    atomic_write_json(root / "stages/bpb.lora/DONE.json", {"key": "k", "kind": "eval.bpb"})
    return root


def test_verdicts_hold_for_every_seed_or_are_mixed(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    groups = {(g.label, g.metric): g for g in seed_groups(run)}
    assert set(groups) == {("lora", "bpb_delta"), ("emb", "bpb_delta"), ("emb", "bpb")}
    assert sorted(groups[("lora", "bpb_delta")].rows) == [0, 1, 2]
    said = seed_sentences(run)
    assert said[0].startswith("Across 3 seeds, on heldout.txt, lora (bpb_delta) is better for every seed "
                              "(3 of 3): mean -0.1000 ± 0.0100 sd (min -0.1100, max -0.0900); per-seed 95% "
                              "CIs seed 0 [-0.1200, -0.0800]")
    assert ("emb (bpb_delta) is mixed across seeds (better for seed 0; not distinguishable for seed 1; "
            "worse for seed 2)") in said[1]
    assert len(said) == 2  # plain scores get a table row, not a verdict


def test_seed_table_puts_the_spread_beside_each_seeds_ci(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    (table,) = seed_tables(run)
    assert table.title == "Across seeds — heldout.txt"
    assert table.columns == ["seed 0", "seed 1", "seed 2", "mean over seeds", "sd", "min", "max"]
    assert [label for label, _ in table.rows] == ["lora: bpb_delta", "emb: bpb_delta", "emb: bpb"]
    cells = table.rows[0][1]
    assert cells[1].ci == [-0.11, -0.07] and round(cells[3].value, 4) == -0.1
    assert table.rows[2][1][2] is None  # emb's plain bpb has no seed 2
    assert any("emb (bpb_delta): mixed across seeds" in n for n in table.notes)
    build_report(run.root, tmp_path / "out")
    md = (tmp_path / "out/results.md").read_text()
    assert "## Across seeds — heldout.txt" in md and "mixed across seeds" in md
