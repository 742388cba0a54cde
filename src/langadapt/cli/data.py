"""CLI group `langadapt data`: clean | bitext | tokenize. Parsing and printing only."""

from __future__ import annotations

import argparse
import sys

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.fields import add_option_args, options_from_args
from langadapt.data.options import STEPS, BitextOptions, CleanOptions, ClusterOptions, NormalizeOptions
from langadapt.runs import signature


def _add_common(p: argparse.ArgumentParser, model) -> None:
    """--out, the flags of the options `model` (`data clean` or `data bitext`), normalisation, --json."""
    p.add_argument("--out", required=True, help="output folder (data/, stats.json, rejected/)")
    p.add_argument("--wait", action="store_true", help="when another process is writing --out, wait for "
                   "it to finish (default: refuse, naming its pid and host)")
    add_option_args(p, model, exclude=("inputs", "normalize", "cluster"),
                    overrides={"decontaminate": {"metavar": "FILE"}})
    add_option_args(p, NormalizeOptions, exclude=STEPS)
    p.add_argument("--no-normalize", nargs="+", default=[], metavar="STEP", choices=STEPS,
                   help="switch normalisation steps off")
    add_json_flag(p)


def _options(schema, args, **update):
    """`schema` from the flags; the normalisation flags go to `normalize`, `--langid none` is None."""
    off = {k: False for k in args.no_normalize}
    update["normalize"] = options_from_args(NormalizeOptions, args, **off)
    if getattr(args, "langid", None) == "none":
        update["langid"] = None
    return options_from_args(schema, args, **update)


def _one_writer(args):
    """The lock of `--out`: one process writes an output folder at a time."""
    from langadapt.locks import exclusive

    return exclusive(args.out, f"data {args.data_cmd} output", wait=args.wait,
                     hint="choose another --out, or add --wait to wait for it")


def _clean(args) -> int:
    from langadapt.data.pipeline import RUN_ONLY, clean
    from langadapt.data.stats import format_table, funnel_rows

    opts = _options(CleanOptions, args, cluster=options_from_args(ClusterOptions, args))
    with _one_writer(args):
        stats = clean(opts, args.out)
    if not args.json:
        sys.stderr.write(format_table(stats) + "\n")
    sig = signature(
        options=opts.model_dump(exclude={"inputs", *RUN_ONLY}),
        seed=opts.seed,
        tools=["datatrove", "py3langid"],
    )
    print_rows(funnel_rows(stats, dataset=args.out, signature=sig), args.json)
    return 0


def _bitext(args) -> int:
    from langadapt.data.bitext import clean_bitext
    from langadapt.data.stats import format_table, funnel_rows

    opts = _options(BitextOptions, args)
    with _one_writer(args):
        stats = clean_bitext(opts, args.out)
    if not args.json:
        sys.stderr.write(format_table(stats) + "\n")
    sig = signature(options=opts.model_dump(exclude={"inputs"}), tools=["py3langid"])
    print_rows(funnel_rows(stats, dataset=args.out, signature=sig), args.json)
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="clean and tokenize text: clean | bitext | tokenize")
    dsub = p.add_subparsers(dest="data_cmd", metavar="CMD")

    c = dsub.add_parser("clean", help="normalise, language-ID, quality-filter, dedup, decontaminate text")
    c.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="txt, jsonl[.gz|.zst], parquet, tsv/csv files, folders, HF dataset folders or hub ids",
    )
    _add_common(c, CleanOptions)
    add_option_args(c, ClusterOptions, exclude=("sbatch_args",))
    c.set_defaults(func=_clean)

    b = dsub.add_parser(
        "bitext", help="clean parallel pairs (tsv, jsonl with two fields, or two aligned files)"
    )
    b.add_argument("inputs", nargs="+", metavar="FILE")
    _add_common(b, BitextOptions)
    b.set_defaults(func=_bitext)

    from langadapt.cli.data_tokenize import register as register_tokenize

    register_tokenize(dsub)

    def run(_args):
        p.print_help()
        return 2

    p.set_defaults(func=run)
