"""Recipe params (`${model}`, `model=` on the command line) and presets (`preset=NAME`)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from langadapt.config import StrictModel
from langadapt.errors import ConfigError
from langadapt.recipe import load_plan
from langadapt.runner import compute_keys
from langadapt.stages import Stage, register_stage


@register_stage
class _Echo(Stage):
    kind = "test.params_echo"

    class Options(StrictModel):
        text: str
        count: int = 0
        rev: str | None = None

    def run(self, opts, ctx):  # pragma: no cover - plans only
        return []


RECIPE = """\
name: params
output_dir: OUT
params:
  model: org/base            # a hub id
  n: 3
  rev: null
preset: null
presets:
  small: {echo.with.count: 1, n: 5}
  big:
    echo.with.count: 100
stages:
  - id: pretrained
    kind: model.load
    with: {model: "${model}", revision: "${rev}"}
  - id: echo
    kind: test.params_echo
    with: {text: "${model}@${n}", count: "${n}", rev: "${rev}"}
"""


def write(tmp_path: Path, body: str = RECIPE) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(body).replace("OUT", str(tmp_path / "run")))
    return p


def echo(plan) -> dict:
    return plan.by_id()["echo"].options


def test_params_fill_options_with_their_type_and_the_command_line_sets_them(tmp_path):
    opts = echo(load_plan(write(tmp_path)))
    assert opts["text"] == "org/base@3" and opts["count"] == 3 and opts["rev"] is None
    opts = echo(load_plan(write(tmp_path), ["model=Qwen/Qwen2.5-7B", "rev=v1.0"]))
    assert opts["text"].startswith("Qwen/Qwen2.5-7B@3") and opts["rev"] == "v1.0"


def test_a_preset_applies_before_the_command_line(tmp_path):
    p = write(tmp_path)
    assert echo(load_plan(p, ["preset=small"]))["count"] == 1
    assert echo(load_plan(p, ["preset=small"]))["text"].startswith("org/base@5")  # a preset sets params
    assert echo(load_plan(p, ["preset=small", "echo.with.count=7", "n=9"]))["count"] == 7
    assert echo(load_plan(p, ["echo.with.count=7", "preset=big"]))["count"] == 7
    assert echo(load_plan(write(tmp_path, RECIPE.replace("preset: null", "preset: big"))))["count"] == 100


def test_several_presets_apply_in_order(tmp_path):
    p = write(tmp_path)
    opts = echo(load_plan(p, ["preset=[small,big]"]))
    assert opts["count"] == 100 and opts["text"].startswith("org/base@5")  # big's count, small's n
    assert echo(load_plan(p, ["preset=[big,small]"]))["count"] == 1
    with pytest.raises(ConfigError, match="unknown preset 'tiny'"):
        load_plan(p, ["preset=[small,tiny]"])


def test_a_preset_file(tmp_path):
    (tmp_path / "mine.yaml").write_text("echo.with.count: 42\nmodel: org/other\n")
    opts = echo(load_plan(write(tmp_path), [f"preset={tmp_path / 'mine.yaml'}"]))
    assert opts["count"] == 42 and opts["text"].startswith("org/other@3")


@pytest.mark.parametrize("edit, overrides, needle", [
    (None, ["preset=huge"], "command line: key 'preset': unknown preset 'huge' (known: small, big; "
                            "or a .yaml file of overrides)"),
    (("preset: null", "preset: huge"), [],
     "r.yaml:7: key 'preset': unknown preset 'huge' (known: small, big"),
    (("{echo.with.count: 1, n: 5}", "{ecco.with.count: 1}"), ["preset=small"],
     "r.yaml:9: preset 'small': key 'ecco.with.count': 'ecco' is neither a stage id (pretrained, echo)"),
    (("  rev: null", "  rev: null\n  echo: 1"), [],
     "r.yaml:7: key 'params.echo': 'echo' is also a stage id or recipe key"),
    (("  rev: null", "  data: x"), [], "key 'params.data': 'data' is the name of a built-in placeholder"),
    (None, ["nope=1"], "nor a param (model, n, rev)"),
])
def test_mistakes_are_one_located_line(tmp_path, edit, overrides, needle):
    body = RECIPE.replace(*edit) if edit else RECIPE
    with pytest.raises(ConfigError) as e:
        load_plan(write(tmp_path, body), overrides)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_hub_model_is_keyed_by_name_and_revision_a_local_one_by_content(tmp_path):
    p = write(tmp_path)

    def key(*overrides: str) -> str:
        return compute_keys(load_plan(p, [*overrides, "echo.with.text=x"]))["pretrained"]

    assert key() == key() != key("rev=v1.0") != key("model=org/other")
    folder = tmp_path / "local-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    before = key(f"model={folder}")
    assert key(f"model={folder}") == before
    (folder / "config.json").write_text('{"changed": 1}')
    assert key(f"model={folder}") != before
