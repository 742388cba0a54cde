"""The one registry class: duplicates, unknown names, lazily imported modules."""

from __future__ import annotations

import logging
import sys

import pytest

from langadapt.errors import ConfigError
from langadapt.registry import Registry, import_optional


def _one():
    return 1


def _two():
    return 2


def test_duplicates_are_refused_unless_the_same_object():
    reg: Registry = Registry("widget")
    reg.add("a", _one)
    assert reg.add("a", _one) is _one  # the same object again (a module imported twice) is fine
    with pytest.raises(ValueError, match=r"widget 'a' is registered twice .*_one.*_two"):
        reg.add("a", _two)
    assert reg.get("a") is _one


def test_unknown_name_lists_the_known_ones():
    reg: Registry = Registry("widget", key="widget")
    reg.register("b")(_two)
    reg.register("a")(_one)
    with pytest.raises(ConfigError, match=r"key 'widget': unknown widget 'c'; known: a, b"):
        reg.get("c")
    assert reg.names() == ["b", "a"] and "a" in reg and len(reg) == 2 and set(reg) == {"a", "b"}
    assert reg.remove("a") is _one and "a" not in reg


def test_modules_are_imported_on_first_lookup(tmp_path, monkeypatch):
    (tmp_path / "reg_plugin_ok.py").write_text(
        "from tests_registry_target import REG\nREG.add('plugged', 42)\n")
    (tmp_path / "tests_registry_target.py").write_text(
        "from langadapt.registry import Registry\nREG = Registry('thing', modules=('reg_plugin_ok',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import tests_registry_target as target

    assert "reg_plugin_ok" not in sys.modules
    assert target.REG.get("plugged") == 42
    assert "reg_plugin_ok" in sys.modules


def test_a_misspelt_module_raises_instead_of_vanishing():
    reg: Registry = Registry("stage kind", modules=("langadapt.stages.nonexistent",))
    with pytest.raises(ModuleNotFoundError, match="langadapt.stages.nonexistent"):
        reg.names()


def test_a_missing_required_library_raises(tmp_path, monkeypatch):
    (tmp_path / "needs_required.py").write_text("import surely_not_a_real_library_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="surely_not_a_real_library_xyz"):
        import_optional("needs_required")


def test_a_missing_optional_dependency_is_skipped_and_named(tmp_path, monkeypatch, caplog):
    (tmp_path / "needs_optional.py").write_text("import lingua.not_there_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "lingua", None)  # as if lingua were not installed
    with caplog.at_level(logging.WARNING, logger="langadapt.registry"):
        assert import_optional("needs_optional") is None
    assert "needs_optional" in caplog.text and "'lingua" in caplog.text and "langadapt[langid]" in caplog.text


def test_the_package_registries_are_registry_instances():
    from langadapt.data.langid import BACKENDS
    from langadapt.models.families import FAMILIES
    from langadapt.models.init import METHODS
    from langadapt.report.plots import PLOTS
    from langadapt.stages import STAGES

    for reg in (STAGES, METHODS, FAMILIES, BACKENDS, PLOTS):
        assert isinstance(reg, Registry) and len(reg) > 0
    assert {"bpb", "train_loss"} <= set(PLOTS)  # plots of every PLOT_MODULES module are loaded
    assert "eval.bpb" in STAGES and "model.resize" in STAGES
