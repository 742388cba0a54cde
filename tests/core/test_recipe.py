"""Recipe schema, variants, references, located errors, cache keys and resume."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from langadapt.config import StrictModel
from langadapt.errors import ConfigError, DataError
from langadapt.recipe import deep_merge, find_refs, input_paths, load_plan
from langadapt.runner import compute_keys, execute, plan_status, run_recipe
from langadapt.runs import ResultRow
from langadapt.stages import Stage, register_stage

CALLS: list[str] = []


@register_stage
class _Write(Stage):
    kind = "test.write"

    class Options(StrictModel):
        text: str
        fail: bool = False

    def run(self, opts, ctx):
        CALLS.append(ctx.stage_id)
        (ctx.out_dir / "out.txt").write_text(opts.text)
        if opts.fail:
            raise RuntimeError("boom")
        return [ResultRow(metric="len", value=len(opts.text))]


@register_stage
class _Read(Stage):
    kind = "test.read"

    class Options(StrictModel):
        src: str
        scale: float = 1.0
        more: list[str] = []

    def run(self, opts, ctx):
        CALLS.append(ctx.stage_id)
        n = len(Path(opts.src).read_text())
        return [ResultRow(metric="score", value=n * opts.scale, dataset="toy", model=str(ctx.out_dir))]


def write(tmp_path: Path, body: str, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body).replace("OUT", str(tmp_path / "run")))
    return p


RECIPE = """\
name: toy
seed: 3
output_dir: OUT
stages:
  - id: make
    kind: test.write
    with: {text: hello}
    variants:
      a: {text: aa}
      b: {text: bbbb}
  - id: read
    kind: test.read
    with:
      src: "@make/out.txt"
  - id: pinned
    kind: test.read
    with: {src: "@make.b/out.txt", scale: 2}
"""

LABELLED = RECIPE + """\
  - id: labelled
    kind: test.write
    with: {text: "x=@make.a/out.txt"}
"""


def test_variants_fan_out_and_references(tmp_path):
    plan = load_plan(write(tmp_path, RECIPE))
    assert [(s.id, s.variant) for s in plan.stages] == [
        ("make.a", "a"), ("make.b", "b"), ("read.a", "a"), ("read.b", "b"), ("pinned.b", "b")]
    read_b = plan.by_id()["read.b"]
    assert read_b.options["src"] == str(plan.root / "stages" / "make.b" / "out.txt")
    assert read_b.deps == ["make.b"]


def test_only_the_variant_that_refers_fans_out(tmp_path):
    body = RECIPE + """\
  - id: mixed
    kind: test.read
    with: {src: "@pinned/x"}
    variants:
      own: {}
      per: {src: "@make/out.txt"}
"""
    plan = load_plan(write(tmp_path, body))
    # `own` refers to pinned (make.b's) only; `per` replaces src, so it refers to make only
    assert [s.id for s in plan.stages if s.spec == "mixed"] == ["mixed.b.own", "mixed.a.per", "mixed.b.per"]


def test_references_to_related_variants_stay_consistent(tmp_path):
    body = RECIPE + """\
  - id: both
    kind: test.read
    with: {src: "@make/out.txt", more: ["@read"]}
