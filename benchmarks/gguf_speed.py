"""Generation speed of an adapted model against its base, in llama.cpp and in HF generate.

Usage:
    python benchmarks/gguf_speed.py --base BASE.gguf --adapted ADAPTED.gguf \
        [--base-hf BASE_DIR --adapted-hf ADAPTED_DIR] --text PROMPTS.txt [--prompts 16]
        [--max-new-tokens 64] [--threads 2] [--judge JUDGE_DIR]

The GGUF files are `langadapt model export` outputs of the same weight type (e.g. q8_0);
the HF folders are what they were exported from. Every model answers the same prompts
(the first words of the documents of PROMPTS.txt), greedy, a fixed number of new tokens,
one prompt at a time, through `langadapt.eval.speed.evaluate_speed` (the `eval speed`
command). Prints JSON lines `{name, value, unit, baseline, ratio}`: the baseline is the
base model in the same runtime, so `ratio` is adapted / base. Raw bytes per second counts
every byte generated; useful bytes per second only continuations that pass the quality
thresholds (target language, no loops): a model that loops can look fast, so read both,
and the samples printed to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

METRICS = {  # row metric -> (name, unit)
    "bytes_per_second": ("bytes_per_s", "bytes/s"),
    "useful_bytes_per_second": ("useful_bytes_per_s", "bytes/s"),
    "tokens_per_second": ("tokens_per_s", "tokens/s"),
    "bytes_per_token": ("bytes_per_token", "bytes/token"),
    "pass_share": ("pass_share", "share"),
}


def _row(name: str, value: float, unit: str, baseline: float | None) -> None:
    ratio = value / baseline if baseline else None
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit,
                      "baseline": None if baseline is None else round(baseline, 4),
                      "ratio": None if ratio is None else round(ratio, 4)}), flush=True)


def _measure(model: str, backend: str, args) -> dict[str, float]:
    from langadapt.eval.options import SpeedOptions
    from langadapt.eval.speed import evaluate_speed

    opts = SpeedOptions(model=model, text=[args.text], backend=backend, threads=args.threads,
                        prompts=args.prompts, max_new_tokens=args.max_new_tokens, warmup=1,
                        judge=args.judge, device="cpu", dtype="float32", resamples=200)
    result = evaluate_speed(opts)
    values = {}
    for r in result.rows:
        short = r.metric.split(".", 1)[-1]
        if short in METRICS:
            values[short] = r.value
    for rec in result.records[:3]:
        print(f"[{backend} {model}] {rec.get('prompt', '')!r} -> {rec.get('text', '')[:160]!r} "
              f"pass={rec.get('pass')}", file=sys.stderr)
    return values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="base model, .gguf")
    ap.add_argument("--adapted", required=True, help="adapted model, .gguf of the same type")
    ap.add_argument("--base-hf", help="base HF folder (adds the HF generate rows)")
    ap.add_argument("--adapted-hf", help="adapted HF folder")
    ap.add_argument("--text", required=True, help="documents whose first words are the prompts")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--judge", default=None, help="HF folder scoring continuations (optional)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runs = [("llamacpp", args.base, args.adapted)]
    if args.base_hf and args.adapted_hf:
        runs.append(("hf", args.base_hf, args.adapted_hf))
    for backend, base, adapted in runs:
        b, a = _measure(base, backend, args), _measure(adapted, backend, args)
        for short, (name, unit) in METRICS.items():
            if short in b and short in a:
                _row(f"{backend}.base.{name}", b[short], unit, None)
                _row(f"{backend}.adapted.{name}", a[short], unit, b[short])


if __name__ == "__main__":
    main()
