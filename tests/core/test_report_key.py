"""The run's report is rebuilt when what it reads changed, by content, not by time stamps."""

from __future__ import annotations

import os

from langadapt.runner import REPORT_KEY, report_inputs_key, report_is_current


def test_report_is_current_by_content(tmp_path):
    (tmp_path / "stages" / "a").mkdir(parents=True)
    (tmp_path / "stages" / "a" / "DONE.json").write_text('{"key": "k"}', encoding="utf-8")
    results = tmp_path / "results.jsonl"
    results.write_text('{"metric": "bpb"}\n', encoding="utf-8")
    (tmp_path / "recipe.resolved.yaml").write_text("seed: 0\n", encoding="utf-8")
    (tmp_path / "report.html").write_text("<html></html>", encoding="utf-8")
    assert not report_is_current(tmp_path)                         # no key: never built by the runner
    (tmp_path / REPORT_KEY).write_text(report_inputs_key(tmp_path), encoding="utf-8")
    assert report_is_current(tmp_path)
    os.utime(results, ns=(results.stat().st_mtime_ns + 10**10,) * 2)  # touched, or copied: same content
    assert report_is_current(tmp_path)
    results.write_text('{"metric": "bpb", "value": 1}\n', encoding="utf-8")
    assert not report_is_current(tmp_path)                         # a new result
    (tmp_path / REPORT_KEY).write_text(report_inputs_key(tmp_path), encoding="utf-8")
    (tmp_path / "stages" / "b").mkdir()
    (tmp_path / "stages" / "b" / "DONE.json").write_text("{}", encoding="utf-8")
    assert not report_is_current(tmp_path)                         # a finished stage
