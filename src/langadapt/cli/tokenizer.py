"""CLI group `langadapt tokenizer`: train, extend (and sweep), trim, stats. Parsing and printing only."""

from __future__ import annotations

import argparse
import json

from langadapt.cli._common import add_json_flag, arg_paths, print_json, print_rows
from langadapt.cli.fields import add_option_args, options_from_args
from langadapt.errors import ConfigError
from langadapt.output_guard import check_out_dir, check_out_file


def _corpus_args(p: argparse.ArgumentParser, flag: str = "--corpus") -> None:
    p.add_argument(flag, nargs="+", required=True, metavar="PATH",
                   help="text files or folders (.txt lines, .jsonl[.gz|.zst] shards)")
    p.add_argument("--exclude", nargs="*", default=[], metavar="FILE",
                   help="drop corpus lines equal to a line of these files (e.g. evaluation sets)")
    p.add_argument("--field", default="text", help="JSON field holding the text (jsonl input)")
    p.add_argument("--limit", type=int, default=None, help="read at most this many documents")


def _corpus(args, paths=None):
    from langadapt.tokenizer.extend import Corpus

    return Corpus(paths or args.corpus, exclude=args.exclude, field=args.field, limit=args.limit)


def _adds(raw: str) -> list[int]:
    from langadapt.tokenizer.sweep import check_sizes

    try:
        adds = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"'{raw}' is not a number or a comma-separated list", key="--add") from None
    return check_sizes(adds, key="--add")


def register(sub) -> None:
    p = sub.add_parser("tokenizer", help="train, extend, trim tokenizers and measure fertility")
    tsub = p.add_subparsers(dest="tokenizer_cmd", metavar="CMD")

    t = tsub.add_parser("train", help="train a target-language tokenizer from scratch")
    t.add_argument("corpus", nargs="+", metavar="CORPUS")
    t.add_argument("--vocab-size", type=int, required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--like", default=None, metavar="BASE",
                   help="BPE with this tokenizer's normalizer, pre-tokenizer, decoder and specials")
    t.add_argument("--model", choices=("bpe", "unigram"), default="bpe")
    t.add_argument("--exclude", nargs="*", default=[], metavar="FILE")
    t.add_argument("--field", default="text")
    t.add_argument("--limit", type=int, default=None)
    t.set_defaults(func=_train)

    e = tsub.add_parser("extend", help="continued BPE: add N merges learned from a corpus to BASE")
    e.add_argument("base", metavar="BASE", help="tokenizer folder or hub id")
    _corpus_args(e)
    e.add_argument("--add", required=True, help="new tokens; a list (1000,4000,16000) runs a sweep")
    e.add_argument("--out", required=True, help="output folder (a sweep writes OUT/add<N>)")
    e.add_argument("--eval", nargs="*", default=[], metavar="FILE",
                   help="texts that must round-trip exactly (also used for the sweep's fertility)")
    from langadapt.tokenizer.options import ExtendOptions

    add_option_args(e, ExtendOptions)  # --check-lines (also a sweep's), --min-count
    e.add_argument("--plot", default=None, help="sweep: write the fertility curve PNG here")
    e.add_argument("--seed", type=int, default=0)
    add_json_flag(e)
    e.set_defaults(func=_extend)

    r = tsub.add_parser("trim", help="keep only the tokens a corpus uses; write id_map.json")
    r.add_argument("base", metavar="BASE")
    _corpus_args(r)
    r.add_argument("--out", required=True)
    add_json_flag(r)
    r.set_defaults(func=_trim)

    s = tsub.add_parser("stats", help="fertility, bytes/token, splits, usage, round trip, speed")
    s.add_argument("tokenizers", nargs="+", metavar="TOKENIZER", help="folder, hub id, or NAME=PATH")
    s.add_argument("--text", nargs="+", required=True, metavar="FILE")
    s.add_argument("--metric", nargs="*", default=None, help="only these metrics")
    s.add_argument("--plot", default=None, help="write a fertility bar chart PNG here")
    add_json_flag(s)
    s.set_defaults(func=_stats)
    p.set_defaults(func=_help(p))


def _help(p):
    def run(args):
        if getattr(args, "tokenizer_cmd", None) is None:
            p.print_help()
            return 2
    return run


def _train(args) -> int:
    check_out_dir(args.out, arg_paths(args, "out"))
    from langadapt.tokenizer.train import train

    summary = train(_corpus(args, args.corpus), args.vocab_size, args.out, like=args.like,
                    model=args.model)
    print(f"wrote {args.out} ({summary['vocab_size']} ids)")
    return 0


def _extend(args) -> int:
    from langadapt.tokenizer.options import ExtendOptions

    adds = _adds(args.add)
    opts = options_from_args(ExtendOptions, args)
    inputs = arg_paths(args, "out", "plot")
    check_out_dir(args.out, inputs, also_ours=("extend.json",) if len(adds) == 1 else ())
    if args.plot:
        check_out_file(args.plot, inputs)
    if len(adds) > 1:
        from langadapt.tokenizer.sweep import plot_sweep, sweep

        rows = sweep(args.base, _corpus(args), adds, args.out, texts=args.eval, eval_files=args.eval,
                     check_lines=opts.check_lines, seed=args.seed)
        if args.plot:
            plot_sweep(rows, args.plot)
        print_rows(rows, args.json)
        return 0
    from langadapt.tokenizer.extend import extend

    summary = extend(args.base, _corpus(args), adds[0], args.out, eval_files=args.eval,
                     check_lines=opts.check_lines, min_count=opts.min_count, seed=args.seed)
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {args.out}: +{summary['added']} tokens ({summary['base_size']} -> "
              f"{summary['size']} ids); checks: {json.dumps(summary['checks'])}")
    return 0


def _trim(args) -> int:
    check_out_dir(args.out, arg_paths(args, "out"), also_ours=("trim.json",))
    from langadapt.tokenizer.trim import trim

    summary = trim(args.base, _corpus(args), args.out)
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {args.out}: kept {summary['size']} of {summary['base_size']} ids "
              f"({summary['kept_fraction']:.1%}); {summary['texts']} texts tokenize identically")
    return 0


def _stats(args) -> int:
    if args.plot:
        check_out_file(args.plot, arg_paths(args, "plot"))
    from langadapt.tokenizer.stats import comparison_table, plot_rows, stats_rows

    rows = stats_rows(args.tokenizers, args.text, args.metric)
    if args.plot:
        plot_rows(rows, args.plot)
    if args.json:
        print_rows(rows, True)
    else:
        print(comparison_table(rows), end="")
    return 0