"""
    plan = load_plan(write(tmp_path, body))
    both = [s for s in plan.stages if s.spec == "both"]
    assert [(s.id, s.deps) for s in both] == [("both.a", ["make.a", "read.a"]),
                                              ("both.b", ["make.b", "read.b"])]


def test_labelled_reference_keeps_its_label(tmp_path):
    plan = load_plan(write(tmp_path, LABELLED))
    inst = plan.by_id()["labelled.a"]
    assert inst.options["text"] == "x=" + str(plan.root / "stages/make.a/out.txt")


@pytest.mark.parametrize("obj, refs", [
    ({"a": "@x", "b": ["@y/p/q", "plain"], "c": {"d": "@x.v"}}, [("x", None), ("y", None), ("x", "v")]),
    ({"a": "email@host", "b": "@", "c": "name=@x/tok"}, [("x", None)]),
])
def test_find_refs(obj, refs):
    assert find_refs(obj) == refs


def test_deep_merge():
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"c": 3}, "d": [1]}) == \
        {"a": {"b": 1, "c": 3}, "d": [1]}


@pytest.mark.parametrize("body, line, key", [
    ("name: t\nstages:\n  - id: s\n    kind: test.write\n    with: {text: x, txet: y}\n", 5,
     "stages.s.with.txet"),
    ("name: t\nstages:\n  - id: s\n    kind: test.write\n    with:\n      text: x\n      colour: 1\n", 7,
     "stages.s.with.colour"),
    ("name: t\nstages: []\nstges: []\n", 3, "stges"),
    ("name: t\nstages:\n  - id: s\n    kind: test.nope\n", 4, "stages.s.kind"),
    ("name: t\nstages:\n  - id: s\n    kind: test.read\n    with: {src: '@missing/x'}\n", 5, "stages.s"),
    ("name: t\nstages:\n  - id: s\n    kind: test.write\n    with: {text: x}\n    variants:\n"
     "      v: {text: y, bad: 2}\n", 7, "stages.s.variants.v.bad"),
    ("name: t\nseed: 1\nseed: 2\nstages: []\n", 3, "seed"),
])
def test_errors_are_located(tmp_path, body, line, key):
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_plan(p)
    assert f"{p}:{line}:" in str(e.value) and f"'{key}'" in str(e.value)


def test_missing_input_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGADAPT_DATA", str(tmp_path))
    p = write(tmp_path, "name: t\nstages:\n  - id: s\n    kind: test.read\n"
                        "    with: {src: '${data}/nope.txt'}\n")
    with pytest.raises(DataError, match="nope.txt"):
        load_plan(p)


def test_labelled_input_paths_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGADAPT_DATA", str(tmp_path))
    (tmp_path / "here.txt").write_text("x")
    ok = write(tmp_path, "name: t\nstages:\n  - id: s\n    kind: test.write\n"
                         "    with: {text: 'x=${data}/here.txt'}\n")
    assert input_paths(load_plan(ok).stages[0]) == [tmp_path / "here.txt"]
    bad = write(tmp_path, "name: t\nstages:\n  - id: s\n    kind: test.write\n"
                          "    with: {text: 'x=${data}/gone.txt'}\n", name="bad.yaml")
    with pytest.raises(DataError, match="gone.txt"):
        load_plan(bad)


def test_overrides_by_stage_id(tmp_path):
    plan = load_plan(write(tmp_path, RECIPE), ["make.variants.a.text=zzz", "seed=9", "pinned.with.scale=5"])
    assert plan.recipe.seed == 9
    assert plan.by_id()["make.a"].options["text"] == "zzz"
    assert plan.by_id()["pinned.b"].options["scale"] == 5


def test_run_caches_resumes_and_forces(tmp_path):
    path = write(tmp_path, RECIPE)
    CALLS.clear()
    _, st = run_recipe(path, dry_run=True)
    assert [s.status for s in st] == ["run"] * 5 and not (tmp_path / "run").exists() and CALLS == []
    plan, st = run_recipe(path, report=False)
    assert [s.status for s in st] == ["ran"] * 5 and len(CALLS) == 5
    rows = [json.loads(x) for x in (plan.root / "results.jsonl").read_text().splitlines()]
    assert {(r["extra"]["stage"], r["metric"], r["value"]) for r in rows} >= {
        ("make.a", "len", 2), ("read.b", "score", 4), ("pinned.b", "score", 8)}
    assert all(r["signature"]["seed"] == 3 for r in rows)
    assert {r["model"] for r in rows if r["extra"]["stage"] == "read.a"} == {str(plan.root / "stages/read.a")}
    assert (plan.root / "recipe.resolved.yaml").is_file()
    CALLS.clear()
    _, st = run_recipe(path, report=False)
    assert CALLS == [] and {s.status for s in st} == {"cached"}
    # Changing one variant re-runs it and what depends on it, nothing else.
    _, st = run_recipe(path, ["make.variants.a.text=aaa"], report=False)
    assert CALLS == ["make.a", "read.a"]
    CALLS.clear()
    _, st = run_recipe(path, ["make.variants.a.text=aaa"], force=["read"], report=False)
    assert CALLS == ["read.a", "read.b"]
    assert [s.status for s in plan_status(load_plan(path))].count("run") == 2


def test_failed_stage_leaves_no_folder_and_resumes(tmp_path):
    path = write(tmp_path, RECIPE)
    plan = load_plan(path, ["make.variants.b.fail=true"])
    CALLS.clear()
    with pytest.raises(RuntimeError):
        execute(plan, report=False)
    stages = plan.root / "stages"
    assert sorted(p.name for p in stages.iterdir()) == ["make.a"]
    CALLS.clear()
    execute(load_plan(path), report=False)
    assert CALLS == ["make.b", "read.a", "read.b", "pinned.b"]


def test_key_depends_on_input_content(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("one")
    path = write(tmp_path, f"name: t\nstages:\n  - id: s\n    kind: test.read\n    with: {{src: '{src}'}}\n")
    k1 = compute_keys(load_plan(path))
    src.write_text("two")
    assert compute_keys(load_plan(path)) != k1


def test_a_new_langadapt_version_recomputes_and_records_itself(tmp_path, monkeypatch):
    import langadapt

    path = write(tmp_path, RECIPE)
    CALLS.clear()
    plan, _ = run_recipe(path, report=False)
    done = json.loads((plan.root / "stages" / "make.a" / "DONE.json").read_text())
    assert done["langadapt"] == langadapt.__version__
    rows = [json.loads(x) for x in (plan.root / "results.jsonl").read_text().splitlines()]
    assert {r["signature"]["tools"]["langadapt"] for r in rows} == {langadapt.__version__}
    CALLS.clear()
    run_recipe(path, report=False)
    assert CALLS == []  # same version, same inputs: reused
    monkeypatch.setattr(langadapt, "__version__", "99.0.0")
    _, st = run_recipe(path, report=False)
    assert {s.status for s in st} == {"ran"} and len(CALLS) == 5  # nothing computed by 0.x reused
    done = json.loads((plan.root / "stages" / "make.a" / "DONE.json").read_text())
    assert done["langadapt"] == "99.0.0"


# ---------------------------------------------------------------- names that become paths
SAFE = """\
name: toy
output_dir: OUT
stages:
  - id: make
    kind: test.write
    with: {text: hello}
    variants:
      a: {text: aa}
  - id: read
    kind: test.read
    with: {src: "@make/out.txt"}
