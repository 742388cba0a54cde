"""`data clean` on 100k and 1M documents with 2 workers: bytes read, wall time, peak RSS.

The corpus is one `.txt` file built from the shared Mongolian text (`mono/*.txt`): its
distinct non-blank lines, repeated in order with a copy counter appended
(`<line> (2)`, `<line> (3)` ...) until the document count is reached, so exact dedup
does not collapse the copies; the 100k corpus is the first 100k lines of the 1M one.
Near dedup is off: the copies are near-duplicates by construction and it would
rightly collapse them (its cluster stage holds every duplicate pair in memory).
`--light` also switches language ID and the quality filters off (normalize, exact
dedup and the output stage stay) for a loaded machine.

With 2 workers and one input file, each worker reads one line-aligned byte range
(`--split-mib`, 4 MiB by default here, so the 100k file is split too). Bytes read are
the workers' own `input_bytes` counters (every byte taken from the file, boundary
look-ups and the encoding sniff included); the former reader read the whole input
in every worker (2x). Peak RSS per worker is the largest resident set of any process
the command started (pool workers, sampled every 0.1 s with psutil); the command's
own is printed apart. Prints JSON
lines {name, value, unit, baseline, ratio}; targets: bytes <= 1.1x the input, wall
time 1M/100k within 8-12 (10x +-20%), peak RSS within 1.2x. Also printed: the
fixed part of the wall time (solving wall = fixed + docs x per-doc from the two
runs) and the time spent inside the pipeline steps (datatrove's step timers, no
process start-ups), whose ratio shows the per-document cost alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from langadapt.paths import data_root

CLEAN = """
from langadapt.data.pipeline import CleanOptions, clean
clean(CleanOptions(**{opts!r}), {out!r})
"""


def build_corpus(path: Path, n: int) -> int:
    lines: list[str] = []
    seen: set[str] = set()
    for f in sorted((data_root() / "mono").glob("*.txt")):
        for line in f.read_text(encoding="utf-8").splitlines():
            line = " ".join(line.split())
            if line and line not in seen:
                seen.add(line)
                lines.append(line)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            copy, j = divmod(i, len(lines))
            f.write(f"{lines[j]} ({copy + 1})\n" if copy else lines[j] + "\n")
    return path.stat().st_size


def _watched(cmd: list[str]) -> dict:
    """Run `cmd`; its wall time and the peak RSS of each of its processes (sampled every 0.1 s)."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    top = psutil.Process(proc.pid)
    peak: dict[int, int] = {}
    while proc.poll() is None:
        try:
            procs = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                peak[p.pid] = max(peak.get(p.pid, 0), p.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    if proc.wait() != 0:
        raise SystemExit(proc.stderr.read().decode()[-3000:])
    wall = time.perf_counter() - t
    main_rss = peak.pop(proc.pid, 0)
    return {"wall": wall, "rss_kb": max(peak.values(), default=main_rss) / 1024, "main_kb": main_rss / 1024}


def run(corpus: Path, out: Path, args) -> dict:
    opts = {
        "inputs": [str(corpus)],
        "workers": 2,
        "split_bytes": args.split_mib << 20,
        "dedup_near": False,
        "keep_work": True,
    }
    if args.light:
        opts |= {"langid": None, "quality": False}
    code = CLEAN.format(opts=opts, out=str(out))
    m = _watched([sys.executable, "-c", code])
    read = 0
    for f in sorted((out / "work" / "logs" / "filter" / "stats").glob("*.json")):
        for step in json.loads(f.read_text()):
            v = step["stats"].get("input_bytes")
            read += int(v["total"] if isinstance(v, dict) else v or 0)
    step_s = 0.0  # time inside the pipeline steps (datatrove's per-step timers), all stages and tasks
    for f in sorted((out / "work" / "logs").glob("*/stats/*.json")):
        for step in json.loads(f.read_text()):
            t = step.get("time_stats", 0)  # datatrove writes 0 for a timer that never ran
            step_s += t["total"] if isinstance(t, dict) else float(t)
    stats = json.loads((out / "stats.json").read_text())
    return {"wall": m["wall"], "rss_mb": m["rss_kb"] / 1024, "main_mb": m["main_kb"] / 1024,
            "bytes_read": read, "kept": stats["kept"], "read": stats["read"], "step_s": step_s}


def emit(name: str, value: float, unit: str, baseline: float, **extra) -> None:
    row = {"name": name, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3),
           "ratio": round(value / baseline, 3) if baseline else None, **extra}
    print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--split-mib", type=int, default=4)
    ap.add_argument("--light", action="store_true", help="language ID and quality filters off")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res = {}
        for n in (args.small, args.large):
            corpus = tmp / f"corpus_{n}.txt"
            size = build_corpus(corpus, n)
            t = time.perf_counter()
            res[n] = run(corpus, tmp / f"out_{n}", args) | {"size": size}
            r = res[n]
            emit(f"clean_bytes_read_2_workers_{n}", r["bytes_read"], "byte", size,
                 docs=r["read"], kept=r["kept"], wall_s=round(time.perf_counter() - t, 1))
            corpus.unlink()
        s, big = res[args.small], res[args.large]
        k = args.large / args.small
        emit("clean_wall_large_vs_small", big["wall"], "s", s["wall"], docs_ratio=k,
             target=f"{0.8 * k:g}-{1.2 * k:g}")
        # the part of the wall time that does not grow with the input (process and stage start-ups)
        fixed = (k * s["wall"] - big["wall"]) / (k - 1)
        emit("clean_fixed_cost_s", fixed, "s", s["wall"], note="wall = fixed + docs x per-doc")
        emit("clean_step_time_large_vs_small", big["step_s"], "s", s["step_s"], docs_ratio=k,
             target=f"{0.8 * k:g}-{1.2 * k:g}", note="time inside the pipeline steps")
        emit("clean_peak_rss_per_worker_large_vs_small", big["rss_mb"], "MiB", s["rss_mb"], target="<= 1.2")
        emit("clean_peak_rss_command_large_vs_small", big["main_mb"], "MiB", s["main_mb"])


if __name__ == "__main__":
    main()
