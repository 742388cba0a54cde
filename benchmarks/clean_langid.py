"""Compare the offline language-ID backends on real Mongolian and hand-made foreign lines.

Mongolian: 300 lines each from the shared news, Bible and lyrics files (every k-th
line). Foreign: tests/data/fixtures/foreign.tsv (hand-written, see its README).
Prints, per backend and score threshold, Mongolian recall, foreign rejection per
language and docs/s, as JSON lines.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from langadapt.data.langid import get_backend, label_for, predict_many
from langadapt.languages import load_profile
from langadapt.paths import data_root

ROOT = Path(__file__).resolve().parents[1]


def samples(n: int = 300) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    mono = data_root() / "mono"
    mn = {}
    for name in ("news_ner_v1", "bible_mbspeech", "lyrics"):
        lines = [x for x in (mono / f"{name}.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
        mn[name] = lines[:: max(1, len(lines) // n)][:n]
    foreign: dict[str, list[str]] = {}
    for line in (ROOT / "tests/data/fixtures/foreign.tsv").read_text(encoding="utf-8").splitlines():
        lang, text = line.split("\t", 1)
        foreign.setdefault(lang, []).append(text)
    return mn, foreign


def main() -> None:
    profile = load_profile("khk_Cyrl")
    mn, foreign = samples()
    for backend in ("fasttext176", "py3langid", "lingua"):
        get_backend(backend)  # load the model before the clock starts
        label = label_for(profile, backend)
        t0 = time.perf_counter()
        preds = {k: predict_many(backend, v) for k, v in {**mn, **foreign}.items()}
        n = sum(len(v) for v in preds.values())
        speed = n / (time.perf_counter() - t0)
        for thr in (0.0, 0.3, 0.5, 0.7, 0.9):
            row = {"backend": backend, "min_score": thr, "docs_per_s": round(speed)}
            for k, ps in preds.items():
                ok = sum(lab == label and s >= thr for lab, s in ps) / len(ps)
                row[k] = round(ok if k in mn else 1 - ok, 3)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
