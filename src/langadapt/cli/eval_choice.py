"""`langadapt eval choice`: multiple-choice (and numeric-answer) benchmarks declared as task files."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.fields import add_option_args, options_from_args


def register(esub) -> None:
    from langadapt.eval.options import ChoiceOptions

    p = esub.add_parser(
        "choice", help="multiple-choice benchmarks (MM-Eval style JSONL, Belebele)",
        description="Accuracy and byte-normalised accuracy of log-likelihood answer choice (or exact "
                    "match of a generated number), with bootstrap 95% CIs over questions.")
    add_option_args(p, ChoiceOptions, overrides={"task": {"nargs": "+"}})
    p.add_argument("--predictions", default=None, metavar="FILE",
                   help="write per-question predictions here (.jsonl)")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.errors import ConfigError
    from langadapt.eval.choice import ChoiceOptions, evaluate_choice
    from langadapt.models.loading import load_model
    from langadapt.runs import atomic_write_jsonl

    if getattr(args, "data", None) and len(args.task) > 1:
        raise ConfigError("--data goes with a single --task", key="data")
    opts = [options_from_args(ChoiceOptions, args, task=t) for t in args.task]  # all checked first
    loaded = load_model(opts[0].model, device=opts[0].device, dtype=opts[0].dtype)
    rows, preds = [], []
    for o in opts:
        res = evaluate_choice(o, loaded=loaded)
        rows += res.rows
        preds += [{"task": res.rows[0].dataset, **p} for p in res.predictions]
    if args.predictions:
        atomic_write_jsonl(args.predictions, preds)
    print_rows(rows, args.json)
    return 0
