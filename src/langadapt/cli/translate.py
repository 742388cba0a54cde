"""CLI group `langadapt translate`: batched, resumable translation of text or JSONL fields."""

from __future__ import annotations

import argparse

from langadapt.cli._common import add_json_flag, print_rows


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """Generation flags shared by `translate` and `eval flores`."""
    g = p.add_argument_group("generation")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--max-new-tokens", type=int, default=256)
    g.add_argument("--num-beams", type=int, default=1, help="1 = greedy")
    g.add_argument("--sample", action="store_true", help="sample instead of greedy/beam search")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--prompt", choices=("auto", "chat", "fewshot"), default="auto",
                   help="causal models: chat template or plain few-shot prompt (auto: chat if the "
                        "tokenizer has a template)")
    g.add_argument("--backend", choices=("auto", "hf", "vllm"), default="auto",
                   help="vLLM for causal models when installed with a GPU; HF generate otherwise")
    g.add_argument("--device", default=None, help="cuda, cpu, cuda:1 … (default: GPU if present)")
    g.add_argument("--dtype", default="auto", help="auto | bfloat16 | float16 | float32")


def generation_options(args):
    from langadapt.generate import GenerationOptions

    return GenerationOptions(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                             num_beams=args.num_beams, do_sample=args.sample,
                             temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                             prompt=args.prompt, backend=args.backend, device=args.device,
                             dtype=args.dtype)


def register(sub) -> None:
    p = sub.add_parser("translate", help="batched, resumable translation of text or JSONL fields",
                       description="Translate IN (.txt lines or .jsonl fields) into OUT. An "
                                   "interrupted run resumes where it stopped.")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--model", required=True, help="model folder, hub id or PEFT adapter folder")
    p.add_argument("--src", required=True, help="source language (FLORES code, e.g. khk_Cyrl)")
    p.add_argument("--tgt", required=True, help="target language (FLORES code, e.g. eng_Latn)")
    p.add_argument("--field", action="append", dest="fields",
                   help=".jsonl field to translate (repeatable; default: text)")
    p.add_argument("--flush-every", type=int, default=None,
                   help="texts per saved chunk (default: 8 batches)")
    p.add_argument("--restart", action="store_true", help="discard unfinished work instead of resuming")
    add_generation_args(p)
    add_json_flag(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from langadapt.translate import translate_file

    rows = translate_file(args.model, args.input, args.output, src=args.src, tgt=args.tgt,
                          fields=tuple(args.fields or ("text",)), gen=generation_options(args),
                          flush_every=args.flush_every, restart=args.restart, progress=True)
    print_rows(rows, args.json)
    return 0
