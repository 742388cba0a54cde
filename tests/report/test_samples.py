"""The report shows what each speed measurement generated, beside useful and raw bytes/s."""

from __future__ import annotations

import json
from pathlib import Path

from langadapt.report import build_report
from langadapt.report.samples import speed_samples
from langadapt.report.store import load_run
from langadapt.runs import ResultRow, atomic_write_json, write_results

PROMPTS = ["Монгол улсын засгийн", "Улаанбаатар хотод", "Нэг хоёр", "Дөрөв дэх"]


def _stage(root: Path, sid: str, variant: str, texts: list[str], passed: list[bool]) -> list[ResultRow]:
    atomic_write_json(root / "stages" / sid / "DONE.json", {"key": sid, "kind": "eval.speed",
                                                            "variant": variant, "seconds": 2.0})
    recs = [{"prompt": p, "text": t, "bytes": len(t.encode()), "tokens": 8, "seconds": 0.5,
             "lang_share": 1.0 if ok else 0.0, "repeated_trigrams": 0.0, "longest_repeat": 3,
             "judge_bpb": None, "pass": ok, "reasons": [] if ok else ["language"]}
            for p, t, ok in zip(PROMPTS, texts, passed)]
    (root / "stages" / sid / "generations.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    extra = {"kind": "eval.speed", "stage": sid}
    return [ResultRow(metric=m, value=v, n=4, dataset="flores", variant=variant, extra=extra)
            for m, v in (("speed.bytes_per_second", 100.0), ("speed.useful_bytes_per_second", 25.0))]


def test_report_shows_three_samples_per_model_with_scores(tmp_path):
    run = tmp_path / "run"
    rows = _stage(run, "speed.base", "base", [" газар хуралдлаа.", " <b>loop</b>", " цас орж байна.", " x"],
                  [True, False, True, True])
    rows += _stage(run, "speed.fvt", "fvt", [" байна байна", " ёёёё", " гурав", " дөрөв"],
                   [False, False, True, True])
    write_results(run / "results.jsonl", rows)
    groups = speed_samples(load_run(run))
    assert [(g.label, len(g.samples)) for g in groups] == [("base", 3), ("fvt", 3)]
    assert groups[0].samples[1].scores.startswith("fail (language); language share 0.00")
    build_report(run, tmp_path / "out")
    html = (tmp_path / "out/report.html").read_text(encoding="utf-8")
    start = html.index("Generated text samples")
    section = html[start: html.index("<h2>", start)]
    assert section.count("<li>") == 6 and "дөрөв" not in section  # three per model, not four
    assert "<strong>Монгол улсын засгийн</strong> газар хуралдлаа." in section
    assert "&lt;b&gt;loop&lt;/b&gt;" in section and "<b>loop</b>" not in html  # text is escaped
    table = html[:html.index("Generated text samples")]
    assert table.index("speed.bytes_per_second") < table.index("speed.useful_bytes_per_second")
    md = (tmp_path / "out/results.md").read_text(encoding="utf-8")
    assert "### fvt (stage speed.fvt)" in md and "- **Нэг хоёр** гурав" in md


def test_no_speed_stage_no_samples_section(tmp_path):
    run = tmp_path / "run"
    write_results(run / "results.jsonl", [ResultRow(metric="bpb", value=1.0, extra={"kind": "eval.bpb"})])
    build_report(run, tmp_path / "out")
    assert "Generated text samples" not in (tmp_path / "out/report.html").read_text(encoding="utf-8")
