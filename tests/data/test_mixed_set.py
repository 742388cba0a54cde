"""Precision/recall of `data clean` on a mixed file built from real Mongolian text."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from mixed_set import build, norm_ws

from langadapt.data.pipeline import CleanOptions, clean

FIXTURES = Path(__file__).parent / "fixtures"
LANGUAGE_REASONS = {"language", "foreign_letters", "alphabet_ratio"}


def _outcomes(out: Path) -> dict:
    """{(file name, line): (outcome, text)} from the kept shards and rejected samples."""
    res = {}
    for shard in sorted((out / "data").glob("*.jsonl.gz")):
        for line in gzip.open(shard, "rt", encoding="utf-8"):
            r = json.loads(line)
            res[(Path(r["metadata"]["source"]).name, r["metadata"]["line"])] = ("keep", r["text"])
    for f in sorted((out / "rejected").glob("*.jsonl.gz")):
        for line in gzip.open(f, "rt", encoding="utf-8"):
            r = json.loads(line)
            reason = r["reason"]
            kind = (
                "language"
                if reason in LANGUAGE_REASONS
                else "duplicate"
                if reason.startswith("duplicate")
                else reason
            )
            res[(Path(r["metadata"]["source"]).name, r["metadata"]["line"])] = (kind, r["text"])
    return res


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixed")
    heldout = os.environ.get("LANGADAPT_MIXED_MN")  # a file of other Mongolian lines, to check held-out text
    if heldout:
        mn = Path(heldout).read_text(encoding="utf-8").splitlines()
    else:
        mn = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()
        mn += (data_dir / "mono" / "bible_mbspeech.txt").read_text(encoding="utf-8").splitlines()[:1500]
    flores = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()
    foreign = [tuple(x.split("\t", 1)) for x in (FIXTURES / "foreign.tsv").read_text().splitlines()]
    truth = build(mn, foreign, flores, tmp / "in")
    opts = CleanOptions(
        inputs=[str(tmp / "in")],
        decontaminate=[str(data_dir / "flores" / "khk_Cyrl.dev.txt")],
        rejected_samples=100_000,
    )
    stats = clean(opts, tmp / "out")
    return truth, _outcomes(tmp / "out"), stats


EXPECTED = {
    "clean": "keep",
    "html": "keep",
    "homoglyph": "keep",
    "cp1251": "keep",
    "foreign": "language",
    "contaminated": "contaminated",
}


def test_every_document_accounted_for(run):
    truth, got, stats = run
    assert stats["invariant_ok"] and stats["read"] == len(truth) == len(got)
    assert stats["encodings"] == {"cp1251": 1, "koi8_r": 1, "utf-8": 1}


@pytest.mark.parametrize("outcome", ["keep", "language", "duplicate", "contaminated"])
def test_precision_recall(run, outcome):
    truth, got, _ = run
    expected = {k for k, (cat, _) in truth.items() if EXPECTED.get(cat) == outcome}
    if outcome == "duplicate":  # one of each near-duplicate pair must go
        expected = {k for k, (cat, _) in truth.items() if cat == "near_dup"}
        dropped = {k for k in expected if got[k][0] == "duplicate"}
        pairs = Counter(truth[k][1] for k in expected)
        pairs_hit = Counter(truth[k][1] for k in dropped)
        recall = sum(1 for x in pairs if pairs_hit[x] == 1) / len(pairs)
        predicted = {k for k, (o, _) in got.items() if o == "duplicate"}
        precision = len(predicted & expected) / max(1, len(predicted))
    else:
        predicted = {k for k, (o, _) in got.items() if o == outcome}
        if outcome == "keep":  # kept near-duplicates are right too
            expected |= {k for k, (cat, _) in truth.items() if cat == "near_dup" and got[k][0] == "keep"}
        recall = len(predicted & expected) / len(expected)
        precision = len(predicted & expected) / max(1, len(predicted))
    assert precision >= 0.95 and recall >= 0.95, (outcome, precision, recall)


@pytest.mark.parametrize("category", ["clean", "html", "homoglyph", "cp1251"])
def test_kept_text_restored(run, category):
    truth, got, _ = run
    keys = [k for k, (cat, _) in truth.items() if cat == category]
    same = [k for k in keys if got[k][0] == "keep" and got[k][1] == norm_ws(truth[k][1])]
    assert len(same) / len(keys) >= 0.95, [(truth[k][1], got[k]) for k in keys if k not in same][:5]
