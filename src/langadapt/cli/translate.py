"""CLI group `langadapt translate`: batched, resumable translation of text or JSONL fields."""

from __future__ import annotations

import argparse

from langadapt.cli._common import add_json_flag, print_rows

# ServerOptions fields that are flags of their own (the server settings' defaults apply to the rest)
SERVER_FLAGS = ("base_url", "api_key_env", "concurrency", "timeout_s", "max_retries")


def _backend_notes() -> dict:
    """Flags whose default depends on the backend: with --backend openai, the server settings
    (the --config file, else their defaults, read from ServerOptions) decide; given here, they win."""
    from langadapt.gen.options import ServerOptions

    server = ServerOptions.model_fields
    return {"max_new_tokens": {"note": f"openai: the server settings' max_tokens "
                                       f"({server['max_tokens'].default})"},
            "temperature": {"note": f"openai: sent as given (default: the server settings', "
                                    f"{server['temperature'].default})"}}


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """Generation flags shared by `translate` and `eval flores`: the fields of GenerationOptions
    (defaults live there), then the server flags of `--backend openai`."""
    from langadapt.cli.fields import add_option_args
    from langadapt.gen.options import ServerOptions
    from langadapt.generation_options import GenerationOptions

    g = p.add_argument_group("generation")
    add_option_args(g, GenerationOptions, exclude=("few_shot", "server"), overrides=_backend_notes())
    s = p.add_argument_group("server (--backend openai)")
    add_option_args(s, ServerOptions, exclude=set(ServerOptions.model_fields) - set(SERVER_FLAGS),
                    overrides={"base_url": {"required": False, "note": "required with --backend openai"}})
    s.add_argument("--config", help="YAML of server settings: prompt template, prices, gates, retries "
                                    "(docs/synthetic-data.md); flags given here win")


def server_options(args):
    """The `--backend openai` server settings: the `--config` file, with the flags given on top."""
    from langadapt.gen.options import load_server_options

    given = {k: getattr(args, k, None) for k in SERVER_FLAGS}  # unset flags are not in `args`
    return load_server_options(args.config, model=args.model, **given,
                               temperature=getattr(args, "temperature", None),
                               max_tokens=getattr(args, "max_new_tokens", None))


def generation_options(args):
    """GenerationOptions from the flags that were given (the model's defaults for the rest)."""
    from langadapt.cli.fields import options_from_args
    from langadapt.generation_options import GenerationOptions

    if getattr(args, "backend", None) == "openai":  # the server's settings decide sampling and length
        return options_from_args(GenerationOptions, args, server=server_options(args))
    return options_from_args(GenerationOptions, args)


def register(sub) -> None:
    p = sub.add_parser("translate", help="batched, resumable translation of text or JSONL fields",
                       description="Translate IN (.txt lines or .jsonl fields) into OUT. An "
                                   "interrupted run resumes where it stopped.")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--model", help="model folder, hub id or PEFT adapter folder; with --backend "
                                    "openai, the server's model name")
    p.add_argument("--src", required=True, help="source language (FLORES code, e.g. khk_Cyrl)")
    p.add_argument("--tgt", required=True, help="target language (FLORES code, e.g. eng_Latn)")
    p.add_argument("--field", action="append", dest="fields",
                   help=".jsonl field to translate (repeatable; default: text, or with --backend "
                        "openai: messages / instruction,input,output when the records have them)")
    p.add_argument("--flush-every", type=int, default=None,
                   help="texts per saved chunk (default: 8 batches)")
    p.add_argument("--restart", action="store_true", help="discard unfinished work instead of resuming")
    add_generation_args(p)
    p.add_argument("--rejected", help="--backend openai: folder for rejected/<reason>.jsonl.gz "
                                      "(default: beside OUT)")
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.cli._common import arg_paths
    from langadapt.output_guard import check_out_dir, check_out_file

    inputs = arg_paths(args, "output", "rejected")
    check_out_file(args.output, inputs)  # before a model is loaded or a server asked
    if args.rejected:  # receives rejected/<reason>.jsonl.gz files only
        check_out_dir(args.rejected, inputs, owned=True)
    if getattr(args, "backend", None) == "openai":
        return _run_openai(args)
    if not args.model:
        from langadapt.errors import ConfigError

        raise ConfigError("--model is required", key="model")
    from langadapt.translate import translate_file

    rows = translate_file(args.model, args.input, args.output, src=args.src, tgt=args.tgt,
                          fields=tuple(args.fields or ("text",)), gen=generation_options(args),
                          flush_every=args.flush_every, restart=args.restart, progress=True)
    print_rows(rows, args.json)
    return 0


def _run_openai(args) -> int:
    import logging

    from langadapt.synth.run import translate_file_openai

    opts = server_options(args)  # only flags given on the command line override the --config file
    if not args.debug:  # one INFO line per HTTP request would drown the progress bar
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("httpx2").setLevel(logging.WARNING)
    rows = translate_file_openai(opts, args.input, args.output, src=args.src, tgt=args.tgt,
                                 fields=args.fields, restart=args.restart, rejected_dir=args.rejected,
                                 progress=True)
    print_rows(rows, args.json)
    return 0
