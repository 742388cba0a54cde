"""`langadapt eval morph`: lemma and suffix agreement of translations (experimental)."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, print_rows


def register(esub) -> None:
    p = esub.add_parser(
        "morph", help="morphology-aware score: lemma and suffix agreement (experimental)",
        description="Lemma F1 and suffix character-3-gram F1 of line-aligned hypotheses against "
                    "references, with a suffix analyser learned from UniMorph tables; bootstrap 95%% CIs.")
    p.add_argument("--hyp", required=True, help="hypotheses, one sentence per line")
    p.add_argument("--ref", required=True, help="references, line-aligned")
    p.add_argument("--unimorph", nargs="+", default=None, metavar="TSV",
                   help="UniMorph tables lemma<TAB>form<TAB>features (default: ${data}/morph/khk.tsv)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no CI)")
    p.add_argument("--seed", type=int, default=0)
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from langadapt.eval.morph import SuffixAnalyser, default_analyser, morph_scores
    from langadapt.textio import read_lines

    analyser = SuffixAnalyser.from_unimorph(args.unimorph) if args.unimorph else default_analyser()
    rows = morph_scores(read_lines(args.hyp), read_lines(args.ref), analyser, dataset=Path(args.ref).name,
                        model=Path(args.hyp).name, n_boot=args.bootstrap, seed=args.seed,
                        data=[args.hyp, args.ref])
    print_rows(rows, args.json)
    return 0
