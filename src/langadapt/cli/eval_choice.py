"""`langadapt eval choice`: multiple-choice (and numeric-answer) benchmarks declared as task files."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows


def register(esub) -> None:
    p = esub.add_parser(
        "choice", help="multiple-choice benchmarks (MM-Eval style JSONL, Belebele)",
        description="Accuracy and byte-normalised accuracy of log-likelihood answer choice (or exact "
                    "match of a generated number), with bootstrap 95%% CIs over questions.")
    p.add_argument("--model", required=True, help="model folder, adapter folder or hub id")
    p.add_argument("--task", required=True, nargs="+",
                   help="bundled task name (belebele_khk, mmeval_khk, mmeval_khk_letters, numeric_khk) "
                        "or a task .yaml file")
    p.add_argument("--data", default=None, help="data file in the task's format (overrides the task's)")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--translate-with", default=None, metavar="MT_MODEL",
                   help="translate questions and answers with this MT model first, then answer")
    p.add_argument("--translate-to", default="eng_Latn", help="language to translate into (FLORES code)")
    p.add_argument("--translate-max-new-tokens", type=int, default=256)
    p.add_argument("--predictions", default=None, metavar="FILE",
                   help="write per-question predictions here (.jsonl)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no CI)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    import json

    from langadapt.eval.choice import ChoiceOptions, evaluate_choice
    from langadapt.models.loading import load_model
    from langadapt.runs import atomic_write_text

    if args.data and len(args.task) > 1:
        from langadapt.errors import ConfigError
        raise ConfigError("--data goes with a single --task", key="data")
    opts = ChoiceOptions(batch_size=args.batch_size, limit=args.limit, data=args.data,
                         translate_model=args.translate_with, translate_to=args.translate_to,
                         translate_max_new_tokens=args.translate_max_new_tokens,
                         n_boot=args.bootstrap, seed=args.seed)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    rows, preds = [], []
    for task in args.task:
        res = evaluate_choice(loaded, task, opts)
        rows += res.rows
        preds += [{"task": res.rows[0].dataset, **p} for p in res.predictions]
    if args.predictions:
        atomic_write_text(args.predictions, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds))
    print_rows(rows, args.json)
    return 0
