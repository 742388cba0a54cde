"""CLI group `langadapt data`: clean | bitext | tokenize. Parsing and printing only."""

from __future__ import annotations

import argparse
import sys

from langadapt.cli._common import add_json_flag, print_rows
from langadapt.runs import signature


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (data/, stats.json, rejected/)")
    p.add_argument(
        "--decontaminate",
        nargs="+",
        default=[],
        metavar="FILE",
        help="evaluation files; training documents sharing an n-gram or sentence are dropped",
    )
    p.add_argument("--decontaminate-ngram", type=int, default=13, help="n-gram length in words (13)")
    p.add_argument("--langid", default="py3langid", help="backend: py3langid | fasttext176 | lingua | none")
    for name, default in (("urls", "keep"), ("emails", "mask"), ("phones", "mask")):
        p.add_argument(
            f"--{name}", choices=("keep", "mask", "drop"), default=default, help=f"{name} ({default})"
        )
    p.add_argument(
        "--no-normalize",
        nargs="+",
        default=[],
        metavar="STEP",
        choices=("mojibake", "nfc", "markup", "control", "homoglyphs", "whitespace"),
        help="switch normalisation steps off",
    )
    add_json_flag(p)


def _normalize(args) -> dict:
    off = {k: False for k in args.no_normalize}
    return {"urls": args.urls, "emails": args.emails, "phones": args.phones, **off}


def _clean(args) -> int:
    from langadapt.data.pipeline import RUN_ONLY, CleanOptions, clean
    from langadapt.data.stats import format_table, funnel_rows

    opts = CleanOptions(
        inputs=args.inputs,
        lang=args.lang,
        field=args.field,
        txt_mode=args.txt_mode,
        split=args.split,
        decontaminate_field=args.decontaminate_field,
        limit=args.limit,
        workers=args.workers,
        normalize=_normalize(args),
        langid=None if args.langid == "none" else args.langid,
        langid_min_score=args.langid_min_score,
        mixed=args.mixed,
        quality=not args.no_quality,
        dedup_exact=not args.no_dedup_exact,
        dedup_near=not args.no_dedup_near,
        minhash_unit=args.minhash_unit,
        minhash_ngrams=args.minhash_ngrams,
        minhash_char_max=args.minhash_char_max,
        decontaminate=args.decontaminate,
        decontaminate_ngram=args.decontaminate_ngram,
        rejected_samples=args.rejected_samples,
        executor=args.executor,
        cluster={
            "partition": args.partition,
            "time": args.time,
            "cpus_per_task": args.cpus_per_task,
            "mem_per_cpu_gb": args.mem_per_cpu_gb,
        },
    )
    stats = clean(opts, args.out)
    if not args.json:
        sys.stderr.write(format_table(stats) + "\n")
    sig = signature(
        options=opts.model_dump(exclude={"inputs", *RUN_ONLY}),
        seed=opts.seed,
        tools=["datatrove", "py3langid"],
    )
    print_rows(funnel_rows(stats, dataset=args.out, signature=sig), args.json)
    return 0


def _bitext(args) -> int:
    from langadapt.data.bitext import BitextOptions, clean_bitext
    from langadapt.data.stats import format_table, funnel_rows

    opts = BitextOptions(
        inputs=args.inputs,
        src=args.src,
        tgt=args.tgt,
        src_field=args.src_field,
        tgt_field=args.tgt_field,
        normalize=_normalize(args),
        langid=None if args.langid == "none" else args.langid,
        max_length_ratio=args.max_length_ratio,
        decontaminate=args.decontaminate,
        decontaminate_ngram=args.decontaminate_ngram,
    )
    stats = clean_bitext(opts, args.out)
    if not args.json:
        sys.stderr.write(format_table(stats) + "\n")
    sig = signature(options=opts.model_dump(exclude={"inputs"}), tools=["py3langid"])
    print_rows(funnel_rows(stats, dataset=args.out, signature=sig), args.json)
    return 0


