"""Fertility of extended tokenizers against their bases and a from-scratch reference; trim size.

For each base (Qwen3, Llama 3, Gemma 3): extend by +N on the shared `mono/` text and
measure tokens per word on FLORES Mongolian and English (baseline: the base). The
reference is a from-scratch BPE with N tokens trained on the same text with the same
pre-tokenizer (`train --like qwen3`): baseline for "how close is base+N to what N merges
can buy". Then trims Qwen3 to the tokens of the whole shared data (Mongolian + English
sides) and reports the kept size. Writes `fertility.png` (+ `sweep.png` with --sweep).

Prints JSON lines {name, value, unit, baseline, ratio}.
Usage: python benchmarks/tokenizer_fertility.py [--add 16000] [--out DIR] [--sweep 1000,4000,...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from langadapt.paths import data_root, tokenizers_root
from langadapt.textio import expand_paths
from langadapt.tokenizer.extend import Corpus, extend
from langadapt.tokenizer.stats import plot_rows, stats_rows
from langadapt.tokenizer.sweep import plot_sweep, sweep
from langadapt.tokenizer.train import train
from langadapt.tokenizer.trim import trim

BASES = ("qwen3", "llama3", "gemma3")


def emit(name: str, value: float, unit: str, baseline: float | None) -> None:
    ratio = value / baseline if baseline else None
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit,
                      "baseline": None if baseline is None else round(baseline, 4),
                      "ratio": None if ratio is None else round(ratio, 4)}), flush=True)


def fertility(refs: list[str], texts: list[Path]) -> tuple[dict, list]:
    rows = stats_rows(refs, texts, ["fertility", "roundtrip_exact"])
    return {(r.model, r.dataset, r.metric): r.value for r in rows}, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--add", type=int, default=16000)
    ap.add_argument("--out", default=None)
    ap.add_argument("--bases", default=",".join(BASES))
    ap.add_argument("--sweep", default=None, help="comma-separated sizes for a Qwen3 sweep")
    args = ap.parse_args()
    data, toks = data_root(), tokenizers_root()
    out = Path(args.out or tempfile.mkdtemp(prefix="langadapt-bench-"))
    flores = [data / "flores/khk_Cyrl.dev.txt", data / "flores/eng_Latn.dev.txt"]
    corpus = Corpus([data / "mono"])
    refs = []
    for name in args.bases.split(","):
        extend(toks / name, corpus, args.add, out / f"{name}+{args.add}", eval_files=flores)
        train(corpus, args.add, out / f"scratch-like-{name}", like=toks / name)
        refs += [f"{name}={toks / name}", f"{name}+{args.add}={out / f'{name}+{args.add}'}",
                 f"scratch{args.add}-like-{name}={out / f'scratch-like-{name}'}"]
    values, rows = fertility(refs, flores)
    plot_rows(rows, out / "fertility.png", title=f"tokens per word, base vs +{args.add}")
    for name in args.bases.split(","):
        scratch = values[(f"scratch{args.add}-like-{name}", flores[0].name, "fertility")]
        ext = f"{name}+{args.add}"
        for path in flores:
            emit(f"fertility_{ext}_{path.stem}", values[(ext, path.name, "fertility")], "tokens/word",
                 values[(name, path.name, "fertility")])
            emit(f"roundtrip_{ext}_{path.stem}", values[(ext, path.name, "roundtrip_exact")],
                 "share of lines exact", values[(name, path.name, "roundtrip_exact")])
        emit(f"fertility_{ext}_vs_scratch{args.add}_khk", values[(ext, flores[0].name, "fertility")],
             "tokens/word (baseline: from-scratch BPE)", scratch)

    everything = expand_paths([data]) + [data / "parallel/mn_en.tsv"]
    summary = trim(toks / "qwen3", Corpus(everything), out / "qwen3-trimmed")
    emit("trim_qwen3_shared_data_vocab", summary["size"], "ids (baseline: base vocab)", summary["base_size"])
    emit("trim_qwen3_identical_texts", summary["checks"]["same_tokens_texts"], "texts",
         summary["texts"])

    if args.sweep:
        adds = [int(x) for x in args.sweep.split(",")]
        srows = sweep(toks / "qwen3", corpus, adds, out / "sweep", texts=flores, eval_files=flores)
        plot_sweep(srows, out / "sweep.png")
        base = {r.dataset: r.value for r in srows if r.extra["added"] == 0}
        for r in srows:
            if r.extra["added"]:
                emit(f"sweep_qwen3_+{r.extra['added']}_{Path(r.dataset).stem}", r.value, "tokens/word",
                     base[r.dataset])


if __name__ == "__main__":
    main()
