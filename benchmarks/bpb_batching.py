"""Scoring throughput of `eval bpb`: length-sorted batches vs one document at a time.

A tiny Qwen3-architecture model with the real Qwen3 tokenizer scores FLORES dev
(Mongolian) lines; the baseline is batch size 1 in the same process. Prints JSON lines
`{name, value, unit, baseline, ratio}` and checks that both give the same bpb.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from langadapt.eval.perplexity import BpbScoring, score_documents
from langadapt.models.loading import load_model
from langadapt.models.tiny import make_tiny
from langadapt.paths import data_root, tokenizers_root

N_DOCS = 64


def timed(loaded, texts, batch_size):
    t0 = time.perf_counter()
    stats = score_documents(loaded, texts, BpbScoring(batch_size=batch_size))
    return time.perf_counter() - t0, stats[:, 0].sum() / (stats[:, 2].sum() * math.log(2))


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    texts = (data_root() / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:N_DOCS]
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny("qwen3", tokenizers_root() / "qwen3", Path(tmp) / "m", seed=0)
        loaded = load_model(path, device="cpu")
        timed(loaded, texts[:4], 4)  # warm-up
        t1, bpb1 = timed(loaded, texts, 1)
        t8, bpb8 = timed(loaded, texts, 16)
    if abs(bpb8 - bpb1) > 1e-6 * bpb1:
        sys.exit(f"batched bpb {bpb8} differs from unbatched {bpb1}")
    print(json.dumps({"name": "bpb_docs_per_s_batch16", "value": round(N_DOCS / t8, 2), "unit": "docs/s",
                      "baseline": round(N_DOCS / t1, 2), "ratio": round(t1 / t8, 2)}))
    print(json.dumps({"name": "bpb_batch16_equals_batch1", "value": bpb8, "unit": "bits/byte",
                      "baseline": bpb1, "ratio": bpb8 / bpb1}))


if __name__ == "__main__":
    main()
