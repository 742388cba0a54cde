"""Peak RSS of a tiny-model `train cpt` run on a 10 MB and a 1 GB corpus (token shards).

The 1 GB corpus is `benchmarks/tokenize_shards.py`'s (documents of >= 1,000 characters
built from `${data}/mono/*.txt`); the 10 MB one is its first 10 MB. Each corpus is
tokenized first (`langadapt data tokenize`, into the cache training reads; not
measured), then `langadapt train cpt` runs in a fresh process with only the minimal
keys (model, data.train, output_dir) plus a short schedule, on a 2-layer hidden-16
Qwen3-architecture model with the real Qwen3 tokenizer. Peak RSS is the training
process's largest resident set (ru_maxrss). The in-memory path this replaces held
8 bytes per token (a 1 GB corpus: ~340M tokens, ~2.7 GB, plus a Python object per
document) and is not run at 1 GB.

    python benchmarks/train_memory.py [--corpus FILE] [--steps 20] [--keep]

Prints JSON lines {name, value, unit, baseline, ratio}; ratio = 1 GB / 10 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from tokenize_shards import build_corpus  # noqa: E402


def head(src: Path, dst: Path, mb: float) -> Path:
    """The first `mb` megabytes of `src`, whole lines."""
    with open(src, "rb") as f:
        data = f.read(int(mb * (1 << 20)))
    dst.write_bytes(data[:data.rfind(b"\n") + 1])
    return dst


def peak_rss_mb(cmd: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS MB of the command's largest process, seconds)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True,
                         env=env)
    return int(out.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="the 1 GB corpus (built there when missing)")
    ap.add_argument("--shards", type=Path, help="token shards of the 1 GB corpus already made (e.g. by "
                    "tokenize_shards.py --keep): named in data.train instead of the text")
    ap.add_argument("--mb", type=float, default=1024, help="size of the large corpus")
    ap.add_argument("--small-mb", type=float, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (and the corpus)")
    a = ap.parse_args()
    from langadapt.models.tiny import make_tiny
    from langadapt.paths import tokenizers_root

    work = Path(tempfile.mkdtemp(prefix="trainmem"))
    env = {**os.environ, "LANGADAPT_TOKENIZED": str(work / "cache"), "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    big = build_corpus(a.corpus or work / "corpus.txt", a.mb)
    small = head(big, work / "small.txt", a.small_mb)
    model = make_tiny("qwen3", tokenizers_root() / "qwen3", work / "model", layers=2, hidden=16, heads=2,
                      kv_heads=1, intermediate=32, seed=0)
    cli = [sys.executable, "-m", "langadapt"]
    rss, secs, sizes = {}, {}, {}
    for name, corpus in (("10MB", small), ("1GB", big)):
        t0 = time.perf_counter()
        train_on = a.shards if (name == "1GB" and a.shards) else corpus
        if train_on == corpus:
            subprocess.run([*cli, "data", "tokenize", str(corpus), "--tokenizer", str(model), "--json"],
                           check=True, env=env, stdout=subprocess.DEVNULL)
        tok_s = time.perf_counter() - t0
        cfg = {"model": str(model), "output_dir": str(work / f"out-{name}"),
               "data": {"train": [str(train_on)]},
               "max_steps": a.steps, "seq_len": 128, "batch_size": 2, "method": "full", "tensorboard": False}
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        rss[name], secs[name] = peak_rss_mb([*cli, "train", "cpt", str(path), "--json"], env)
        summary = json.loads((work / f"out-{name}" / "train_summary.json").read_text())
        sizes[name] = {"bytes": corpus.stat().st_size, "tokens_per_epoch": summary["tokens_per_epoch"],
                       "tokenize_s": round(tok_s, 1), "train_process_s": round(secs[name], 1)}
    print(json.dumps({"corpora": sizes}))
    print(json.dumps({"name": "train_cpt_peak_rss_1gb_vs_10mb", "value": round(rss["1GB"], 1), "unit": "MB",
                      "baseline": round(rss["10MB"], 1), "ratio": round(rss["1GB"] / rss["10MB"], 4)}))
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