"""


@pytest.mark.parametrize("edit, key", [
    (("      a: {text: aa}", "      '/../../../victim': {text: aa}"), "stages.make.variants"),
    (("      a: {text: aa}", "      'a/../../../../../escaped': {text: aa}"), "stages.make.variants"),
    (("      a: {text: aa}", "      '.hidden': {text: aa}"), "stages.make.variants"),
    (("  - id: read\n", "  - id: read\n    variant: ../up\n"), "stages.1.variant"),
    (("@make/out.txt", "@make/../../../victim/out.txt"), "stages.read.with"),
    (("name: toy", "name: '..'"), "name"),
    (("output_dir: OUT", "output_dir: OUT/../victim"), "output_dir"),
])
def test_names_that_would_leave_the_run_folder_are_refused(tmp_path, edit, key):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    p = write(tmp_path, SAFE.replace(*edit))
    with pytest.raises(ConfigError) as e:
        run_recipe(p, report=False)
    assert str(p) in str(e.value) and f"key '{key}'" in str(e.value)
    assert [q.name for q in victim.iterdir()] == ["keep.txt"] and (victim / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "run").exists()


def test_an_existing_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("not a run")
    p = write(tmp_path, SAFE)
    with pytest.raises(ConfigError, match="not a langadapt run folder") as e:
        load_plan(p)
    assert "key 'output_dir'" in str(e.value)
    (tmp_path / "run" / "notes.txt").unlink()  # an empty folder is fine, and so is a run folder
    run_recipe(p, report=False)
    assert load_plan(p).root == tmp_path / "run"


def test_references_may_go_down_and_back_inside_their_stage(tmp_path):
    plan = load_plan(write(tmp_path, SAFE.replace("@make/out.txt", "@make/sub/../out.txt")))
    assert plan.by_id()["read.a"].options["src"].startswith(str(plan.root / "stages" / "make.a"))


@pytest.mark.parametrize("override, needle", [
    ("stages.9.with.heldout=1", "key 'stages.9.with.heldout': the recipe has 5 stages (indexes 0 to 4)"),
    ("stages.nope.with.x=1", "key 'stages.nope.with.x': no stage 'nope' (stage ids: make, read, pinned, "),
    ("nope.with.x=1", "key 'nope.with.x': 'nope' is neither a stage id (make, read, pinned, labelled, last) "
                      "nor a recipe key (name, seed, seeds, output_dir, imports, params, preset, "
                      "presets, stages)"),
    ("read.with.src.x=1", "key 'stages.1.with.src.x': 'stages.1.with.src' is a value ('@make/out.txt'), "
                          "not a mapping or list, so it has no 'x' "
                          "(the override as written: 'read.with.src.x')"),
])
def test_override_errors_name_the_key(tmp_path, override, needle):
    p = write(tmp_path, LABELLED + "  - id: last\n    kind: test.write\n    with: {text: x}\n")
    with pytest.raises(ConfigError) as e:
        load_plan(p, [override])
    assert str(e.value).startswith("command line: ") and needle in str(e.value), str(e.value)
