"""Token shards (`langadapt data tokenize`) vs `datasets.map(batched=True, num_proc=2)`: tokens/s.

The corpus is built from the shared monolingual text (`${data}/mono/*.txt`): consecutive
non-empty lines of a file are joined with a space into documents of at least 1,000
characters (web-page sized), one per line, and the three files are cycled until the
corpus reaches `--mb` megabytes. Both sides tokenize it with the Qwen3 tokenizer
(`${tokenizers}/qwen3`), with 2 processes, each in a fresh process:

* baseline: `load_dataset("text")` (timed apart: the Arrow conversion the map needs),
  then `Dataset.map(tokenize, batched=True, num_proc=2)`;
* shards: `langadapt.data.tokenize.tokenize` (the `data tokenize` command) with 2 workers,
  then again (a cache hit), timed inside the call and as the whole process (Python start,
  imports, hashing the corpus; the tokenizer is not loaded on a hit).

Peak RSS is sampled over the process and its children (largest single process, and
largest sum). Prints JSON lines {name, value, unit, baseline, ratio}.

    python benchmarks/tokenize_shards.py [--mb 1024] [--corpus FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DOC_CHARS = 1000


def build_corpus(path: Path, mb: float) -> Path:
    """Write the benchmark corpus to `path` (kept when it already has the asked size)."""
    from langadapt.paths import data_root

    want = int(mb * (1 << 20))
    if path.is_file() and path.stat().st_size >= want:
        return path
    sources = sorted((data_root() / "mono").glob("*.txt"))
    docs: list[str] = []
    for src in sources:
        cur: list[str] = []
        for line in src.read_text(encoding="utf-8").splitlines():
            if line.strip():
                cur.append(line.strip())
            if sum(map(len, cur)) >= DOC_CHARS:
                docs.append(" ".join(cur))
                cur = []
        if cur:
            docs.append(" ".join(cur))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        written = 0
        while written < want:
            for doc in docs:
                written += f.write((doc + "\n").encode("utf-8"))
                if written >= want:
                    break
    os.replace(tmp, path)
    return path


def _tree_rss(pid: int) -> tuple[int, int]:
    """(largest single RSS, sum of RSS) over `pid` and its descendants, in bytes."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    sizes = []
    for q in procs:
        try:
            sizes.append(q.memory_info().rss)
        except psutil.NoSuchProcess:
            pass
    return max(sizes, default=0), sum(sizes)


def measured(cmd: list[str], env: dict | None = None) -> tuple[dict, float, float]:
    """Run `cmd` (prints one JSON line); (its JSON plus `process_seconds`, the whole process's
    wall time with imports and tokenizer loading, peak single RSS MB, peak summed RSS MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    peak = [0, 0]

    def sample():
        while proc.poll() is None:
            one, total = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], one), max(peak[1], total)
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    t.join()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed ({proc.returncode})")
    result = {**json.loads(out.strip().splitlines()[-1]), "process_seconds": time.perf_counter() - t0}
    return result, peak[0] / 2**20, peak[1] / 2**20


def run_shards(corpus: str, cache: str) -> None:
    # what `langadapt data tokenize` runs (a re-run with a known tokenizer skips transformers)
    from langadapt.data.tokenize import TokenizeOptions, tokenize
    from langadapt.paths import tokenizers_root

    opts = TokenizeOptions(inputs=[corpus], tokenizer=str(tokenizers_root() / "qwen3"), workers=2)
    t0 = time.perf_counter()
    shards = tokenize(opts, out=cache, progress=False)
    print(json.dumps({"seconds": time.perf_counter() - t0, "tokens": shards.num_tokens,
                      "docs": shards.num_docs, "dtype": shards.dtype.name}))


def run_datasets(corpus: str, cache: str) -> None:
    import pyarrow.compute as pc
    from datasets import load_dataset

    from langadapt.models.loading import load_tokenizer
    from langadapt.paths import tokenizers_root

    tok = load_tokenizer(tokenizers_root() / "qwen3")
    t0 = time.perf_counter()
    ds = load_dataset("text", data_files=corpus, split="train", cache_dir=cache)
    t1 = time.perf_counter()
    out = ds.map(lambda b: tok(b["text"], add_special_tokens=False), batched=True, num_proc=2,
                 remove_columns=["text"])
    t2 = time.perf_counter()
    tokens = int(pc.sum(pc.list_value_length(out.data.column("input_ids"))).as_py())
    print(json.dumps({"seconds": t2 - t1, "load_seconds": t1 - t0, "tokens": tokens, "docs": len(out)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1024)
    ap.add_argument("--corpus", type=Path, help="where to build (or find) the corpus")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and the shards")
    ap.add_argument("--run", choices=("shards", "datasets"), help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        (run_shards if a.run == "shards" else run_datasets)(str(a.corpus), a.cache)
        return
    work = Path(tempfile.mkdtemp(prefix="tokbench"))
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
           "LANGADAPT_TOKENIZED": str(work / "cache")}
    corpus = build_corpus(a.corpus or work / "corpus.txt", a.mb)
    me = [sys.executable, __file__, "--corpus", str(corpus)]
    shards_dir = str(a.corpus.with_name(a.corpus.name + ".shards") if a.corpus else work / "shards")
    new, new_one, new_sum = measured([*me, "--run", "shards", "--cache", shards_dir], env)
    hit, _, _ = measured([*me, "--run", "shards", "--cache", shards_dir], env)
    base, base_one, base_sum = measured([*me, "--run", "datasets", "--cache", str(work / "hf")], env)
    size = corpus.stat().st_size
    rows = [
        ("tokenize_tokens_per_s", new["tokens"] / new["seconds"], "tokens/s",
         base["tokens"] / base["seconds"]),
        ("tokenize_tokens_per_s_vs_load_and_map", new["tokens"] / new["seconds"], "tokens/s",
         base["tokens"] / (base["seconds"] + base["load_seconds"])),
        ("tokenize_peak_rss_largest_process", new_one, "MB", base_one),
        ("tokenize_peak_rss_all_processes", new_sum, "MB", base_sum),
        ("tokenize_cache_hit_seconds", hit["seconds"], "s", new["seconds"]),
        ("tokenize_cache_hit_process_seconds", hit["process_seconds"], "s", new["process_seconds"]),
    ]
    print(json.dumps({"corpus_bytes": size, "docs": new["docs"], "tokens": new["tokens"],
                      "baseline_tokens": base["tokens"], "dtype": new["dtype"]}))
    for name, value, unit, b in rows:
        print(json.dumps({"name": name, "value": round(value, 3), "unit": unit, "baseline": round(b, 3),
                          "ratio": round(value / b, 4) if b else None}))
    if not a.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if a.corpus:
            shutil.rmtree(shards_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
