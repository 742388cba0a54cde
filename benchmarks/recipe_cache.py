"""Re-running a finished recipe: wall time of the second run vs the first.

Runs `recipes/quickstart.yaml` twice into a temporary folder, in this process, and
prints JSON lines `{name, value, unit, baseline, ratio}`. The goal is a second run that
takes at most 20% of the first (every stage is reused; only validation, input hashing
and the report are redone). By default every stage is shrunk with the same overrides as
the end-to-end test; `--full` runs the quickstart as `make quickstart` does.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_run(recipe: Path, overrides: list[str]) -> tuple[float, float]:
    from langadapt.runner import run_recipe

    t0, c0 = time.perf_counter(), cpu_seconds()
    run_recipe(recipe, overrides)
    return time.perf_counter() - t0, cpu_seconds() - c0


def main() -> None:
    from test_quickstart import SMALL  # the e2e test's shrinking overrides

    full = "--full" in sys.argv
    recipe = ROOT / "recipes" / "quickstart.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"output_dir={Path(tmp) / 'run'}"] + ([] if full else SMALL)
        first, first_cpu = timed_run(recipe, overrides)
        second, second_cpu = timed_run(recipe, overrides)
    tag = "quickstart" if full else "quickstart_small"
    for name, value, base, unit in ((f"{tag}_rerun_wall", second, first, "s"),
                                    (f"{tag}_rerun_cpu", second_cpu, first_cpu, "cpu_s")):
        print(json.dumps({"name": name, "value": round(value, 2), "unit": unit,
                          "baseline": round(base, 2), "ratio": round(value / base, 4)}))


if __name__ == "__main__":
    main()
