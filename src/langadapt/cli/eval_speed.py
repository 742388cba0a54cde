"""`langadapt eval speed`: bytes of generated text per second, on the same prompts for every model."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.fields import add_option_args, options_from_args


def register(esub) -> None:
    from langadapt.eval.options import SpeedOptions

    p = esub.add_parser(
        "speed", help="generation speed: bytes of text per second, tokens per second, bytes per token",
        description="Greedy generation from the first words of the first documents of --text: UTF-8 "
                    "bytes of generated text per wall second (all, and of continuations that pass the "
                    "quality thresholds), tokens per second, bytes per token and the text's quality, "
                    "with bootstrap 95% CIs over prompts. Several --model values are measured one "
                    "after another on the same prompts.")
    add_option_args(p, SpeedOptions, overrides={
        "model": {"nargs": "+", "note": "several are measured in turn"},
        "text": {"metavar": "FILE"}})
    p.add_argument("--generations", default=None, metavar="FILE",
                   help="write each prompt's generated text, tokens, bytes, seconds, quality scores "
                        "and verdict here (.jsonl)")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.speed import SpeedOptions, evaluate_speed, load_judge
    from langadapt.runs import atomic_write_jsonl

    rows, records = [], []
    runs = [options_from_args(SpeedOptions, args, model=model) for model in args.model]
    judge = load_judge(runs[0])  # one judge scores every model's text
    for model, opts in zip(args.model, runs):
        res = evaluate_speed(opts, judge=judge)
        rows += res.rows
        records += [{"model": model, **r} for r in res.records]
    if args.generations:
        atomic_write_jsonl(args.generations, records)
    print_rows(rows, args.json)
    return 0
