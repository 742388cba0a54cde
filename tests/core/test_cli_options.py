"""Command-line flags that stand for an options field take their default and help from it.

An options model (the same one the API and the recipe stage validate) is the one place a
default lives; `langadapt.cli.fields.add_option_args` derives the flags. These tests walk
the whole parser, so a flag typed by hand beside its field, or a help text that restates
a default the field no longer has, fails here.
"""

from __future__ import annotations

import argparse

import pytest

from langadapt.cli import build_parser
from langadapt.cli.fields import field_kwargs
from langadapt.cli.translate import SERVER_FLAGS
from langadapt.data.options import BitextOptions, CleanOptions, ClusterOptions, NormalizeOptions
from langadapt.gen.options import ServerOptions
from langadapt.models.gguf_export import ExportOptions
from langadapt.models.tiny_options import TinyOptions
from langadapt.tokenizer.options import ExtendOptions

# command -> (model, fields that are not flags of that command)
DERIVED = {
    ("data", "clean"): [(CleanOptions, {"inputs", "normalize", "cluster"}), (ClusterOptions, {"sbatch_args"}),
                        (NormalizeOptions, {"mojibake", "nfc", "markup", "control", "homoglyphs",
                                            "whitespace"})],
    ("data", "bitext"): [(BitextOptions, {"inputs", "normalize"}),
                         (NormalizeOptions, {"mojibake", "nfc", "markup", "control", "homoglyphs",
                                             "whitespace"})],
    ("model", "tiny"): [(TinyOptions, set())],
    ("model", "export"): [(ExportOptions, {"model"})],
    ("tokenizer", "extend"): [(ExtendOptions, set())],
    ("translate",): [(ServerOptions, set(ServerOptions.model_fields) - set(SERVER_FLAGS))],
    ("eval", "flores"): [(ServerOptions, set(ServerOptions.model_fields) - set(SERVER_FLAGS))],
}


# Flags whose help or requirement differs from their field on purpose, and why.
EXEMPT = {
    "eval layers --ablate": "absent, the logit lens runs: the field's default list is the stage's",
    "translate --base-url": "required with --backend openai only",
    "eval flores --base-url": "required with --backend openai only",
    "translate --model": "the model to load, or with --backend openai the server's model name",
}


def _commands(parser: argparse.ArgumentParser, path: tuple = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def _shown(default) -> str:
    return " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


def _derived(parser):
    return [a for a in parser._actions if hasattr(a, "option_field")]


def test_every_derived_flag_takes_default_and_help_from_its_field():
    """Default left to the field; help = the field's description and default, then any note."""
    bad = []
    for path, parser in COMMANDS.items():
        for action in _derived(parser):
            model, name = action.option_field
            info = model.model_fields[name]
            where = f"{' '.join(path)} {action.option_strings[0]}"
            if action.default is not argparse.SUPPRESS:
                bad.append(f"{where}: default {action.default!r} set on the flag, not left to the field")
            if where in EXEMPT:
                continue
            want = (field_kwargs(name, info)["help"] or "").replace("%%", "%")
            help_text = (action.help or "").replace("%%", "%")
            if not help_text.startswith(want):
                bad.append(f"{where}: help {help_text!r} does not start with the field's {want!r}")
            if info.description and info.description not in want:
                bad.append(f"{where}: the derived help lost the description of {model.__name__}.{name}")
            default = info.get_default(call_default_factory=True)
            if not info.is_required() and default not in (None, [], ()) and f"(default: {_shown(default)})" \
                    not in want:
                bad.append(f"{where}: the derived help does not show the default {default!r}")
            if info.is_required() and not action.required:
                bad.append(f"{where}: {model.__name__}.{name} is required, the flag is not")
    assert not bad, "\n".join(bad)


def test_no_flag_is_typed_by_hand_beside_the_field_it_stands_for():
    """A command that derives flags from a model has no hand-made flag for another field of it."""
    bad = []
    for path, parser in COMMANDS.items():
        models = {a.option_field[0] for a in _derived(parser)}
        fields = {name for m in models for name in m.model_fields}
        for action in parser._actions:
            where = f"{' '.join(path)} {action.option_strings[0]}" if action.option_strings else None
            hand_made = where and not hasattr(action, "option_field") and action.dest in fields
            if hand_made and where not in EXEMPT:
                bad.append(where)
    assert not bad, f"flags typed by hand beside the options field they stand for: {bad}"


@pytest.mark.parametrize("path", list(DERIVED), ids=" ".join)
def test_the_commands_flags_come_from_their_options_models(path):
    derived = {a.option_field for a in _derived(COMMANDS[path])}
    for model, skipped in DERIVED[path]:
        missing = [n for n in model.model_fields if n not in skipped and (model, n) not in derived]
        assert not missing, f"{' '.join(path)}: fields of {model.__name__} without a derived flag: {missing}"


def test_data_clean_flags_build_the_options(tmp_path):
    from langadapt.cli.data import _options

    parser = build_parser()
    args = parser.parse_args(["data", "clean", "in.txt", "--out", str(tmp_path), "--no-quality", "--langid",
                              "none", "--urls", "mask", "--no-normalize", "nfc", "--time", "01:00:00"])
    opts = _options(CleanOptions, args, cluster=ClusterOptions(time=args.time))
    assert opts.inputs == ["in.txt"] and not opts.quality and opts.langid is None
    assert opts.normalize == NormalizeOptions(urls="mask", nfc=False) and opts.cluster.time == "01:00:00"
    defaults = _options(CleanOptions, parser.parse_args(["data", "clean", "in.txt", "--out", "o"]))
    assert defaults == CleanOptions(inputs=["in.txt"])  # no flag given: the model's defaults, all of them


def test_one_default_for_api_stage_and_flag():
    """The library functions, the recipe stages and the flags agree (they once drifted apart)."""
    import inspect

    from langadapt.models.tiny import make_tiny
    from langadapt.stages import get_stage
    from langadapt.tokenizer.extend import extend, write_extension
    from langadapt.tokenizer.sweep import sweep

    check_lines = ExtendOptions.model_fields["check_lines"].default
    for fn in (extend, write_extension, sweep):
        assert inspect.signature(fn).parameters["check_lines"].default == check_lines, fn.__name__
    assert inspect.signature(extend).parameters["min_count"].default == ExtendOptions().min_count
    for kind in ("tokenizer.extend", "tokenizer.sweep"):
        assert get_stage(kind).Options.model_fields["check_lines"].default == check_lines, kind
    assert get_stage("model.tiny").Options is TinyOptions
    assert set(inspect.signature(make_tiny).parameters) == {"arch", "tokenizer", "out", "lang_codes",
                                                            "options"}  # sizes: TinyOptions' fields
    assert get_stage("data.clean").Options is CleanOptions
    assert get_stage("data.bitext").Options is BitextOptions
