"""CLI group `langadapt model`: tiny models; resize, merge, fetch and import live in their own modules."""

from __future__ import annotations

from langadapt.cli.fields import add_option_args, options_from_args
from langadapt.models.tiny_options import TinyOptions
from langadapt.registry import import_optional

# Further subcommands live in their own modules: each has `register(model_subparsers)`.
EXTRA = ("langadapt.cli.model_surgery", "langadapt.cli.model_gguf")


def register(sub) -> None:
    p = sub.add_parser("model", help="model surgery: tiny models, resize + init, merge adapters")
    msub = p.add_subparsers(dest="model_cmd", metavar="CMD")
    t = msub.add_parser("tiny", help="a small random model of a real architecture, matching a tokenizer")
    t.add_argument("--out", required=True, help="output model folder")
    add_option_args(t, TinyOptions)
    t.set_defaults(func=_tiny)
    for mod in EXTRA:
        # a missing langadapt module raises; only an optional dependency skips (with a warning)
        module = import_optional(mod)
        if module is not None:
            module.register(msub)
    p.set_defaults(func=_help(p))


def _help(p):
    def run(args):
        if getattr(args, "model_cmd", None) is None:
            p.print_help()
            return 2
    return run


def _tiny(args) -> int:
    from langadapt.cli._common import arg_paths
    from langadapt.output_guard import check_out_dir

    check_out_dir(args.out, arg_paths(args, "out"))  # before torch is imported
    from langadapt.models.tiny import make_tiny

    opts = options_from_args(TinyOptions, args).model_dump()
    out = make_tiny(opts.pop("arch"), opts.pop("tokenizer"), args.out, **opts)
    print(f"wrote {out}")
    return 0
