"""CLI group `langadapt train`: `langadapt train cpt|sft|mt CONFIG.yaml [key=value ...]`."""

from __future__ import annotations

import os

from langadapt.cli._common import add_json_flag, print_rows

OBJECTIVE_HELP = {
    "cpt": "continued pretraining: causal LM on packed documents (+ optional replay mix)",
    "sft": "instruction tuning: chat template, loss on assistant tokens only",
    "mt": "translation: NLLB/M2M100 seq2seq, or a translation prompt for causal LLMs",
}


def register(sub) -> None:
    p = sub.add_parser("train", help="train: embeddings | lora | full; objectives cpt | sft | mt",
                       description="Train a model. Many GPUs: the same command under "
                                   "`accelerate launch -m langadapt train ...`.")
    tsub = p.add_subparsers(dest="objective", metavar="OBJECTIVE")
    for name, summary in OBJECTIVE_HELP.items():
        t = tsub.add_parser(name, help=summary, description=summary)
        t.add_argument("config", help="training config YAML (see docs/training.md)")
        t.add_argument("overrides", nargs="*", metavar="key=value",
                       help="override config keys, e.g. method=full lora.r=8 data.limit=1000")
        t.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
        add_json_flag(t)
        t.set_defaults(func=_run)

    def help_(args):
        p.print_help()
        return 2

    p.set_defaults(func=help_)


def _run(args) -> int:
    from langadapt.cli._common import print_json
    from langadapt.train import load_train_config, train

    cfg = load_train_config(args.config, args.overrides)
    if args.dry_run:
        print_json({"objective": args.objective, **cfg.model_dump()})
        return 0
    result = train(cfg, args.objective)
    if int(os.environ.get("RANK", "0")) != 0:    # under a multi-process launch rank 0 reports
        return 0
    print_rows(result.rows(config=cfg.model_dump()), args.json)
    if not args.json:
        print(f"wrote {result.output_dir}")
    return 0
