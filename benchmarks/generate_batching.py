"""Batched, length-sorted generation vs one sentence at a time, on FLORES dev.

Builds a tiny random model of a real architecture (with the real tokenizer), translates
the FLORES dev source side with batch size 1 (baseline) and with length-sorted batches,
checks that the greedy outputs are identical, and prints JSON lines
`{"name", "value", "unit", "baseline", "ratio"}`.

    python benchmarks/generate_batching.py --arch m2m100 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langadapt.generate import GenerationOptions, translate_texts  # noqa: E402
from langadapt.models.loading import load_model  # noqa: E402
from langadapt.models.tiny import make_tiny  # noqa: E402
from langadapt.paths import data_root, tokenizers_root  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="m2m100", choices=("m2m100", "qwen3", "llama", "gemma3"))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--limit", type=int, default=None, help="first N sentences (default: all)")
    ap.add_argument("--prompt", default="auto", choices=("auto", "chat", "fewshot"))
    ap.add_argument("--src", default="khk_Cyrl")
    ap.add_argument("--tgt", default="eng_Latn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads for both runs (1 gives stable numbers on a busy machine)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    lines = (data_root() / "flores" / f"{args.src}.dev.txt").read_text(encoding="utf-8").splitlines()
    lines = lines[: args.limit] if args.limit else lines
    tok = {"m2m100": "qwen3", "qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3"}[args.arch]
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny(args.arch, tokenizers_root() / tok, os.path.join(tmp, args.arch), seed=0)
        loaded = load_model(path, device=args.device)
        opts = dict(max_new_tokens=args.max_new_tokens, prompt=args.prompt, device=args.device)
        run = lambda bs: translate_texts(loaded, lines, args.src, args.tgt,  # noqa: E731
                                         GenerationOptions(batch_size=bs, **opts))
        run(args.batch_size)  # warm-up: first-call allocations and caches are not the engine's speed
        one, t_one = timed(lambda: run(1))
        many, t_many = timed(lambda: run(args.batch_size))
    n = len(lines)
    tag = f"{args.arch}.{args.src}-{args.tgt}.n{n}.new{args.max_new_tokens}.{args.device}"
    same = sum(a == b for a, b in zip(one, many))
    rows = [
        {"name": f"generate.sentences_per_s.bs{args.batch_size}_sorted.{tag}", "value": n / t_many,
         "unit": "sentences/s", "baseline": n / t_one, "ratio": t_one / t_many},
        {"name": f"generate.identical_greedy_outputs.{tag}", "value": same, "unit": "sentences",
         "baseline": n, "ratio": same / n},
    ]
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
