"""`langadapt eval bpb`: bits per byte, token and word perplexity of held-out text."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows


def register(esub) -> None:
    p = esub.add_parser(
        "bpb", help="bits per byte, token and word perplexity on held-out text",
        description="Bits per UTF-8 byte (lm-evaluation-harness convention), token and word "
                    "perplexity, with bootstrap 95%% CIs over documents. One row set per file.")
    p.add_argument("--model", required=True, help="model folder, adapter folder or hub id")
    p.add_argument("--text", required=True, nargs="+", metavar="FILE",
                   help="text files (one document per line; .jsonl uses --field) or folders")
    p.add_argument("--field", default="text", help="JSONL field holding the text (default: text)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens per window (default: the model's context, at most 4096)")
    p.add_argument("--stride", type=int, default=None,
                   help="new tokens per window for long documents (default: --max-length, "
                        "lm-eval's disjoint windows)")
    p.add_argument("--max-docs", type=int, default=None, help="score at most N documents per file")
    p.add_argument("--lang", default=None, help="seq2seq models: language code of the text (khk_Cyrl)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no CI)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.eval.perplexity import BpbOptions, evaluate_bpb

    opts = BpbOptions(batch_size=args.batch_size, max_length=args.max_length, stride=args.stride,
                      lang=args.lang, n_boot=args.bootstrap, seed=args.seed)
    rows = evaluate_bpb(args.model, args.text, opts, max_docs=args.max_docs, field=args.field,
                        device=args.device, dtype=args.dtype)
    print_rows(rows, args.json)
    return 0
