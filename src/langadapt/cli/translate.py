"""CLI group `langadapt translate`: batched, resumable translation of text or JSONL fields."""

from __future__ import annotations

import argparse

from langadapt.cli._common import add_json_flag, print_rows

# Flags whose default depends on the backend: with --backend openai, the server settings
# (the --config file, else theirs) decide; given here, they win there too.
_BACKEND_DEFAULTS = {
    "max_new_tokens": {"help": "longest output, in tokens (default: 256; openai: the server "
                               "settings' max_tokens, 1024)"},
    "temperature": {"help": "sampling temperature, with --do-sample (default: 1.0); openai: sent as "
                            "given (default: the server settings', 0)"},
}


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """Generation flags shared by `translate` and `eval flores`: the fields of GenerationOptions
    (defaults live there), then the server flags of `--backend openai`."""
    from langadapt.cli.fields import add_option_args
    from langadapt.generation_options import GenerationOptions

    g = p.add_argument_group("generation")
    add_option_args(g, GenerationOptions, exclude=("few_shot", "server"), overrides=_BACKEND_DEFAULTS)
    s = p.add_argument_group("server (--backend openai)")
    s.add_argument("--base-url", help="e.g. http://127.0.0.1:8000/v1 (vllm serve, llama.cpp, Ollama, "
                                      "a hosted API)")
    s.add_argument("--api-key-env", help="NAME of the environment variable holding the API key")
    s.add_argument("--concurrency", type=int, help="requests in flight (default 8)")
    s.add_argument("--timeout", type=float, dest="timeout_s", help="seconds per request (default 120)")
    s.add_argument("--max-retries", type=int, help="retries per request (default 5)")
    s.add_argument("--config", help="YAML of server settings: prompt template, prices, gates, retries "
                                    "(docs/synthetic-data.md); flags given here win")


def server_options(args):
    """The `--backend openai` server settings: the `--config` file, with the flags given on top."""
    from langadapt.synth.options import load_server_options

    return load_server_options(args.config, base_url=args.base_url, model=args.model,
                               api_key_env=args.api_key_env, concurrency=args.concurrency,
                               timeout_s=args.timeout_s, max_retries=args.max_retries,
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
