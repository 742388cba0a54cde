"""Options declared once: the recipe stage validates the evaluator's own model, the CLI's
flags are generated from it, and every default is the model's."""

from __future__ import annotations

import argparse

import pytest

from langadapt.cli import build_parser
from langadapt.config import validate
from langadapt.errors import ConfigError
from langadapt.eval.options import (
    AblationOptions,
    BpbOptions,
    ChoiceOptions,
    EvalInputs,
    LayerInputs,
    LensOptions,
    MorphOptions,
    SpeedOptions,
)
from langadapt.eval.translation import FloresOptions
from langadapt.stages import get_stage

# (stage kind, the evaluator's options model, CLI subcommand, the least a call needs)
CASES = [
    ("eval.bpb", BpbOptions, "bpb", {"model": "m", "text": ["t.txt"]}),
    ("eval.choice", ChoiceOptions, "choice", {"model": "m", "task": "mmeval_khk"}),
    ("eval.morph", MorphOptions, "morph", {"hyp": "h.txt", "ref": "r.txt"}),
    ("eval.speed", SpeedOptions, "speed", {"model": "m", "text": ["t.txt"]}),
    ("eval.flores", FloresOptions, "flores", {"hyp": "h.txt", "src": "khk_Cyrl", "tgt": "eng_Latn"}),
    ("eval.lens", LensOptions, "layers", {"model": "m", "text": "t.txt"}),
    ("eval.ablation", AblationOptions, "layers", {"model": "m"}),
]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    group = next(a for a in parser._subparsers._group_actions if "eval" in a.choices).choices["eval"]
    return next(a for a in group._subparsers._group_actions).choices[name]


def _flags(required: dict) -> list[str]:
    out = []
    for key, value in required.items():
        out += [f"--{key.replace('_', '-')}", *(value if isinstance(value, list) else [value])]
    return out


@pytest.mark.parametrize("kind, model, cmd, required", CASES)
def test_the_stage_validates_the_evaluators_own_model(kind, model, cmd, required):
    assert get_stage(kind).Options is model


@pytest.mark.parametrize("kind, model, cmd, required", CASES)
def test_every_default_is_the_same_in_cli_api_and_stage(kind, model, cmd, required):
    from langadapt.cli.fields import options_from_args

    sub = _subparser(cmd)
    args = sub.parse_args(_flags(required))
    # what each command does itself: flores takes --seed from its generation flags, and
    # choice and speed run one set of options per --task / --model
    update = {"flores": lambda: {"seed": args.seed} if hasattr(args, "seed") else {},
              "choice": lambda: {"task": args.task[0]},
              "speed": lambda: {"model": args.model[0]}}.get(cmd, dict)()
    if model is AblationOptions:  # the ablation's inputs come from the same flags
        update = {"inputs": options_from_args(EvalInputs, args)}
    from_cli = options_from_args(model, args, **update)
    from_api = model(**required)
    from_stage = validate(get_stage(kind).Options, dict(required), file="recipe.yaml")
    for name in model.model_fields:
        if name == "generation":  # generation flags belong to `langadapt translate`'s helper
            continue
        assert getattr(from_cli, name) == getattr(from_api, name) == getattr(from_stage, name), name
    shown = {a.dest: a.help or "" for a in sub._actions}
    for name, info in model.model_fields.items():
        if (cmd, name) == ("flores", "seed") or (cmd, name) == ("layers", "limit"):  # own help
            continue
        if name in shown and info.default not in (None, "") and not info.is_required() \
                and not isinstance(info.default, list):
            assert f"(default: {info.default})" in shown[name], name


@pytest.mark.parametrize("kind, model, cmd, required", CASES)
def test_an_unknown_recipe_key_is_rejected_by_name(kind, model, cmd, required):
    with pytest.raises(ConfigError, match="n_bootstrap") as err:
        validate(get_stage(kind).Options, {**required, "n_bootstrap": 10}, file="recipe.yaml")
    assert "unknown key" in str(err.value)


def test_old_resample_flags_are_gone():
    for cmd in ("bpb", "choice", "morph", "speed", "flores", "layers"):
        dests = {a.dest for a in _subparser(cmd)._actions}
        assert "resamples" in dests and not dests & {"bootstrap", "n_bootstrap", "n_boot"}


def test_a_flag_out_of_range_is_a_config_error_naming_the_key():
    from langadapt.cli.fields import options_from_args

    args = _subparser("bpb").parse_args(["--model", "m", "--text", "t", "--resamples", "-1"])
    with pytest.raises(ConfigError, match="resamples"):
        options_from_args(BpbOptions, args)


def test_lens_and_ablation_inputs_share_their_defaults():
    for name in LayerInputs.model_fields:
        if name != "text":  # required by the lens
            assert LensOptions.model_fields[name].default == EvalInputs.model_fields[name].default, name


@pytest.mark.parametrize("cmd", ["translate", "flores"])
def test_generation_flags_come_from_generation_options(cmd):
    from langadapt.cli import build_parser
    from langadapt.cli.translate import generation_options
    from langadapt.generation_options import GenerationOptions

    if cmd == "translate":
        parser = build_parser()
        sub = next(a for a in parser._subparsers._group_actions).choices["translate"]
        argv = ["--src", "a", "--tgt", "b", "in.txt", "out.txt"]
    else:
        sub, argv = _subparser("flores"), ["--model", "m", "--src", "a", "--tgt", "b"]
    assert generation_options(sub.parse_args(argv)) == GenerationOptions()  # one place for defaults
    dests = {a.dest for a in sub._actions}
    assert set(GenerationOptions.model_fields) - {"few_shot", "server"} <= dests
    given = generation_options(sub.parse_args([*argv, "--num-beams", "4", "--do-sample",
                                               "--max-input-tokens", "64"]))
    assert (given.num_beams, given.do_sample, given.max_input_tokens) == (4, True, 64)
