"""CLI group `langadapt eval`: bpb | flores | choice | layers | morph | speed, one module each."""

from __future__ import annotations

from langadapt.registry import import_optional

SUBCOMMANDS = {
    "bpb": "bits per byte, token and word perplexity on held-out text",
    "flores": "FLORES translation: BLEU, chrF++, chrF, TER with CIs and significance",
    "choice": "multiple-choice benchmarks (MM-Eval style JSONL, Belebele)",
    "layers": "logit lens and adapter-layer ablation",
    "morph": "morphology-aware score: lemma and suffix agreement (experimental)",
    "speed": "generation speed: bytes of text per second, tokens per second, bytes per token",
}


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model: " + " | ".join(SUBCOMMANDS))
    esub = p.add_subparsers(dest="eval_cmd", metavar="CMD")
    for name in SUBCOMMANDS:
        # a missing langadapt module raises; only an optional dependency skips (with a warning)
        module = import_optional(f"langadapt.cli.eval_{name}")
        if module is not None:
            module.register(esub)

    def run(args):
        p.print_help()
        return 2

    p.set_defaults(func=run)