def register(sub) -> None:
    p = sub.add_parser("data", help="clean and tokenize text: clean | bitext | tokenize")
    dsub = p.add_subparsers(dest="data_cmd", metavar="CMD")

    c = dsub.add_parser("clean", help="normalise, language-ID, quality-filter, dedup, decontaminate text")
    c.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="txt, jsonl[.gz|.zst], parquet, tsv/csv files, folders, HF dataset folders or hub ids",
    )
    c.add_argument("--lang", default="khk_Cyrl", help="language profile code or YAML path (khk_Cyrl)")
    c.add_argument(
        "--field", default="text", help="jsonl/parquet/dataset field or csv/tsv column (name or number)"
    )
    c.add_argument(
        "--txt-mode",
        choices=("line", "paragraph"),
        default="line",
        help="txt: one document per line, or blank-line separated paragraphs",
    )
    c.add_argument("--split", default="train", help="split of an HF dataset input (train)")
    c.add_argument("--decontaminate-field", default="text", help="field of jsonl evaluation files (text)")
    c.add_argument(
        "--workers", type=int, default=1, help="tasks per stage (processes, Ray tasks or Slurm array jobs)"
    )
    c.add_argument(
        "--executor",
        choices=("local", "ray", "slurm"),
        default="local",
        help="where the tasks run: local processes, a Ray cluster (RAY_ADDRESS, else a local one), Slurm",
    )
    c.add_argument("--partition", help="slurm: partition to submit to")
    c.add_argument("--time", default="04:00:00", help="slurm: time limit of each job (04:00:00)")
    c.add_argument("--cpus-per-task", type=int, default=1, help="ray/slurm: CPUs per task (1)")
    c.add_argument("--mem-per-cpu-gb", type=float, default=2.0, help="ray/slurm: memory per CPU in GB (2)")
    c.add_argument("--limit", type=int, help="read at most this many documents")
    c.add_argument("--langid-min-score", type=float, help="minimum language score (profile default)")
    c.add_argument(
        "--mixed",
        choices=("doc", "drop"),
        default="drop",
        help="multi-line documents: drop foreign lines first (drop) or judge the whole doc",
    )
    c.add_argument("--no-quality", action="store_true", help="skip the quality filters")
    c.add_argument("--no-dedup-exact", action="store_true")
    c.add_argument("--no-dedup-near", action="store_true")
    c.add_argument(
        "--minhash-unit",
        choices=("char", "word"),
        default="char",
        help="MinHash shingles: character n-grams (default, for sentences) or word n-grams",
    )
    c.add_argument(
        "--minhash-ngrams", type=int, help="MinHash n-gram size (default 4 characters, or 2 words)"
    )
    c.add_argument(
        "--minhash-char-max",
        type=int,
        default=1000,
        help="with --minhash-unit char, longer documents get word 5-grams (characters; 0: never)",
    )
    c.add_argument("--rejected-samples", type=int, default=100, help="rejected documents kept per reason")
    _add_common(c)
    c.set_defaults(func=_clean)

    b = dsub.add_parser(
        "bitext", help="clean parallel pairs (tsv, jsonl with two fields, or two aligned files)"
    )
    b.add_argument("inputs", nargs="+", metavar="FILE")
    b.add_argument("--src", default="khk_Cyrl", help="source profile (khk_Cyrl)")
    b.add_argument("--tgt", default="eng_Latn", help="target profile (eng_Latn)")
    b.add_argument("--src-field", default="src")
    b.add_argument("--tgt-field", default="tgt")
    b.add_argument("--max-length-ratio", type=float, default=3.0)
    _add_common(b)
    b.set_defaults(func=_bitext)

    from langadapt.cli.data_tokenize import register as register_tokenize

    register_tokenize(dsub)

    def run(_args):
        p.print_help()
        return 2

    p.set_defaults(func=run)
