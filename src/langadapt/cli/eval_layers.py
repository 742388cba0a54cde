"""`langadapt eval layers`: logit lens, or (with `--ablate`) adapter-layer ablation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langadapt.cli._common import add_json_flag, arg_paths, print_rows
from langadapt.cli.fields import add_option_args, options_from_args

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
    from langadapt.eval.options import AblationOptions, EvalInputs, LayerInputs, LensOptions

    p = esub.add_parser("layers", help="logit lens and adapter-layer ablation",
                        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = set(LayerInputs.model_fields)
    # --model, --device, --dtype
    add_option_args(p, LensOptions, exclude=shared | {"base", "top_k", "new_tokens"})
    add_option_args(p, LayerInputs, overrides={"limit": {"note": "0: all"}})
    p.add_argument("--out", help="folder for results.jsonl, the markdown table and the PNGs")
    lens = p.add_argument_group("logit lens")
    add_option_args(lens, LensOptions, exclude=shared | {"model", "device", "dtype"})
    abl = p.add_argument_group("adapter ablation")
    add_option_args(abl, AblationOptions, exclude={"model", "inputs", "device", "dtype"},
                    overrides={"ablate": {"metavar": "LAYERS", "help": "layer selections to switch "
                                          "LoRA off in (early|middle|late|all|i-j|i), one variant "
                                          "each, plus none; without --ablate: the logit lens"}})
    add_option_args(abl, EvalInputs, exclude=shared | {"options"})
    abl.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                     help="extra evaluator option, e.g. flores.metrics=[bleu,chrf++] or "
                          "generation.max_new_tokens=64")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _limit(args) -> dict:
    """`--limit 0` reads everything."""
    return {"limit": None} if getattr(args, "limit", None) == 0 else {}


def _run(args) -> int:
    if args.out:  # before any model is loaded
        from langadapt.output_guard import prepare_out_dir

        prepare_out_dir(args.out, arg_paths(args, "out"), "eval layers", also_ours=("results.jsonl",))
    from langadapt.models.loading import load_model

    if getattr(args, "ablate", None):
        return _ablate(args)
    from langadapt.errors import ConfigError
    from langadapt.eval.options import LensOptions

    if not getattr(args, "text", None):
        raise ConfigError("the logit lens needs --text (or give --ablate)", key="text")
    opts = options_from_args(LensOptions, args, **_limit(args))
    return _lens(args, opts, load_model(opts.model, device=opts.device, dtype=opts.dtype))


def _lens(args, opts, loaded) -> int:
    from langadapt.eval.lens import lens_table, logit_lens, read_texts, write_lens_outputs
    from langadapt.eval.lens_new_tokens import read_new_tokens
    from langadapt.models.loading import load_model

    texts, targets = read_texts(opts.text, opts.targets, opts.limit)
    base = opts.base
    if base and base != "adapter-off":
        base = load_model(base, device=opts.device, dtype=opts.dtype)
    res = logit_lens(loaded, texts, base=base, targets=targets, src_lang=opts.src_lang,
                     tgt_lang=opts.tgt_lang, top_k=opts.top_k, max_length=opts.max_length,
                     batch_size=opts.batch_size, dataset=Path(opts.text).name, seed=opts.seed,
                     new_tokens=read_new_tokens(opts.new_tokens) if opts.new_tokens else None)
    if args.out:
        for path in write_lens_outputs(res, args.out):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print_rows(res.rows, True)
    else:
        sys.stdout.write(lens_table(res.rows))
    return 0


def _ablate(args) -> int:
    from langadapt.config import apply_overrides
    from langadapt.eval.ablation import ablation_table, run_ablation
    from langadapt.eval.options import AblationOptions, EvalInputs
    from langadapt.models.loading import load_model

    inputs = options_from_args(EvalInputs, args, **_limit(args),
                               options=apply_overrides({}, args.option, source="--option"))
    opts = options_from_args(AblationOptions, args, inputs=inputs)
    loaded = load_model(opts.model, device=opts.device, dtype=opts.dtype)
    rows = run_ablation(loaded, opts.ablate, opts.inputs, metrics=opts.metrics, stack=opts.stack,
                        scale=opts.scale, out_dir=args.out)
    if args.out:
        print(f"wrote {Path(args.out) / 'ablation.md'} and ablation.png", file=sys.stderr)
    if args.json:
        print_rows(rows, True)
    else:
        sys.stdout.write(ablation_table(rows))
    return 0
