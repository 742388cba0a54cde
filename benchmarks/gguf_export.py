"""GGUF export per weight type: wall time and file size, against the f32 export in the same process.

Usage: `python benchmarks/gguf_export.py MODEL_DIR [--types f32 f16 bf16 q8_0 q4_k_m]
[--check-text FILE]`. MODEL_DIR is an HF folder (e.g. one `langadapt model import` wrote).
Each type is exported once with `export_gguf`; without `--check-text` the llama.cpp check
is skipped, so the time is the export alone; with it, the check runs on the file's lines
and its top-1 agreement and mean KL(HF || GGUF) are printed too. Prints JSON lines
`{name, value, unit, baseline, ratio}`; the baseline is the f32 export.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path


def _row(name: str, value: float, unit: str, baseline: float | None) -> None:
    ratio = value / baseline if baseline else None
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit,
                      "baseline": None if baseline is None else round(baseline, 4),
                      "ratio": None if ratio is None else round(ratio, 4)}), flush=True)


def main() -> None:
    from langadapt.models.gguf_export import export_gguf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="HF model folder")
    ap.add_argument("--types", nargs="+", default=["f32", "f16", "bf16", "q8_0", "q4_k_m"])
    ap.add_argument("--check-text", default=None, help="text file: run the llama.cpp check on its lines")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    types = ["f32"] + [t for t in args.types if t != "f32"]   # the baseline first
    base: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in types:
            out = Path(tmp) / f"{kind}.gguf"
            t0 = time.perf_counter()
            export_gguf(args.model, out, type=kind, verify=bool(args.check_text),
                        check_texts=[args.check_text] if args.check_text else None, modelfile=False)
            seconds, mb = time.perf_counter() - t0, out.stat().st_size / 1e6
            base.setdefault("s", seconds)
            base.setdefault("mb", mb)
            _row(f"gguf_export.{kind}.seconds", seconds, "s", base["s"])
            _row(f"gguf_export.{kind}.size", mb, "MB", base["mb"])
            if args.check_text:
                logits = json.loads(out.with_name(out.name + ".verify.json").read_text())["logits"]
                _row(f"gguf_export.{kind}.top1_agreement", logits["top1_agreement"], "fraction", 1.0)
                _row(f"gguf_export.{kind}.kl_mean", logits["kl_mean"], "nats", None)
                _row(f"gguf_export.{kind}.max_abs_logit_diff", logits["max_abs_diff"], "logit", None)
            out.unlink()


if __name__ == "__main__":
    main()
