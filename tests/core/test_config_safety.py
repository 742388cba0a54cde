"""Config files that would hang, crash or mislead: alias bombs, bad encodings, folders, seeds,
and control characters in the CLI's one-line errors."""

from __future__ import annotations

import time

import pytest
import yaml

from langadapt.cli import main
from langadapt.config import read_yaml
from langadapt.errors import ConfigError, LangadaptError
from langadapt.recipe import load_plan


def _alias_bomb(levels: int = 9) -> str:
    """Each level lists the previous one nine times: 9**levels values from a few hundred bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly_naming_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(), encoding="utf-8")
    assert path.stat().st_size < 600
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml: YAML aliases expand to more than") as e:
        read_yaml(path)
    assert time.perf_counter() - t0 < 2.0
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("argv", [["run", "--dry-run", "{path}"],
                                  ["train", "cpt", "{path}", "--dry-run"]])
def test_yaml_alias_bomb_in_recipe_and_config_is_one_line_exit_2(tmp_path, capsys, argv):
    path = tmp_path / "bomb.yaml"
    path.write_text("name: x\n" + _alias_bomb(), encoding="utf-8")
    assert main([a.format(path=path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bomb.yaml" in err[0] and "aliases" in err[0]


def test_yaml_alias_bomb_in_a_language_profile_is_refused(tmp_path):
    from langadapt.languages import load_profile

    path = tmp_path / "xx_Latn.yaml"
    path.write_text(_alias_bomb(), encoding="utf-8")
    with pytest.raises(ConfigError, match="aliases"):
        load_profile(str(path))


def test_recursive_yaml_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"loop\.yaml:1: .*recursive alias"):
        read_yaml(path)


def test_ordinary_aliases_and_merge_keys_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {x: 1, y: [1, 2]}\nother: *b\nm:\n  <<: *b\n  z: 3\n", encoding="utf-8")
    data, lines = read_yaml(path)
    assert data == yaml.safe_load(path.read_text(encoding="utf-8"))
    assert lines[("m", "z")] == 5


@pytest.mark.parametrize("argv", [["run", "--dry-run", "{path}"],
                                  ["train", "cpt", "{path}", "--dry-run"]])
def test_non_utf8_recipe_and_config_are_one_line_exit_2(tmp_path, capsys, argv):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    assert main([a.format(path=path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "latin1.yaml:1: not UTF-8 text (byte 0xe9" in err[0]


def test_recipe_path_that_is_a_folder_says_so(tmp_path, capsys):
    folder = tmp_path / "recipe.yaml"
    folder.mkdir()
    assert main(["run", "--dry-run", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("recipe.yaml: is a folder, not a YAML file (name the .yaml file inside it)")


@pytest.mark.parametrize("seed, ok", [(0, True), (2**32 - 1, True), (2**32, False), (-1, False)])
def test_recipe_seed_beyond_what_the_generators_take_is_refused(tmp_path, seed, ok):
    path = tmp_path / "r.yaml"
    path.write_text(f"name: r\nseed: {seed}\nstages: []\n", encoding="utf-8")
    if ok:
        load_plan(path)
    else:
        with pytest.raises(ConfigError, match=r"r\.yaml:2: key 'seed'"):
            load_plan(path)


def test_printable_escapes_control_characters():
    from langadapt.errors import printable

    assert printable("a\nb\x1b[31mc\u202ed\u00e9\t") == "a\\nb\\x1b[31mc\\u202ed\u00e9\\t"


def test_cli_error_printer_escapes_control_characters(monkeypatch, capsys):
    import langadapt.cli as cli

    def boom(args):
        raise LangadaptError("model name '\x1b]0;pwned\x07evil\nsecond line'")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=boom)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err == "langadapt: error: model name '\\x1b]0;pwned\\x07evil\\nsecond line'\n"
