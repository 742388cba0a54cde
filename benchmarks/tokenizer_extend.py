"""Speed of `tokenizer extend` and of the extended tokenizer.

1. `extend` (continued BPE, checks, writing) +N on the shared Mongolian `mono/` text,
   against the `tokenizers` Rust BPE trainer training N merges from scratch on the same
   text with the same pre-tokenizer (`train --like`), in the same process.
2. Batch-encoding speed of the extended tokenizer on Mongolian text against the base's.

Prints JSON lines {name, value, unit, baseline, ratio}.
Usage: python benchmarks/tokenizer_extend.py [--base qwen3] [--add 16000] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tokenizers import Tokenizer

from langadapt.paths import data_root, tokenizers_root
from langadapt.tokenizer.extend import Corpus, extend
from langadapt.tokenizer.train import train


def emit(name: str, value: float, unit: str, baseline: float) -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit,
                      "baseline": round(baseline, 4), "ratio": round(value / baseline, 4)}), flush=True)


def encode_speed(tok: Tokenizer, lines: list[str], repeats: int = 3) -> float:
    """Best-of-`repeats` characters per second of `encode_batch` (no special tokens)."""
    chars = sum(len(x) for x in lines)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tok.encode_batch(lines, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
    return chars / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="qwen3")
    ap.add_argument("--add", type=int, default=16000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    data, base = data_root(), tokenizers_root() / args.base
    out = Path(args.out or tempfile.mkdtemp(prefix="langadapt-bench-"))
    corpus = Corpus([data / "mono"])
    start = time.perf_counter()
    extend(base, corpus, args.add, out / f"{args.base}+{args.add}",
           eval_files=[data / "flores/khk_Cyrl.dev.txt", data / "flores/eng_Latn.dev.txt"])
    t_extend = time.perf_counter() - start
    start = time.perf_counter()
    train(corpus, args.add, out / f"scratch{args.add}", like=base)
    t_scratch = time.perf_counter() - start
    emit(f"extend_{args.base}_+{args.add}_seconds", t_extend, "s (baseline: Rust BPE trainer from scratch)",
         t_scratch)

    lines = [x for x in (data / "mono/news_ner_v1.txt").read_text("utf-8").splitlines() if x]
    lines += [x for x in (data / "flores/khk_Cyrl.dev.txt").read_text("utf-8").splitlines() if x]
    old = Tokenizer.from_file(str(base / "tokenizer.json"))
    new = Tokenizer.from_file(str(out / f"{args.base}+{args.add}" / "tokenizer.json"))
    emit(f"encode_{args.base}_+{args.add}_mn_chars_per_s", encode_speed(new, lines),
         "chars/s (baseline: base)", encode_speed(old, lines))


if __name__ == "__main__":
    main()
