"""`langadapt eval bpb`: bits per byte, token and word perplexity of held-out text."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.fields import add_option_args, options_from_args


def register(esub) -> None:
    from langadapt.eval.options import BpbOptions

    p = esub.add_parser(
        "bpb", help="bits per byte, token and word perplexity on held-out text",
        description="Bits per UTF-8 byte (lm-evaluation-harness convention), token and word "
                    "perplexity, with bootstrap 95% CIs over documents. One row set per file.")
    add_option_args(p, BpbOptions, overrides={"text": {"metavar": "FILE"}})
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.perplexity import BpbOptions, evaluate_bpb

    print_rows(evaluate_bpb(options_from_args(BpbOptions, args)), args.json)
    return 0
