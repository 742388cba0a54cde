"""A recipe's input files are keyed by content, a bare relative file name as much as a path."""

from __future__ import annotations

from langadapt.config import StrictModel
from langadapt.recipe import input_paths, load_plan
from langadapt.runner import compute_keys
from langadapt.stages import STAGES, Stage, register_stage

if "test.bare_input" not in STAGES:
    @register_stage
    class _Read(Stage):
        kind = "test.bare_input"

        class Options(StrictModel):
            text: str
            objective: str = "cpt"

        def run(self, opts, ctx):
            return []


def test_a_bare_file_name_is_hashed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("one\n", encoding="utf-8")
    (tmp_path / "cpt").mkdir()   # a folder named like an option value is not an input
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: t\noutput_dir: {tmp_path / 'run'}\nstages:\n  - id: s\n"
                      "    kind: test.bare_input\n    with: {text: corpus.txt, objective: cpt}\n",
                      encoding="utf-8")
    plan = load_plan(recipe)
    assert [p.resolve() for p in input_paths(plan.stages[0])] == [tmp_path.resolve() / "corpus.txt"]
    before = compute_keys(plan)
    (tmp_path / "corpus.txt").write_text("two\n", encoding="utf-8")
    assert compute_keys(load_plan(recipe)) != before   # a changed corpus is a new key
