"""Causal sft / mt batches: padded to the longest example vs padding-free, side by side.

A tiny Qwen3 (real 151k vocabulary) learns causal translation (`langadapt train mt`) on
`${data}/parallel/mn_en.tsv`, both directions, through `langadapt.train.train`: once with
`data.padding_free: false` (the old path, batches padded to their longest example) and
once with the default padding-free batches (examples end to end, positions restarting).
The runs alternate `--repeats` times in this process; the median of each is reported.

Measured: the share of padding in the padded path's batches (one epoch of randomly
drawn batches, as the trainer draws them), real (non-pad) training tokens per second of each path,
and the first steps' losses of both (they must agree). `ratio` = padding-free / padded.

    python benchmarks/train_padding_free.py [--steps 6] [--batch-size 16] [--limit 400]
        [--hidden 64] [--repeats 2]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from pathlib import Path

import torch


def pad_share(model_dir: Path, cfg, batch: int, seed: int) -> float:
    """Padding share of one epoch of padded batches drawn in a seeded random order."""
    from langadapt.models.loading import load_tokenizer
    from langadapt.train.objectives import build_data

    tok = load_tokenizer(model_dir)
    data = build_data("mt", cfg, tok, False)
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed)).tolist()
    real = total = 0
    for start in range(0, len(order), batch):
        lengths = [len(data.train[i]["input_ids"]) for i in order[start:start + batch]]
        real += sum(lengths)
        total += max(lengths) * len(lengths)
    return 1.0 - real / total


def run(model_dir: Path, out: Path, padding_free: bool, a) -> tuple[float, list[float]]:
    """(real tokens per second, logged losses) of one training run."""
    from langadapt.paths import data_root
    from langadapt.train import TrainConfig, train

    cfg = TrainConfig(model=str(model_dir), output_dir=str(out), method="full", tensorboard=False,
                      data={"train": [str(data_root() / "parallel" / "mn_en.tsv")], "limit": a.limit,
                            "padding_free": padding_free},
                      seq_len=256, batch_size=a.batch_size, max_steps=a.steps, lr=1e-3)
    res = train(cfg, "mt")
    return res.summary["tokens_per_second"], [r["loss"] for r in res.log if "loss" in r]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--limit", type=int, default=400, help="translation pairs read")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from langadapt.models.tiny import make_tiny
    from langadapt.paths import data_root, tokenizers_root
    from langadapt.train import TrainConfig

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = make_tiny("qwen3", tokenizers_root() / "qwen3", work / "m", hidden=a.hidden, heads=4,
                              kv_heads=2, intermediate=2 * a.hidden)
        cfg = TrainConfig(model=str(model_dir), output_dir=str(work / "unused"), seq_len=256,
                          data={"train": [str(data_root() / "parallel" / "mn_en.tsv")], "limit": a.limit,
                                "padding_free": False})
        share = pad_share(model_dir, cfg, a.batch_size, seed=0)
        speed: dict[bool, list[float]] = {True: [], False: []}
        losses: dict[bool, list[float]] = {}
        for i in range(a.repeats):
            for free in (False, True):
                tps, losses[free] = run(model_dir, work / f"{free}-{i}", free, a)
                speed[free].append(tps)
    flat, padded = statistics.median(speed[True]), statistics.median(speed[False])
    diff = max(abs(x - y) / abs(y) for x, y in zip(losses[True], losses[False]))
    for name, value, unit, base in [
        ("mt_padded_batches_padding_share", share, "fraction of batch positions", 0.0),
        ("mt_train_real_tokens_per_s", flat, "tokens/s (padding-free vs padded)", padded),
        ("mt_loss_max_relative_difference", diff, "padding-free vs padded, per step", 0.0),
    ]:
        print(json.dumps({"name": name, "value": round(value, 6), "unit": unit, "baseline": round(base, 4),
                          "ratio": round(value / base, 4) if base else None}))


if __name__ == "__main__":
    main()
