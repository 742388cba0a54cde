"""`langadapt eval flores`: BLEU, chrF++, chrF, TER (+ spBLEU, METEOR, COMET) with CIs."""

from __future__ import annotations

import sys
from pathlib import Path

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.cli.translate import add_generation_args, generation_options


def register(esub) -> None:
    p = esub.add_parser("flores", help="FLORES translation: BLEU, chrF++, chrF, TER with CIs and "
                                       "significance",
                        description="Score a model (generates) or an existing output file on "
                                    "FLORES, with bootstrap 95% CIs and an optional paired test.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="model folder, hub id or PEFT adapter folder (generates)")
    what.add_argument("--hyp", help="line-aligned output file to score")
    p.add_argument("--src", required=True, help="source language, FLORES code (e.g. khk_Cyrl)")
    p.add_argument("--tgt", required=True, help="target language, FLORES code (e.g. eng_Latn)")
    p.add_argument("--data", default=None,
                   help="FLORES folder (<code>.<split>.txt, FLORES+ or FLORES-200 layout) or hub "
                        "dataset id (default: flores/ in the data folder)")
    p.add_argument("--split", default="dev", help="dev or devtest")
    p.add_argument("--baseline", default=None, help="another system's output: adds a paired test")
    p.add_argument("--test", choices=("bs", "ar"), default="bs",
                   help="paired bootstrap (bs) or approximate randomisation (ar)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated subset of bleu,chrf++,chrf,ter,spbleu,meteor,comet")
    p.add_argument("--n-bootstrap", type=int, default=1000)
    p.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    p.add_argument("--out", default=None,
                   help="folder for results.jsonl and the hypotheses (with --model, default: "
                        "flores-out/<model>.<src>-<tgt>.<split>)")
    p.add_argument("--variant", default=None, help="variant name stored in the rows")
    add_generation_args(p)
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.translation import DEFAULT_METRICS, eval_flores
    from langadapt.paths import expand

    metrics = tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else DEFAULT_METRICS
    out = args.out
    if out is None and args.model:  # generated hypotheses are costly: keep them by default
        out = str(Path("flores-out") / f"{Path(args.model.rstrip('/')).name}.{args.src}-{args.tgt}."
                                       f"{args.split}")
    rows = eval_flores(src=args.src, tgt=args.tgt, model=args.model,
                       hyp=expand(args.hyp) if args.hyp else None,
                       data=expand(args.data) if args.data else None, split=args.split,
                       baseline=expand(args.baseline) if args.baseline else None, out_dir=out,
                       gen=generation_options(args) if args.model else None, metrics=metrics,
                       n_bootstrap=args.n_bootstrap, seed=args.seed, test=args.test,
                       limit=args.limit, variant=args.variant)
    print_rows(rows, args.json)
    if out is not None:
        print(f"results and hypotheses saved in {out}", file=sys.stderr)
    return 0
