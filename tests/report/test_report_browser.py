"""The report in a real browser: Chromium at 1280×900 (skips when chromium is not installed)."""

from __future__ import annotations

from headless_chromium import check_report
from test_report import make_run

from langadapt.report import build_report
from langadapt.runs import ResultRow, read_results, write_results


def test_report_reads_in_a_1280px_window(tmp_path):
    root = make_run(tmp_path / "run")
    # long unbroken labels and many wide columns: the table must wrap, not widen the page
    rows = read_results(root / "results.jsonl")
    rows += [ResultRow(metric=f"metric_with_a_long_name_{i}", value=123456.789 * (i + 1), ci=[1.0, 2.0e6],
                       model="/a/very/long/path/to/a/model/folder/that/never/breaks/" + "x" * 60,
                       extra={"kind": "tokenizer.stats", "stage": "tok"}) for i in range(9)]
    write_results(root / "results.jsonl", rows)
    build_report(root)
    page = check_report(root / "report.html")
    assert (root / "report.screenshot.png").stat().st_size > 1000
    first = min(page.images, key=lambda i: i["top"])
    assert first["alt"].startswith("Held-out bits per byte")
