"""Peak memory of `eval bpb` scoring vs the length of one line: chunked logits vs whole windows.

A tiny Qwen3-architecture model with the real Qwen3 tokenizer (151k vocabulary) scores one
line of FLORES dev (Mongolian) text repeated to 1, 10, 100 and 300 KB, at batch size 8 and
windows of 512 tokens. Each measurement runs in its own process (peak RSS only grows);
the value is the peak RSS while scoring minus the RSS before it. The baseline is the
previous scoring, which projected every window of a batch onto the vocabulary at once
(`split_head` disabled), run where it fits in memory. Prints JSON lines
`{name, value, unit, baseline, ratio}` and checks both give the same bpb.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES_KB = (1, 10, 100, 300)
BASELINE_UP_TO_KB = 100   # whole-window logits: 8 x 512 x 151k floats (2.5 GB) once lines are long
MAX_LENGTH, BATCH = 512, 8


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _one(model: str, kb: int, whole: bool) -> None:
    """Score one line of `kb` KB in this process; print {extra_mb, bpb, seconds}."""
    import time

    from langadapt.eval import loglik
    from langadapt.eval.perplexity import BpbScoring, score_documents
    from langadapt.models.loading import load_model
    from langadapt.paths import data_root

    lines = (data_root() / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    text = " ".join(lines)
    while len(text.encode()) < kb * 1024:
        text = text + " " + text
    line = text.encode()[: kb * 1024].decode("utf-8", "ignore")
    loaded = load_model(model, device="cpu")
    if whole:
        loglik.split_head = lambda *a: None
    before = _rss_mb()
    t0 = time.perf_counter()
    stats = score_documents(loaded, [line], BpbScoring(max_length=MAX_LENGTH, batch_size=BATCH))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bpb = stats[:, 0].sum() / (stats[:, 2].sum() * math.log(2))
    print(json.dumps({"extra_mb": peak - before, "bpb": bpb, "seconds": seconds,
                      "tokens": int(stats[:, 1].sum())}))


def _run(model: Path, kb: int, whole: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", str(model), str(kb), str(int(whole))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from langadapt.models.tiny import make_tiny
    from langadapt.paths import tokenizers_root

    with tempfile.TemporaryDirectory() as tmp:
        model = make_tiny("qwen3", tokenizers_root() / "qwen3", Path(tmp) / "m", seed=0)
        for kb in SIZES_KB:
            new = _run(model, kb, whole=False)
            old = _run(model, kb, whole=True) if kb <= BASELINE_UP_TO_KB else None
            if old and abs(new["bpb"] - old["bpb"]) > 1e-6 * old["bpb"]:
                sys.exit(f"{kb} KB: chunked bpb {new['bpb']} differs from whole-window bpb {old['bpb']}")
            print(json.dumps({"name": f"bpb_peak_extra_rss_{kb}kb_line", "value": round(new["extra_mb"], 1),
                              "unit": "MB", "baseline": round(old["extra_mb"], 1) if old else None,
                              "ratio": round(old["extra_mb"] / max(new["extra_mb"], 1.0), 2) if old else None,
                              "tokens": new["tokens"], "seconds": round(new["seconds"], 1),
                              "baseline_seconds": round(old["seconds"], 1) if old else None}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        _one(sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4])))
    else:
        main()
