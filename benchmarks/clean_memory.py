"""Peak RSS of `data clean` on 1x and 10x the same kind of input (flat memory check).

The input is the shared news file; 10x repeats it with a copy number appended (so
copies are near- not exact duplicates and every stage sees 10x the documents). Each
run is a fresh `langadapt data clean` process; peak RSS is the largest resident set
of that process and its children. Prints JSON lines {name, value, unit, baseline, ratio}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from langadapt.paths import data_root


def peak_rss_mb(args: list[str]) -> float:
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 0))"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    lines = [
        x
        for x in (data_root() / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rss = {}
        for k in (1, 10):
            path = tmp / f"x{k}.txt"
            path.write_text(
                "\n".join(ln if c == 0 else f"{ln} ({c})" for c in range(k) for ln in lines) + "\n",
                encoding="utf-8",
            )
            rss[k] = peak_rss_mb(
                [
                    sys.executable,
                    "-m",
                    "langadapt",
                    "data",
                    "clean",
                    str(path),
                    "--out",
                    str(tmp / f"out{k}"),
                    "--json",
                ]
            )
    print(
        json.dumps(
            {
                "name": "clean_peak_rss_10x",
                "value": round(rss[10], 1),
                "unit": "MiB",
                "baseline": round(rss[1], 1),
                "ratio": round(rss[10] / rss[1], 3),
                "docs_1x": len(lines),
                "docs_10x": 10 * len(lines),
            }
        )
    )


if __name__ == "__main__":
    main()
