"""`langadapt data tokenize`: training text into cached, memory-mapped token shards."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows


def _tokenize(args) -> int:
    from langadapt.data.tokenize import TokenizeOptions, summary_rows, tokenize

    opts = TokenizeOptions(inputs=args.inputs, tokenizer=args.tokenizer, field=args.field,
                           workers=args.workers)
    shards = tokenize(opts, out=args.out, progress=not args.json)
    print_rows(summary_rows(shards), args.json)
    return 0


def register(dsub) -> None:
    t = dsub.add_parser("tokenize", help="tokenize training text once into memory-mapped token shards "
                                         "(cached; `train cpt` does it by itself when needed)")
    t.add_argument("inputs", nargs="+", metavar="INPUT", help="txt (a document per line), jsonl[.gz|.zst], "
                                                              "folders of them (e.g. a cleaning output)")
    t.add_argument("--tokenizer", required=True, help="tokenizer folder (or a model folder with one)")
    t.add_argument("--field", default="text", help="jsonl field (text)")
    t.add_argument("--workers", type=int, help="processes (default: the CPUs, at most 8)")
    t.add_argument("--out", help="write the shards here (a folder `data.train` can name) instead of "
                                 "the cache training reads")
    add_json_flag(t)
    t.set_defaults(func=_tokenize)
