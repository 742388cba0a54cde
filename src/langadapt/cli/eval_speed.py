"""`langadapt eval speed`: bytes of generated text per second, on the same prompts for every model."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows


def register(esub) -> None:
    from langadapt.eval.speed import SpeedOptions

    d = SpeedOptions()
    p = esub.add_parser(
        "speed", help="generation speed: bytes of text per second, tokens per second, bytes per token",
        description="Greedy generation from the first words of the first documents of --text: UTF-8 "
                    "bytes of generated text per wall second, tokens per second and bytes per token, "
                    "with bootstrap 95%% CIs over prompts. Several --model values are measured one "
                    "after another on the same prompts.")
    p.add_argument("--model", required=True, nargs="+", help="model folders, adapter folders or hub ids")
    p.add_argument("--text", required=True, nargs="+", metavar="FILE",
                   help="text files (one document per line; .jsonl uses --field) giving the prompts")
    p.add_argument("--field", default=d.field, help="JSONL field holding the text (default: text)")
    p.add_argument("--prompts", type=int, default=d.prompts, help=f"number of prompts (default {d.prompts})")
    p.add_argument("--prompt-words", type=int, default=d.prompt_words,
                   help=f"words of each document used as its prompt (default {d.prompt_words})")
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens,
                   help=f"tokens generated per prompt (default {d.max_new_tokens})")
    p.add_argument("--stop-at-eos", action="store_true",
                   help="stop at the end-of-sequence token (default: always generate --max-new-tokens)")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"prompts per generate call (default {d.batch_size}: single-stream speed)")
    p.add_argument("--warmup", type=int, default=d.warmup,
                   help=f"untimed generations first (default {d.warmup})")
    p.add_argument("--bootstrap", type=int, default=d.n_bootstrap, help="bootstrap resamples (0: no CI)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=d.dtype, help="auto | float32 | bfloat16 | float16")
    p.add_argument("--generations", default=None, metavar="FILE",
                   help="write each prompt's generated text, tokens, bytes and seconds here (.jsonl)")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    import json

    from langadapt.config import validate
    from langadapt.eval.speed import SpeedOptions, evaluate_speed
    from langadapt.runs import atomic_write_text

    opts = validate(SpeedOptions, {
        "prompts": args.prompts, "prompt_words": args.prompt_words, "max_new_tokens": args.max_new_tokens,
        "ignore_eos": not args.stop_at_eos, "batch_size": args.batch_size, "warmup": args.warmup,
        "field": args.field, "n_bootstrap": args.bootstrap, "seed": args.seed, "device": args.device,
        "dtype": args.dtype}, file="command line")
    rows, records = [], []
    for model in args.model:
        res = evaluate_speed(model, args.text, opts)
        rows += res.rows
        records += [{"model": model, **r} for r in res.records]
    if args.generations:
        atomic_write_text(args.generations,
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print_rows(rows, args.json)
    return 0
