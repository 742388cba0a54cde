"""`langadapt model resize` and `langadapt model merge`: parse, call the library, print rows."""

from __future__ import annotations

from langadapt.cli._common import add_json_flag, arg_paths, print_rows
from langadapt.config import apply_overrides
from langadapt.output_guard import check_out_dir


def register(msub) -> None:
    r = msub.add_parser("resize", help="resize embeddings + head to an extended or trimmed tokenizer",
                        description="Resize BASE to the tokenizer folder made by 'langadapt tokenizer' "
                        "(extended: new_tokens.jsonl; trimmed: id_map.json), initialise new rows, "
                        "check that old-token logits are unchanged, and save an HF folder.")
    r.add_argument("base", help="model folder or hub id")
    r.add_argument("--tokenizer", required=True, help="extended or trimmed tokenizer folder")
    r.add_argument("--init", default="fvt", help="init method for new rows: fvt, mean, random, focus, "
                   "or any registered one (default: fvt)")
    r.add_argument("--corpus", nargs="+", default=None,
                   help="target-language text for corpus-based methods (focus)")
    r.add_argument("--init-opt", nargs="+", default=[], metavar="KEY=VALUE",
                   help="init method options, e.g. weighting=softmax top_k=10")
    r.add_argument("--out", required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--check-text", default=None,
                   help="text file for the function-preservation check (default: the new tokens' texts)")
    r.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 | float16")
    r.add_argument("--device", default=None)
    r.add_argument("--force", action="store_true", help="redo even if OUT holds this exact resize")
    add_json_flag(r)
    r.set_defaults(func=_resize)

    m = msub.add_parser("merge", help="merge a LoRA adapter into its base model (plain HF folder)")
    m.add_argument("adapter", help="PEFT adapter folder")
    m.add_argument("--out", required=True)
    m.add_argument("--base", default=None, help="base model (default: the one the adapter names)")
    m.add_argument("--dtype", default="auto")
    m.add_argument("--device", default=None)
    m.add_argument("--check-text", default=None, help="text file for the merged-vs-adapter check")
    m.add_argument("--force", action="store_true")
    add_json_flag(m)
    m.set_defaults(func=_merge)


def _resize(args) -> int:
    check_out_dir(args.out, arg_paths(args, "out"), also_ours=("resize.json",))  # before loading
    from langadapt.models.embeddings import resize_model

    opts = apply_overrides({}, args.init_opt, source="--init-opt")
    if args.corpus:
        opts["corpus"] = args.corpus
    rows = resize_model(args.base, args.tokenizer, args.out, init=args.init, init_options=opts,
                        seed=args.seed, check_text=args.check_text, device=args.device,
                        dtype=args.dtype, force=args.force)
    print_rows(rows, args.json)
    return 0


def _merge(args) -> int:
    check_out_dir(args.out, arg_paths(args, "out"), also_ours=("merge.json",))  # before loading
    from langadapt.models.merge import merge_adapter

    rows = merge_adapter(args.adapter, args.out, base=args.base, dtype=args.dtype, device=args.device,
                         check_text=args.check_text, force=args.force)
    print_rows(rows, args.json)
    return 0
