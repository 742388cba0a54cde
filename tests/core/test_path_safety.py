"""A recipe never writes, removes or reads outside its run folder, whatever its names say.

Every field that becomes a path (stage id, variant name, variant label, recipe name,
output_dir, the sub-path of an `@stage/...` reference, an output file name) is fed a
table of hostile values. The whole temporary tree is snapshotted before and after each
run; only the run folder itself (and the folders above it that hold it) may change, and
a canary folder beside the run folder must survive untouched.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from langadapt.errors import ConfigError, LangadaptError
from langadapt.recipe import load_plan
from langadapt.runner import run_recipe

# Values an attacker or a typo could put where a name is expected. The `canary` ones are
# aimed, for each field, at the canary folders; `<canary>` stands for the outer one's
# absolute path.
HOSTILE = [
    "..", ".", "/", "\\", "a/b", "a\\b", "", " ", "x" * 300, "é" * 130, "a\x00b", "мон",
    ".hidden", "-rf", "a/../../../../../escaped", "/../../../../victim", "../canary",
    "../../canary", "/../../../canary", "canary", "runs/canary", "<canary>", "/tmp", "~", "a b",
    "a:b", "con\n",
]
# Sub-paths of `@split...` that leave the referenced stage's folder.
ESCAPING_REFS = ["/..", "/../..", "/../../../canary/keep.txt", "/a/../../../../text.txt",
                 "/./../split", "//../../..", "/\x00"]
FIELDS = ["stage_id", "variant_name", "variant_label", "recipe_name", "output_dir"]


def _recipe(field: str | None = None, value: str = "ok", ref: str = "/train.txt") -> dict:
    """A two-stage recipe of cheap `text.split` stages, with `value` in one path-forming field."""
    first: dict = {"id": "split", "kind": "text.split", "with": {"inputs": ["./text.txt"], "heldout": 1}}
    second: dict = {"id": "again", "kind": "text.split", "with": {"inputs": ["@split" + ref], "heldout": 1}}
    recipe: dict = {"name": "safe", "output_dir": "runs/safe", "stages": [first, second]}
    if field == "stage_id":
        first["id"] = value
        second["with"]["inputs"] = ["./text.txt"]  # no reference to a stage that may not parse
    elif field == "variant_name":
        first["variants"] = {value: {"heldout": 2}}
    elif field == "variant_label":
        second["variant"] = value
    elif field == "recipe_name":
        recipe["name"] = value
        del recipe["output_dir"]                  # the run folder is runs/<name>
    elif field == "output_dir":
        recipe["output_dir"] = value
    return recipe


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: kind, mode and (for files) content; links are not followed."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISREG(st.st_mode):
                out[str(p)] = ("file", st.st_mode, p.read_bytes())
            else:
                out[str(p)] = ("dir" if stat.S_ISDIR(st.st_mode) else "other", st.st_mode)
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """tmp/work is the working folder (recipe, text); runs go to tmp/work/runs/; the canary
    folder sits beside the run folder, and another one outside the working folder."""
    work = tmp_path / "work"
    (work / "runs" / "canary").mkdir(parents=True)
    (work / "runs" / "canary" / "keep.txt").write_text("canary\n")
    (tmp_path / "canary").mkdir()
    (tmp_path / "canary" / "keep.txt").write_text("canary\n")
    (work / "text.txt").write_text("".join(f"document number {i}\n" for i in range(8)))
    monkeypatch.chdir(work)
    return tmp_path


def _write(sandbox: Path, recipe: dict) -> Path:
    path = sandbox / "work" / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _run(path: Path) -> tuple[Path | None, Exception | None]:
    try:
        plan, _ = run_recipe(path, report=False)
        return plan.root, None
    except LangadaptError as e:
        return None, e


def _assert_only_run_folder_changed(sandbox: Path, before: dict, root: Path | None) -> None:
    after = _snapshot(sandbox)
    changed = {Path(p) for p in set(before) ^ set(after)} | {
        Path(p) for p in set(before) & set(after) if before[p] != after[p] and before[p][0] == "file"}
    for p in changed:
        assert root is not None and (p == root or root in p.parents or p in root.parents), \
            f"{p} changed outside the run folder {root}"
    for canary in (sandbox / "work" / "runs" / "canary", sandbox / "canary"):
        assert sorted(q.name for q in canary.iterdir()) == ["keep.txt"]
        assert (canary / "keep.txt").read_text() == "canary\n"
    assert not Path("/victim").exists() and not Path("/escaped").exists()


def test_a_safe_recipe_runs_in_its_folder(sandbox):
    """The harness itself: a recipe without hostile names runs and changes only its folder."""
    path = _write(sandbox, _recipe())
    before = _snapshot(sandbox)
    root, err = _run(path)
    assert err is None and root == sandbox / "work" / "runs" / "safe"
    assert (root / "stages" / "again" / "train.txt").is_file()
    _assert_only_run_folder_changed(sandbox, before, root)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: ascii(v)[:24])
def test_hostile_names_touch_nothing_outside_the_run_folder(sandbox, field, value):
    value = value.replace("<canary>", str(sandbox / "canary"))
    path = _write(sandbox, _recipe(field, value))
    before = _snapshot(sandbox)
    root, err = _run(path)
    _assert_only_run_folder_changed(sandbox, before, root)
    if value == "canary" and field in ("stage_id", "variant_name", "variant_label"):
        assert err is None  # a plain name: its folder is inside the run folder
        return
    if field == "output_dir" and err is None:
        # Any new folder the user names is allowed (`мон`, `a b`), never one reached by `..`
        # nor an existing folder that is not a run folder.
        assert root.resolve().is_relative_to((sandbox / "work").resolve()) and str(root) not in before
        return
    assert isinstance(err, ConfigError), f"{field}={value!r} was accepted"
    assert str(path) in str(err) and err.key and err.key.split(".")[0] in {"stages", "name", "output_dir"}


@pytest.mark.parametrize("ref", ESCAPING_REFS, ids=ascii)
def test_references_cannot_read_outside_the_stage_folder(sandbox, ref):
    path = _write(sandbox, _recipe(ref=ref))
    before = _snapshot(sandbox)
    root, err = _run(path)
    assert isinstance(err, ConfigError) and str(path) in str(err) and err.key == "stages.again.with"
    _assert_only_run_folder_changed(sandbox, before, root)


@pytest.mark.parametrize("value", [v for v in HOSTILE if v != "canary"], ids=lambda v: ascii(v)[:24])
def test_output_file_names_in_stage_options_are_checked(sandbox, value):
    """`translate`'s `output_name` becomes a file in the stage folder: checked when loading."""
    value = value.replace("<canary>", str(sandbox / "canary"))
    recipe = _recipe()
    recipe["stages"].append({"id": "mt", "kind": "translate", "with": {
        "model": "@split", "input": "./text.txt", "src": "khk_Cyrl", "tgt": "eng_Latn",
        "output_name": "out.txt"}})
    load_plan(_write(sandbox, recipe))
    recipe["stages"][-1]["with"]["output_name"] = value
    path = _write(sandbox, recipe)
    with pytest.raises(ConfigError) as e:
        load_plan(path)
    assert str(path) in str(e.value) and "key 'stages.mt.with.output_name'" in str(e.value)
