"""Throughput of `data clean` against datatrove's plain Gopher-quality + MinHash pipeline.

Both run on the same input (shared news + Bible sentences, repeated `--repeat` times
with a copy number appended so copies are near- not exact duplicates), with the same
number of local workers, in this process, one after the other. Each pipeline first
runs once on a few hundred lines (imports, model loading: a fixed cost per worker,
printed as `startup_s`), so the timed runs measure throughput. Prints JSON lines
{name, value, unit, baseline, ratio}. Usage:

    python benchmarks/clean_speed.py [--workers 1] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
)
from datatrove.pipeline.filters import GopherQualityFilter

from langadapt.data.dedup import DatatroveSignature
from langadapt.data.outputs import ShardReader, ShardWriter
from langadapt.data.pipeline import CleanOptions, clean
from langadapt.data.quality import RegexWordTokenizer
from langadapt.data.readers import InputReader
from langadapt.paths import data_root


def make_input(folder: Path, repeat: int, limit: int | None = None) -> tuple[Path, int]:
    mono = data_root() / "mono"
    lines = []
    for name in ("news_ner_v1.txt", "bible_mbspeech.txt"):
        lines += [x for x in (mono / name).read_text(encoding="utf-8").splitlines() if x.strip()]
    out = [line if k == 0 else f"{line} ({k})" for k in range(repeat) for line in lines][:limit]
    path = folder / f"input{limit or ''}.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path, len(out)


def baseline(path: Path, work: Path, workers: int) -> None:
    """datatrove's plain pipeline: Gopher quality + MinHash (datatrove defaults).

    Gopher's web defaults drop every sentence (min 50 words, 2 stopwords), which would
    leave MinHash nothing to do; the baseline uses `min_doc_words=3` and no stopword
    test, as anyone running it on sentences must.

    Reading and writing use the same langadapt steps as the full pipeline (datatrove's
    JsonlWriter needs orjson), so the ratio compares the processing, not the I/O.
    """
    tok = RegexWordTokenizer("mn")  # datatrove's own Mongolian/English tokenizers need Stanza/spaCy
    cfg = MinhashConfig()
    stages = [
        (
            [
                InputReader([str(path)]),
                GopherQualityFilter(min_doc_words=3, min_stop_words=None, language=tok),
                ShardWriter(str(work / "mid"), compress=False),
            ],
            workers,
        ),
        (
            [
                ShardReader(str(work / "mid")),
                DatatroveSignature(str(work / "sigs"), config=cfg, language=tok),
            ],
            workers,
        ),
        ([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=cfg)], cfg.num_buckets),
        ([MinhashDedupCluster(str(work / "buckets"), str(work / "clusters"), config=cfg)], 1),
        (
            [
                ShardReader(str(work / "mid")),
                MinhashDedupFilter(str(work / "clusters")),
                ShardWriter(str(work / "out")),
            ],
            workers,
        ),
    ]
    for i, (pipeline, tasks) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(work / "logs" / str(i))
        ).run()


def _timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of `fn()`; CPU time is what one worker
    spends when the machine is shared (with --workers 1 all work runs in this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path, n = make_input(tmp, args.repeat)
        small, _ = make_input(tmp, 1, limit=300)
        pipelines = {
            "baseline": lambda p, out: baseline(p, out, args.workers),
            "clean": lambda p, out: clean(CleanOptions(inputs=[str(p)], workers=args.workers), out),
            "clean_without_langid": lambda p, out: clean(
                CleanOptions(inputs=[str(p)], workers=args.workers, langid=None), out
            ),
        }
        for name, run in pipelines.items():
            wall, _ = _timed(run, small, tmp / f"warm_{name}")
            print(json.dumps({"name": f"{name}_startup_s", "value": round(wall, 2), "unit": "s"}))
        runs = {name: _timed(run, path, tmp / name) for name, run in pipelines.items()}
    for i, unit in ((0, "docs/s/worker"), (1, "docs/cpu_s")):
        if i == 1 and args.workers != 1:
            continue  # worker processes' CPU time is not in this process
        ref = n / runs["baseline"][i] / (args.workers if i == 0 else 1)
        for name in ("clean", "clean_without_langid"):
            value = n / runs[name][i] / (args.workers if i == 0 else 1)
            row = {
                "name": f"{name}_{'wall' if i == 0 else 'cpu'}",
                "value": round(value, 1),
                "unit": unit,
                "baseline": round(ref, 1),
                "ratio": round(value / ref, 3),
                "docs": n,
                "workers": args.workers,
            }
            print(json.dumps(row))


if __name__ == "__main__":
    main()
