"""`langadapt eval morph`: lemma and suffix agreement of translations (experimental)."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.fields import add_option_args, options_from_args


def register(esub) -> None:
    from langadapt.eval.options import MorphOptions

    p = esub.add_parser(
        "morph", help="morphology-aware score: lemma and suffix agreement (experimental)",
        description="Lemma F1 and suffix character-3-gram F1 of line-aligned hypotheses against "
                    "references, with a suffix analyser learned from UniMorph tables; bootstrap 95% CIs.")
    add_option_args(p, MorphOptions, overrides={"unimorph": {"metavar": "TSV"}})
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.morph import MorphOptions, evaluate_morph

    print_rows(evaluate_morph(options_from_args(MorphOptions, args)), args.json)
    return 0
