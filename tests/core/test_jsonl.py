"""JSON Lines are written one way: `runs.jsonl_text` / `runs.atomic_write_jsonl`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import langadapt
from langadapt.runs import ResultRow, atomic_write_jsonl, jsonl_text, read_results, write_results


def test_jsonl_text_writes_dicts_and_result_rows(tmp_path):
    row = ResultRow(metric="bpb", value=1.5, model="m")
    text = jsonl_text([{"text": "Сайн"}, row])
    first, second = text.splitlines()
    assert text.endswith("\n") and first == '{"text": "Сайн"}'          # UTF-8 kept, not \u escapes
    assert ResultRow.model_validate_json(second) == row
    assert jsonl_text([]) == ""
    assert [json.loads(x) for x in atomic_write_jsonl(tmp_path / "a.jsonl", ({"i": i} for i in range(3)))
            .read_text(encoding="utf-8").splitlines()] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert read_results(write_results(tmp_path / "r.jsonl", [row, row])) == [row, row]


def test_no_module_joins_json_lines_by_hand():
    src = Path(langadapt.__file__).parent
    by_hand = re.compile(r'"".join\((json\.dumps\(|\w+\.to_json\(\))')
    found = [str(p.relative_to(src)) for p in src.rglob("*.py")
             if p.name != "runs.py" and by_hand.search(p.read_text(encoding="utf-8"))]
    assert not found, f"use langadapt.runs.jsonl_text / atomic_write_jsonl: {found}"
