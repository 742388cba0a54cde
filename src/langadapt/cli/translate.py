"""CLI group `langadapt translate`: batched, resumable translation of text or JSONL fields."""

from __future__ import annotations

import argparse

from langadapt.cli._common import add_json_flag, print_rows


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """Generation flags shared by `translate` and `eval flores`."""
    g = p.add_argument_group("generation")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--max-new-tokens", type=int, default=None, help="default 256 (openai: 1024)")
    g.add_argument("--num-beams", type=int, default=1, help="1 = greedy")
    g.add_argument("--sample", action="store_true", help="sample instead of greedy/beam search")
    g.add_argument("--temperature", type=float, default=None,
                   help="with --sample (default 1.0); openai: sent as given (default 0)")
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--prompt", choices=("auto", "chat", "fewshot"), default="auto",
                   help="causal models: chat template or plain few-shot prompt (auto: chat if the "
                        "tokenizer has a template)")
    g.add_argument("--backend", choices=("auto", "hf", "vllm", "openai"), default="auto",
                   help="vLLM for causal models when installed with a GPU, HF generate otherwise; "
                        "openai: an OpenAI-compatible server (see the server flags; --model is "
                        "then the server's model name)")
    g.add_argument("--device", default=None, help="cuda, cpu, cuda:1 … (default: GPU if present)")
    g.add_argument("--dtype", default="auto", help="auto | bfloat16 | float16 | float32")
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
                               temperature=args.temperature, max_tokens=args.max_new_tokens)


def generation_options(args):
    from langadapt.generate import GenerationOptions

    if args.backend == "openai":  # the server's settings decide sampling and length
        return GenerationOptions(backend="openai", server=server_options(args),
                                 batch_size=args.batch_size, seed=args.seed)
    return GenerationOptions(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens or 256,
                             num_beams=args.num_beams, do_sample=args.sample,
                             temperature=1.0 if args.temperature is None else args.temperature,
                             top_p=args.top_p, seed=args.seed,
                             prompt=args.prompt, backend=args.backend, device=args.device,
                             dtype=args.dtype)


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
    if args.backend == "openai":
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
