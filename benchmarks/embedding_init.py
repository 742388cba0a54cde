"""Held-out bits per byte of new-token init methods, at step 0 and after embeddings-only training.

The core experiment of `recipes/embedding-init.yaml` as one script, at tiny scale on CPU:
a tiny Qwen3-architecture model with the real Qwen3 tokenizer is pretrained briefly on
Mongolian news, the tokenizer is extended on the same text, the model is resized with
each init method, and held-out bpb is measured (the base model's bpb is the baseline,
so `ratio` = bpb(method) / bpb(base); 1.0 means the new tokens cost nothing).

    python benchmarks/embedding_init.py [--work DIR] [--pretrain-steps 1000] [--add 1000]
        [--train-steps 0] [--methods fvt mean random focus calibrated] [--trim] [--layers 2] [--hidden 128]
        [--untied]

`--trim` first trims the Qwen3 tokenizer to the ids the training text (plus the byte
alphabet and specials) uses, so the 151k-row head does not dominate CPU time; the
text is tokenized exactly as by the full tokenizer (the trim stage checks it).
Every stage is cached in `--work`: change `--add` or the model size with a new folder.

Prints one JSON line per (method, step): {"name", "value", "unit", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

from langadapt.eval.perplexity import BpbOptions, evaluate_bpb
from langadapt.models.embeddings import resize_model
from langadapt.models.tiny import make_tiny
from langadapt.paths import data_root, tokenizers_root
from langadapt.tokenizer.extend import Corpus, extend
from langadapt.tokenizer.trim import trim
from langadapt.train.config import TrainConfig
from langadapt.train.trainer import train


def split(src: Path, work: Path, heldout: int, seed: int) -> tuple[Path, Path]:
    lines = sorted({x for x in src.read_text(encoding="utf-8").splitlines() if x.strip()})
    random.Random(seed).shuffle(lines)
    tr, ho = work / "train.txt", work / "heldout.txt"
    tr.write_text("\n".join(lines[heldout:]) + "\n", encoding="utf-8")
    ho.write_text("\n".join(lines[:heldout]) + "\n", encoding="utf-8")
    return tr, ho


def fit(model: Path, tok: Path | None, data: Path, out: Path, method: str, steps: int, lr: float,
        seed: int) -> Path:
    if (out / "train_summary.json").is_file():
        return out
    cfg = TrainConfig(model=str(model), tokenizer=str(tok) if tok else None, data={"train": [str(data)]},
                      method=method, max_steps=steps, seq_len=128, batch_size=8, lr=lr, seed=seed,
                      warmup_steps=min(20, steps // 10), output_dir=str(out), tensorboard=False,
                      logging_steps=10)
    train(cfg, "cpt")
    return out


def bpb(model: Path, heldout: Path, docs: int) -> float:
    rows = evaluate_bpb(BpbOptions(model=str(model), text=[str(heldout)], batch_size=8, max_length=256,
                                   resamples=0, max_docs=docs))
    return next(r.value for r in rows if r.metric == "bpb")


def untie(folder: Path, seed: int) -> None:
    """Give the saved tiny model its own randomly initialised output head."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    model.config.tie_word_embeddings = False
    head = torch.empty_like(model.lm_head.weight)
    head.normal_(0.0, model.config.initializer_range, generator=torch.Generator().manual_seed(seed + 1))
    model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(folder)


def emit(name: str, value: float, baseline: float) -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": "bits/byte",
                      "baseline": round(baseline, 4), "ratio": round(value / baseline, 4)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="runs/bench-embedding-init")
    ap.add_argument("--pretrain-steps", type=int, default=1000)
    ap.add_argument("--add", type=int, default=1000)
    ap.add_argument("--train-steps", type=int, default=0, help="embeddings-only steps after init")
    ap.add_argument("--heldout", type=int, default=200)
    ap.add_argument("--methods", nargs="+", default=["fvt", "mean", "random", "focus", "calibrated"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trim", action="store_true", help="trim the base tokenizer to the corpus first")
    ap.add_argument("--layers", type=int, default=2, help="tiny base: decoder layers")
    ap.add_argument("--hidden", type=int, default=128,
                    help="tiny base: hidden size (heads = hidden/32, MLP = 2x hidden)")
    ap.add_argument("--untied", action="store_true", help="tiny base: a separate output head")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train_txt, heldout = split(data_root() / "mono" / "news_ner_v1.txt", work, args.heldout, args.seed)
    base_tok = tokenizers_root() / "qwen3"
    if args.trim:
        if not (work / "trimmed").exists():
            trim(base_tok, Corpus([train_txt]), work / "trimmed")
        base_tok = work / "trimmed"
    tiny = work / "tiny"
    if not tiny.exists():
        heads = max(2, args.hidden // 32)
        make_tiny("qwen3", base_tok, tiny, layers=args.layers, hidden=args.hidden, heads=heads,
                  kv_heads=max(1, heads // 2), intermediate=2 * args.hidden, seed=args.seed)
        if args.untied:
            untie(tiny, args.seed)
    base = fit(tiny, None, train_txt, work / "base", "full", args.pretrain_steps, 3e-3, args.seed)
    tok = work / "tok"
    if not tok.exists():
        extend(base_tok, Corpus([train_txt]), args.add, tok, seed=args.seed)
    base_bpb = bpb(base, heldout, args.heldout)
    emit("bpb.base", base_bpb, base_bpb)
    for m in args.methods:
        out = work / f"resized-{m}"
        opts = {"corpus": [str(train_txt)]} if m in ("focus", "calibrated") else {}
        resize_model(base, tok, out, init=m, init_options=opts, seed=args.seed)
        emit(f"bpb.step0.{m}", bpb(out, heldout, args.heldout), base_bpb)
        if args.train_steps:
            trained = fit(out, None, train_txt, work / f"emb-{m}", "embeddings", args.train_steps, 1e-3,
                          args.seed)
            emit(f"bpb.emb{args.train_steps}.{m}", bpb(trained, heldout, args.heldout), base_bpb)
    print(json.dumps({"name": "wall_time", "value": round(time.time() - t0, 1), "unit": "s",
                      "baseline": None, "ratio": None}))


if __name__ == "__main__":
    main()
