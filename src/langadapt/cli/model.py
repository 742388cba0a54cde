"""CLI group `langadapt model`: tiny models; resize, merge, fetch and import live in their own modules."""

from __future__ import annotations

from langadapt.models import ARCHS
from langadapt.registry import import_optional

# Further subcommands live in their own modules: each has `register(model_subparsers)`.
EXTRA = ("langadapt.cli.model_surgery", "langadapt.cli.model_gguf")


def register(sub) -> None:
    p = sub.add_parser("model", help="model surgery: tiny models, resize + init, merge adapters")
    msub = p.add_subparsers(dest="model_cmd", metavar="CMD")
    t = msub.add_parser("tiny", help="a small random model of a real architecture, matching a tokenizer")
    t.add_argument("--arch", required=True, choices=ARCHS)
    t.add_argument("--tokenizer", required=True, help="tokenizer folder (or hub id)")
    t.add_argument("--out", required=True)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--kv-heads", type=int, default=2)
    t.add_argument("--intermediate", type=int, default=128)
    t.add_argument("--max-positions", type=int, default=2048)
    t.add_argument("--seed", type=int, default=0)
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

    out = make_tiny(args.arch, args.tokenizer, args.out, layers=args.layers, hidden=args.hidden,
                    heads=args.heads, kv_heads=args.kv_heads, intermediate=args.intermediate,
                    max_positions=args.max_positions, seed=args.seed)
    print(f"wrote {out}")
    return 0
