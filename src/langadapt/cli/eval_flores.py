"""`langadapt eval flores`: BLEU, chrF++, chrF, TER (+ spBLEU, METEOR, COMET) with CIs."""

from __future__ import annotations

import sys
from pathlib import Path

from langadapt.cli._common import add_json_flag, arg_paths, print_rows
from langadapt.cli.fields import add_option_args, options_from_args
from langadapt.cli.translate import add_generation_args, generation_options
from langadapt.output_guard import prepare_out_dir


def register(esub) -> None:
    from langadapt.eval.options import FloresOptionsBase

    p = esub.add_parser("flores", help="FLORES translation: BLEU, chrF++, chrF, TER with CIs and "
                                       "significance",
                        description="Score a model (generates) or an existing output file on "
                                    "FLORES, with bootstrap 95% CIs and an optional paired test.")
    # --seed is the generation group's (it seeds both the generation and the resampling).
    add_option_args(p, FloresOptionsBase, exclude=("seed",))
    p.add_argument("--out", default=None,
                   help="folder for results.jsonl and the hypotheses (with --model, default: "
                        "flores-out/<model>.<src>-<tgt>.<split>)")
    add_generation_args(p)
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.translation import FloresOptions, eval_flores
    from langadapt.paths import expand

    paths = {k: expand(getattr(args, k)) for k in ("hyp", "data", "baseline") if getattr(args, k, None)}
    update = {**paths, **({"seed": args.seed} if hasattr(args, "seed") else {})}
    if getattr(args, "model", None):
        update["generation"] = generation_options(args)
    opts = options_from_args(FloresOptions, args, **update)
    out = args.out
    if out is None and opts.model:  # generated hypotheses are costly: keep them by default
        out = str(Path("flores-out") / f"{Path(opts.model.rstrip('/')).name}.{opts.src}-{opts.tgt}."
                                       f"{opts.split}")
    if out is not None:  # before the model is loaded
        prepare_out_dir(out, arg_paths(args, "out"), "eval flores", also_ours=("results.jsonl",))
    rows = eval_flores(opts, out_dir=out)
    print_rows(rows, args.json)
    if out is not None:
        print(f"results and hypotheses saved in {out}", file=sys.stderr)
    return 0
