"""LoRA vs full training on a tiny model: tokens per second and peak memory.

Each method trains in its own subprocess (so peak resident memory is its own) through
`langadapt.train.train` on packed `${data}/mono/bible_mbspeech.txt`, same model, data,
batch and steps. Full training is the baseline; `ratio` = LoRA / full.

    python benchmarks/train_lora_vs_full.py [--steps 6] [--seq-len 128] [--batch-size 4]
        [--layers 4] [--hidden 128]

Prints JSON lines {"name", "value", "unit", "baseline", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(method: str, model_dir: str, out: str, steps: int, seq_len: int, batch: int) -> None:
    """Train once and print {tokens_per_s, peak_rss_mb, trainable}; runs in its own process."""
    from transformers import TrainerCallback

    from langadapt.paths import data_root
    from langadapt.train import TrainConfig, train

    marks: list[tuple[float, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append((time.perf_counter(), state.num_input_tokens_seen))

    cfg = TrainConfig(model=model_dir, data={"train": [str(data_root() / "mono" / "bible_mbspeech.txt")]},
                      method=method, lora={"r": 16}, max_steps=steps + 1, seq_len=seq_len, batch_size=batch,
                      lr=1e-3, output_dir=out, tensorboard=False)
    res = train(cfg, "cpt", callbacks=[Clock()])
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"tokens_per_s": (n1 - n0) / (t1 - t0), "peak_rss_mb": peak_kb / 1024,
                      "trainable": res.summary["trainable_params"]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "MODEL", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(*a.child, a.steps, a.seq_len, a.batch_size)
        return
    from langadapt.models.tiny import make_tiny
    from langadapt.paths import tokenizers_root

    res = {}
    with tempfile.TemporaryDirectory() as work:
        model_dir = make_tiny("qwen3", tokenizers_root() / "qwen3", Path(work) / "m", layers=a.layers,
                              hidden=a.hidden, heads=4, kv_heads=2, intermediate=2 * a.hidden)
        for method in ("full", "lora"):
            cmd = [sys.executable, __file__, "--steps", str(a.steps), "--seq-len", str(a.seq_len),
                   "--batch-size", str(a.batch_size), "--child", method, str(model_dir), f"{work}/{method}"]
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res[method] = json.loads(r.stdout.strip().splitlines()[-1])
    f, lo = res["full"], res["lora"]
    for name, key, unit in [("train_lora_vs_full_tokens_per_s", "tokens_per_s", "tokens/s"),
                            ("train_lora_vs_full_peak_rss", "peak_rss_mb", "MB"),
                            ("train_lora_vs_full_trainable_params", "trainable", "params")]:
        print(json.dumps({"name": name, "value": round(lo[key], 2), "unit": unit,
                          "baseline": round(f[key], 2), "ratio": round(lo[key] / f[key], 4)}))


if __name__ == "__main__":
    main()
