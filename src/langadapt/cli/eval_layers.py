"""`langadapt eval layers`: logit lens, or (with `--ablate`) adapter-layer ablation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langadapt.cli._common import add_json_flag, print_rows

DESCRIPTION = """\
Without --ablate: the logit lens. Every decoder layer's hidden state is read through
the final norm and the output head; per layer it reports KL(final || layer), cosine
and top-1 agreement with the model's output and the top tokens, and with --base the
same layer's agreement between base and adapted model (--base adapter-off: the
adapter switched off). Seq2seq models are read on the decoder side, teacher-forced
on --targets.

With --ablate early middle late … (layer selections: early|middle|late|all|i-j|i):
the LoRA adapter is switched off in those layers, in memory (the adapter files are
never written), and --metrics are evaluated for each selection plus 'none' (the
full adapter): the variant × disabled layers × metrics table.
"""


def register(esub) -> None:
    p = esub.add_parser("layers", help="logit lens and adapter-layer ablation",
                        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder, adapter folder or hub id")
    p.add_argument("--text", help="text file (one item per line; seq2seq: source lines)")
    p.add_argument("--targets", help="seq2seq: line-aligned target lines (decoder side)")
    p.add_argument("--src", "--src-lang", dest="src", help="FLORES code of the source (khk_Cyrl)")
    p.add_argument("--tgt", "--tgt-lang", dest="tgt", help="FLORES code of the target (eng_Latn)")
    p.add_argument("--limit", type=int, default=64, help="items per measurement (default 64; 0: all)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per item")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--out", help="folder for results.jsonl, the markdown table and the PNGs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    lens = p.add_argument_group("logit lens")
    lens.add_argument("--base", help="base model to compare each layer with, or 'adapter-off'")
    lens.add_argument("--top-k", type=int, default=5, help="top tokens reported per layer")
    abl = p.add_argument_group("adapter ablation")
    abl.add_argument("--ablate", nargs="+", metavar="LAYERS",
                     help="layer selections to switch LoRA off in, one variant each")
    abl.add_argument("--stack", default="decoder", choices=("decoder", "encoder", "both"))
    abl.add_argument("--metrics", nargs="+", default=["loss"],
                     help="loss | bpb | flores | choice (default: loss, mean nats/token on --text)")
    abl.add_argument("--scale", type=float, default=0.0,
                     help="0 switches LoRA off; another value scales it instead")
    abl.add_argument("--flores", help="FLORES-style folder for --metrics flores (default: bundled)")
    abl.add_argument("--task", help="choice task name or task file for --metrics choice")
    abl.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                     help="extra evaluator option, e.g. flores.metrics=[bleu,chrf++] or "
                          "generation.max_new_tokens=64")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.models.loading import load_model

    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    if args.ablate:
        return _ablate(args, loaded)
    return _lens(args, loaded)


def _lens(args, loaded) -> int:
    from langadapt.errors import ConfigError
    from langadapt.eval.lens import lens_table, logit_lens, read_texts, write_lens_outputs
    from langadapt.models.loading import load_model

    if not args.text:
        raise ConfigError("the logit lens needs --text", key="text")
    texts, targets = read_texts(args.text, args.targets, args.limit or None)
    base = args.base
    if base and base != "adapter-off":
        base = load_model(base, device=args.device, dtype=args.dtype)
    res = logit_lens(loaded, texts, base=base, targets=targets, src_lang=args.src, tgt_lang=args.tgt,
                     top_k=args.top_k, max_length=args.max_length, batch_size=args.batch_size,
                     dataset=Path(args.text).name, seed=args.seed)
    if args.out:
        for path in write_lens_outputs(res, args.out):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print_rows(res.rows, True)
    else:
        sys.stdout.write(lens_table(res.rows))
    return 0


def _ablate(args, loaded) -> int:
    from langadapt.config import apply_overrides, validate
    from langadapt.eval.ablation import EvalInputs, ablation_table, run_ablation

    inputs = validate(EvalInputs, {
        "text": args.text, "targets": args.targets, "src_lang": args.src, "tgt_lang": args.tgt,
        "flores": args.flores, "task": args.task, "limit": args.limit or None,
        "max_length": args.max_length, "batch_size": args.batch_size, "seed": args.seed,
        "options": apply_overrides({}, args.option, source="--option")}, file="--option")
    rows = run_ablation(loaded, args.ablate, inputs, metrics=args.metrics, stack=args.stack,
                        scale=args.scale, out_dir=args.out)
    if args.out:
        print(f"wrote {Path(args.out) / 'ablation.md'} and ablation.png", file=sys.stderr)
    if args.json:
        print_rows(rows, True)
    else:
        sys.stdout.write(ablation_table(rows))
    return 0
