"""The report: tables with CIs and signatures, registered plots, self-contained HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.report import build_report
from langadapt.report.plots_data import funnel_counts
from langadapt.report.store import load_run
from langadapt.report.tables import build_tables, fmt_value, signature_line
from langadapt.runs import ResultRow, atomic_write_json, write_results

SIG = {"tools": {"langadapt": "0.1.0"}, "seed": 0, "config_hash": "abc", "data_hash": "def",
       "options": {"stride": 512}}


def make_run(root: Path, with_train: bool = True, with_clean: bool = True) -> Path:
    rows = [ResultRow(metric="bpb", value=v, ci=[v - 0.1, v + 0.1], n=50, dataset="heldout.txt",
                      variant=var, signature=SIG, extra={"kind": "eval.bpb", "stage": f"bpb.{var}"})
            for var, v in (("base", 3.2), ("lora", 2.9), ("full", 2.5))]
    rows += [ResultRow(metric=m, value=v, ci=[v - 1, v + 1], n=506, dataset="flores", model=mod,
                       signature=SIG, extra={"kind": "eval.flores", "stage": "flores"})
             for mod, m, v in (("nllb-tiny", "chrF++", 12.5), ("google", "chrF++", 55.0),
                               ("google", "BLEU", 30.1))]
    rows += [ResultRow(metric="fertility", value=v, dataset="flores", model=t, signature=SIG,
                       extra={"kind": "tokenizer.stats", "stage": "tok"})
             for t, v in (("qwen3", 4.3), ("extended", 2.1))]
    rows += [ResultRow(metric="loss", value=v, ci=[v - 0.1, v + 0.1], variant=f"lora-off:{a}", signature=SIG,
                       extra={"kind": "eval.ablation", "stage": "abl", "ablate": a, "disabled_layers": [0]})
             for a, v in (("none", 2.0), ("early", 2.5), ("late", 2.1))]
    write_results(root / "results.jsonl", rows)
    stages = [("bpb.base", "eval.bpb"), ("train.lora", "train"), ("clean", "data.clean")]
    for sid, kind in stages:
        atomic_write_json(root / "stages" / sid / "DONE.json", {"key": "k", "kind": kind, "seconds": 1.5,
                                                                 "langadapt": "0.9.1"})
    if with_train:
        log = [{"step": s, "loss": 5 - s / 10, "learning_rate": 1e-3, "tokens_per_second": 600}
               for s in range(1, 11)] + [{"step": 10, "eval_loss": 4.2}]
        (root / "stages/train.lora/train_log.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in log) + "not json\n")
    if with_clean:
        atomic_write_json(root / "stages/clean/stats.json",
                          {"input": 100, "kept": 80, "dropped": {"duplicate": 15, "language": 5}})
    return root


def test_report_is_self_contained_with_plots_and_signatures(tmp_path):
    run = make_run(tmp_path / "run")
    rep = build_report(run, tmp_path / "out")
    names = {p.name for p in rep.files}
    assert {"report.html", "results.md", "results.jsonl", "bpb.png", "train_loss.png",
            "cleaning_funnel.png", "fertility.png", "ablation.png"} <= names
    html = (tmp_path / "out/report.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert html.count("data:image/png;base64,") == len(rep.figures) >= 5
    assert "| lora-off:early | 2.5000 [2.4000, 2.6000] |" in (tmp_path / "out/results.md").read_text()
    assert "config=abc" in html and "<details>" in html
    md = (tmp_path / "out/results.md").read_text()
    assert "| full | 2.5000 [2.4000, 2.6000] |" in md
    assert ("Bits per byte on heldout.txt (lower is better): full 2.500 (-21.9% vs base); "
            "lora 2.900 (-9.4% vs base); base 3.200.") in md and "-21.9% vs base" in html
    assert "| google | 55.00 [54.00, 56.00] | 30.10 [29.10, 31.10] |" in md
    assert "| train.lora | train |  | 1.5 | 0.9.1 |" in md  # which langadapt computed each stage
    assert "<td>0.9.1</td>" in html
    for png in tmp_path.glob("out/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_absent_inputs_skip_plots_with_a_note(tmp_path):
    run = make_run(tmp_path / "run", with_train=False, with_clean=False)
    (tmp_path / "run/train_loss.png").write_bytes(b"stale")
    rep = build_report(run)
    assert not (tmp_path / "run/train_loss.png").exists()
    assert any("Training loss: skipped" in n for n in rep.notes)
    assert any("Cleaning funnel: skipped" in n for n in rep.notes)
    assert "skipped" in (tmp_path / "run/results.md").read_text()


def test_tables_group_by_kind_and_dataset(tmp_path):
    tables = build_tables(load_run(make_run(tmp_path / "run")))
    assert [t.title for t in tables] == ["Held-out bits per byte — heldout.txt",
                                         "FLORES translation — flores",
                                         "Adapter layer ablation",
                                         "Tokenizer statistics — flores"]
    flores = tables[1]
    assert flores.columns == ["chrF++", "BLEU"]
    assert [s for s, _ in flores.rows] == ["nllb-tiny", "google"]
    assert flores.rows[0][1][1] is None


@pytest.mark.parametrize("row, text", [
    (ResultRow(metric="m", value=1.23456), "1.2346"),
    (ResultRow(metric="m", value=1.0, ci=[0.5, 1.5]), "1.0000 [0.5000, 1.5000]"),
    (ResultRow(metric="m", value=None), "–"),
    (None, "–"),
    (ResultRow(metric="m", value=31.234, ci=[30.0, 32.5]), "31.23 [30.00, 32.50]"),
])
def test_fmt_value(row, text):
    assert fmt_value(row) == text


def test_signature_line():
    assert signature_line(SIG) == "langadapt=0.1.0|seed=0|config=abc|data=def|stride=512"


@pytest.mark.parametrize("stats, expected", [
    ({"input": 10, "kept": 7, "dropped": {"dup": 3}}, (10, 7, {"dup": 3})),
    ({"total": {"read": 5, "kept": 5, "dropped": {"x": 0}}}, (5, 5, {})),
    ({"kept": 2}, (None, 2, {})),
])
def test_funnel_counts(stats, expected):
    assert funnel_counts(stats) == expected


def test_report_cli(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["report", str(run), "--out", str(tmp_path / "o")]) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run folder not found" in capsys.readouterr().err


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DataError):
        load_run(tmp_path)


def test_one_system_with_many_metrics_is_transposed(tmp_path):
    rows = [ResultRow(metric=f"docs_dropped:{k}", value=i, extra={"kind": "data.clean", "stage": "clean"})
            for i, k in enumerate("abcde")]
    write_results(tmp_path / "results.jsonl", rows)
    (t,) = build_tables(load_run(tmp_path))
    assert t.corner == "metric" and t.columns == ["clean"]
    assert [m for m, _ in t.rows] == [f"docs_dropped:{k}" for k in "abcde"]


def test_training_budget_table_and_paired_verdicts(tmp_path):
    root = make_run(tmp_path / "run")
    atomic_write_json(root / "stages/train.lora/train_summary.json",
                      {"steps": 40, "total_tokens": 40960, "total_bytes": 160000, "wall_time_s": 600.5,
                       "tokens_per_second": 68.2, "trainable_params": 1000})
    rows = [ResultRow(metric="bpb_delta", value=d, ci=ci, dataset="heldout.txt", variant=v, signature=SIG,
                      extra={"kind": "eval.bpb", "stage": f"bpb.{v}", "baseline": "b"})
            for v, d, ci in (("worse", 0.05, [0.01, 0.09]), ("tie", 0.0, [-0.02, 0.02]),
                             ("better", -0.1, [-0.2, -0.05]))]
    rows.append(ResultRow(metric="bpb_delta_p", value=0.004, dataset="heldout.txt", variant="worse",
                          extra={"kind": "eval.bpb", "stage": "bpb.worse"}))
    write_results(root / "results.jsonl", [*load_run(root).rows, *rows])
    budget = [t for t in build_tables(load_run(root)) if t.title == "Training budget"]
    assert len(budget) == 1 and budget[0].columns[:4] == ["steps", "tokens", "bytes of text", "wall seconds"]
    assert [c.value if c else None for c in budget[0].rows[0][1][:4]] == [40, 40960, 160000, 600.5]
    build_report(root)
    md = (root / "results.md").read_text()
    assert ("On heldout.txt, worse is WORSE than its base: +0.0500 bits per byte [+0.0100, +0.0900], "
            "p = 0.004 (paired bootstrap).") in md
    assert "tie is not distinguishable from its base" in md and "better is better than its base" in md
    assert "## Training budget" in md


def test_first_screen_says_where_variants_are_worse_or_unequal(tmp_path):
    root = make_run(tmp_path / "run")
    rows = [r for r in load_run(root).rows if r.metric != "bpb" or r.variant != "full"]
    rows.append(ResultRow(metric="bpb", value=3.4, ci=[3.3, 3.5], n=50, dataset="heldout.txt", variant="full",
                          signature=SIG, extra={"kind": "eval.bpb", "stage": "bpb.full"}))
    # every removal lowers the NLL: the adapter there does harm, and the report must say so
    rows += [ResultRow(metric="mean_nll.delta", value=d, ci=[d - 0.05, d + 0.05], variant=f"lora-off:{a}",
                       extra={"kind": "eval.ablation", "stage": "abl", "ablate": a, "disabled_layers": [0]})
             for a, d in (("early", -0.3), ("late", -0.01))]
    write_results(root / "results.jsonl", rows)
    for variant, tokens, text in (("lora", 40960, 160000), ("embeddings", 40960, 410000)):
        atomic_write_json(root / f"stages/cpt.{variant}/DONE.json",
                          {"key": "k", "kind": "train", "variant": variant, "seconds": 1.0})
        atomic_write_json(root / f"stages/cpt.{variant}/train_summary.json",
                          {"steps": 40, "total_tokens": tokens, "total_bytes": text})
    rep = build_report(root)
    html = (root / "report.html").read_text()
    first = html[:html.index("<h2>")]  # everything before the first details section
    assert "Worse than the base on heldout.txt: full 3.400 vs 3.200 (95% CIs overlap) bits per byte." in first
    assert ("The cpt variants were trained on the same number of tokens but different amounts of text: "
            "embeddings 40,960 tokens = 410.00 kB; lora 40,960 tokens = 160.00 kB.") in first
    assert ("Ablation (mean_nll, lower is better, change from the full adapter): Switching the adapter "
            "off made mean_nll BETTER in early -0.3000 [-0.3500, -0.2500] "
            "(the adapter in those layers does harm); "
            "no clear change in late -0.0100 [-0.0600, +0.0400].") in first
    assert first.count("<img") == 1 and 'alt="Held-out bits per byte' in first
    assert "hurts most" not in html
    ablation = next(f for f in rep.figures if f.name == "ablation")
    assert "does harm" in ablation.caption
    # one signature toggle per table, none per cell
    tables = build_tables(load_run(root))
    signed = [t for t in tables if any(c and c.signature for _, cells in t.rows for c in cells)]
    assert html.count("<details>") == len(signed) == 4  # the training budget has no signatures
    assert "<td>3.2000 [3.1000, 3.3000] <small>(n=50)</small></td>" in html
    assert "Worse than the base" in (root / "results.md").read_text()


def test_paired_verdict_follows_one_rule_and_flags_disagreement(tmp_path):
    """The verdict, interval and p agree; a row scored by the old rule is not called anything."""
    root = make_run(tmp_path / "run")
    extra = {"kind": "eval.bpb", "test": "paired_bootstrap"}
    rows = [ResultRow(metric="bpb_delta", value=d, ci=ci, dataset="heldout.txt", variant=v, signature=SIG,
                      extra={**extra, "stage": f"bpb.{v}", "p_value": p})
            for v, d, ci, p in (("lora", 0.0277, [-0.0023, 0.0535], 0.02),   # the shifted-|Δ| p
                                ("full", 0.0277, [0.0012, 0.0535], 0.04))]
    write_results(root / "results.jsonl", [*load_run(root).rows, *rows])
    build_report(root)
    md = (root / "results.md").read_text()
    assert "lora has an interval and a p-value that disagree" in md
    assert "lora is not distinguishable" not in md and "lora is better" not in md
    assert "full is WORSE than its base: +0.0277 bits per byte [+0.0012, +0.0535], p = 0.04" in md
    assert "exactly when the interval excludes 0" in md


def test_token_perplexity_is_left_out_across_tokenizers(tmp_path):
    def rows(var, tokens, vocab, ppl):
        sig = {**SIG, "options": {"vocab": vocab, "tokenizer": "Qwen2TokenizerFast"}}
        return [ResultRow(metric=m, value=v, ci=[v - 0.1, v + 0.1], n=50, dataset="heldout.txt", variant=var,
                          signature=sig, extra={"kind": "eval.bpb", "stage": f"bpb.{var}", "tokens": tokens})
                for m, v in (("bpb", 3.0), ("token_perplexity", ppl), ("word_perplexity", 900.0))]

    same = rows("base", 1000, 151669, 74.0) + rows("lora", 1000, 151669, 70.0)
    write_results(tmp_path / "results.jsonl", same)
    (t,) = build_tables(load_run(tmp_path))
    assert t.columns == ["bpb", "token_perplexity", "word_perplexity"] and not t.notes
    write_results(tmp_path / "results.jsonl", same + rows("extended", 250, 160000, 5310.0))
    (t,) = build_tables(load_run(tmp_path))
    assert t.columns == ["bpb", "word_perplexity"]
    assert "250 vs 1,000 tokens" in t.notes[0] and "not comparable across tokenizers" in t.notes[0]
    build_report(tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "5310" not in md.split("## Signatures")[0] and "not comparable across tokenizers" in md
    assert "not comparable across tokenizers" in (tmp_path / "report.html").read_text()
