"""`data bitext`: clean parallel sentence pairs with each side's language profile.

Inputs: `.tsv` (`src<TAB>tgt`), `.jsonl` with two fields, or two line-aligned text
files. Each pair is normalised per side, then dropped (first reason wins) when a
side is empty, both sides are identical, a side is in the wrong language, the
length ratio is an outlier, the numbers differ, the pair was seen before, or a
side overlaps an evaluation set. Outputs mirror `data clean`: `data/00000.jsonl.gz`
(`src`, `tgt`, `metadata`), `stats.json` (same schema), `rejected/<reason>.jsonl.gz`.
A single streaming pass: parallel corpora for low-resource languages are small, and
pair dedup needs one global set; so this runs in one process, not as datatrove stages.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from langadapt.data.options import BitextOptions
from langadapt.errors import DataError
from langadapt.output_guard import check_out_dir, write_marker
from langadapt.runs import atomic_write_bytes, atomic_write_json

_NUM = re.compile(r"\d+(?:[.,]\d+)?")


def split_pair(line: str, path: str, n: int) -> tuple[str, str]:
    """The TSV rule of parallel text: `src<TAB>tgt`; further columns (a score, an id) are ignored."""
    parts = line.split("\t")
    if len(parts) < 2:
        raise DataError("expected src<TAB>tgt (two tab-separated columns)", file=path, line=n)
    return parts[0], parts[1]


def iter_pairs(inputs: list[str], src_field: str, tgt_field: str) -> Iterator[tuple[str, int, str, str]]:
    """(source, line, src, tgt) for every pair of the inputs."""
    from langadapt.data.encoding import ERROR_HANDLER
    from langadapt.data.readers import detect_encoding
    from langadapt.textio import open_text

    def opened(path: str):  # undecodable bytes become U+FFFD and are counted, as in `data clean`
        return open_text(path, detect_encoding(path, []), errors=ERROR_HANDLER)

    if len(inputs) == 2:
        a, b = inputs
        with opened(a) as fa, opened(b) as fb:
            for n, (x, y) in enumerate(zip(fa, fb, strict=True), 1):
                yield a, n, x.rstrip("\r\n"), y.rstrip("\r\n")
        return
    path = inputs[0]
    with opened(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if ".jsonl" in Path(path).name:
                rec = json.loads(line)
                if src_field not in rec or tgt_field not in rec:
                    raise DataError(f"record needs fields '{src_field}' and '{tgt_field}'", file=path, line=n)
                yield path, n, str(rec[src_field]), str(rec[tgt_field])
            else:
                yield path, n, *split_pair(line, path, n)


class _Side:
    """One side's normaliser and language check."""

    def __init__(self, lang: str, opts: BitextOptions):
        from langadapt.data.langid import get_backend, label_for
        from langadapt.data.normalize import build_steps
        from langadapt.languages import load_profile

        profile = load_profile(lang)
        self.steps = build_steps(opts.normalize, profile)
        self.predict = get_backend(opts.langid) if opts.langid else None
        self.label = label_for(profile, opts.langid) if opts.langid else None
        self.min_score, self.min_chars = opts.langid_min_score, opts.langid_min_chars
        self.alphabet = frozenset(profile.alphabet)

    def right_language(self, text: str) -> bool:
        if self.predict is None:
            return True
        if len(text) < self.min_chars:
            letters = [c for c in text if c.isalpha()]
            return bool(letters) and sum(c in self.alphabet for c in letters) / len(letters) >= 0.8
        label, score = self.predict(text)
        return label == self.label and score >= self.min_score


def _reason(src: str, tgt: str, opts: BitextOptions, sides, seen: set, index) -> str | None:
    from langadapt.data.dedup import content_hash

    if not src or not tgt:
        return "empty"
    if src.casefold() == tgt.casefold():
        return "identical"
    if not sides[0].right_language(src):
        return "language_src"
    if not sides[1].right_language(tgt):
        return "language_tgt"
    short, long_ = sorted((len(src), len(tgt)))
    if long_ >= opts.length_ratio_min_chars and long_ / max(short, 1) > opts.max_length_ratio:
        return "length_ratio"
    if opts.check_numbers and sorted(_NUM.findall(src)) != sorted(_NUM.findall(tgt)):
        return "numbers"
    if opts.dedup:
        key = content_hash(src + "\t" + tgt)
        if key in seen:
            return "duplicate_pair"
        seen.add(key)
    if index is not None and (index.match(src) or index.match(tgt)):
        return "contaminated"
    return None


def clean_bitext(opts: BitextOptions, out_dir: str | Path) -> dict:
    """Clean the pairs; write data, stats and rejected samples; return the stats."""
    from langadapt.data.contamination import ContaminationIndex
    from langadapt.data.normalize import normalize
    from langadapt.data.outputs import gzip_bytes

    out = check_out_dir(out_dir, [*opts.inputs, *opts.decontaminate])
    sides = (_Side(opts.src, opts), _Side(opts.tgt, opts))
    index = (
        ContaminationIndex(opts.decontaminate_ngram).add_files(opts.decontaminate)
        if opts.decontaminate
        else None
    )
    seen: set[int] = set()
    kept: list[str] = []
    dropped: Counter = Counter()
    rejected: dict[str, list[str]] = {}
    changed: Counter = Counter()
    read = 0
    for source, line, raw_src, raw_tgt in iter_pairs(opts.inputs, opts.src_field, opts.tgt_field):
        read += 1
        src, fix_s = normalize(raw_src, sides[0].steps)
        tgt, fix_t = normalize(raw_tgt, sides[1].steps)
        changed.update({f"src_{k}": v for k, v in fix_s.items()} | {f"tgt_{k}": v for k, v in fix_t.items()})
        meta = {"source": source, "line": line, "src_lang": opts.src, "tgt_lang": opts.tgt}
        rec = json.dumps({"src": src, "tgt": tgt, "metadata": meta}, ensure_ascii=False, sort_keys=True)
        why = _reason(src, tgt, opts, sides, seen, index)
        if why is None:
            kept.append(rec)
            continue
        dropped[why] += 1
        if len(rejected.setdefault(why, [])) < opts.rejected_samples:
            rejected[why].append(rec)
    atomic_write_bytes(out / "data" / "00000.jsonl.gz", gzip_bytes("".join(r + "\n" for r in kept)))
    write_marker(out, "data bitext")
    for why, recs in rejected.items():
        atomic_write_bytes(out / "rejected" / f"{why}.jsonl.gz", gzip_bytes("".join(r + "\n" for r in recs)))
    step = {
        "step": "bitext",
        "in": read,
        "kept": len(kept),
        "dropped": dict(sorted(dropped.items())),
        "chars_changed": dict(sorted(changed.items())),
    }
    stats = {
        "read": read,
        "kept": len(kept),
        "dropped": dict(sorted(dropped.items())),
        "invariant_ok": read == len(kept) + sum(dropped.values()),
        "encodings": {},
        "undecodable_bytes": 0,
        "undecodable_docs": {},
        "steps": [step],
    }
    atomic_write_json(out / "stats.json", stats)
    return stats
