"""Resumable translation of a file through an OpenAI-compatible server (`--backend openai`).

Inputs are read as `langadapt translate` reads them (`.txt` lines, `.jsonl` fields:
strings, lists, chat `messages`); Alpaca `instruction/input/output` and `messages`
records are recognised when no field is named. Each distinct text is protected
(`langadapt.gen.protect`), put in the prompt template, and keyed by a hash of the
model, the messages (prompt and text) and the sampling parameters.

Every answer is appended to the journal of the one resumable engine (`langadapt.resume`,
`.<OUT>.journal/journal.jsonl`, as for `langadapt translate`) the moment it arrives,
rejected ones included, so a killed run, re-run, asks only what it never got
an answer for, and, answers being keyed by content and the output written in input
order, writes the same file. The journal goes once the output is written.

Answers then pass the gates (`langadapt.synth.gates`). A record with a rejected text is
left out of a `.jsonl` output (a `.txt` line becomes empty, keeping the alignment) and
written to `rejected/<reason>.jsonl.gz`. Requests that fail after their retries are
reported by id and the run raises `GenerationFailed`, keeping every answer it got.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from langadapt.data.outputs import gzip_bytes
from langadapt.errors import ConfigError
from langadapt.gen.client import Answer, Counts
from langadapt.gen.openai import GenerationFailed, api_key, failed, requests_for
from langadapt.gen.options import ServerOptions
from langadapt.output_guard import check_out_file
from langadapt.runs import ResultRow, atomic_write_bytes, atomic_write_text, signature
from langadapt.synth.gates import REASONS, Gates
from langadapt.synth.journal import ask_journalled, journal_path, open_journal, read_journal
from langadapt.textio import json_objects, read_lines
from langadapt.translate import Document, read_document, render

__all__ = ["GenerationFailed", "auto_fields", "journal_path", "read_journal", "translate_file_openai"]
log = logging.getLogger(__name__)
SHAPES = (("messages",), ("instruction", "input", "output"))


def auto_fields(path: Path) -> tuple[str, ...]:
    """The fields to translate in a `.jsonl` file: `messages`, Alpaca fields, else `text`."""
    if path.suffix != ".jsonl" or not path.is_file():
        return ("text",)
    for _, rec in json_objects(read_lines(path)[:1], path):
        for shape in SHAPES:
            if shape[0] in rec:
                return shape
    return ("text",)


# ---------------------------------------------------------------- main entry
def _slot_id(doc: Document, slot: tuple[int, str | None, int | None]) -> str:
    i, f, sub = slot
    if doc.records is None:
        return f"line {i + 1}"
    rid = doc.records[i].get("id")
    where = f"record {i + 1}" + (f" (id {rid})" if rid is not None else "")
    return where + (f" field {f}" if f else "") + (f"[{sub}]" if sub is not None else "")


def translate_file_openai(opts: ServerOptions, inp: str | Path, out: str | Path, *, src: str, tgt: str,
                          fields: Sequence[str] | None = None, restart: bool = False,
                          cache_dir: str | Path | None = None, rejected_dir: str | Path | None = None,
                          on_answer: Callable[[Answer], None] | None = None,
                          progress: bool = False) -> list[ResultRow]:
    """Translate `inp` into `out` through the server of `opts`; return count and usage rows.

    Args:
        fields: `.jsonl` fields to translate (default: recognised from the first record).
        restart: discard stored answers of an unfinished earlier run.
        cache_dir: folder for the answer journal (default: beside `out`).
        rejected_dir: where `<reason>.jsonl.gz` go (default: `rejected/` beside `out`).
        on_answer: called after each answer is stored.
        progress: show a tqdm bar.
    """
    if not opts.model:
        raise ConfigError("the server's model name is required (--model)", key="model")
    inp, out = Path(inp), check_out_file(out, [inp])
    doc = read_document(inp, tuple(fields) if fields else auto_fields(inp))
    key = api_key(opts)
    gates = Gates(opts, tgt)
    requests, key_of, spans = _requests(doc, opts, src, tgt)
    journal = open_journal(out, Path(cache_dir) if cache_dir else None, restart=restart)
    done = dict(journal.done)
    pending = [r for k, r in requests.items() if k not in done]  # in input order
    try:
        counts, new, failures = ask_journalled(opts, key, pending, journal, on_answer, progress)
        done.update(new)
        if failures:
            raise failed(failures, len(requests), f"{len(done)} answers are kept in {journal.path.parent} "
                                                   "and a re-run asks only for the missing ones")
        verdicts = {text: gates.check(text, Answer(**done[k]), spans[text]) for text, k in key_of.items()}
        chrf = None
        if opts.back_translation is not None:
            verdicts, chrf = _back_translation(opts, key, verdicts, done, journal, counts, new, src, tgt,
                                               progress)
    finally:
        journal.close()
    kept, rejects = _write_outputs(doc, verdicts, out,
                                   Path(rejected_dir) if rejected_dir else out.parent / "rejected")
    if chrf is not None:
        _write_scores(doc, chrf, Path(f"{out}.bt_chrf.jsonl"))
    journal.finish()
    rows = _rows(opts, doc, src, tgt, kept, rejects, counts, new, done,
                 len(requests) - len(pending), len(pending))
    if chrf is not None:
        rows.append(_chrf_row(opts, chrf, rows[0]))
    return rows


def _back_translation(opts, key, verdicts, done, journal, counts, new, src, tgt, progress):
    """Verdicts with `backtranslation` rejections (if `min_chrf`), and each scored text's chrF."""
    from langadapt.synth.backtranslate import back_translate

    bt = back_translate(opts, key, verdicts, done, journal, src, tgt, progress)
    counts.add(bt.counts)
    new.update(bt.new)
    done.update(bt.new)
    if bt.failures:
        raise failed(bt.failures, len(bt.failures), f"every answer is kept in {journal.path.parent} and "
                                                     "a re-run asks only for the missing ones")
    low = opts.back_translation.min_chrf
    if low is not None:
        verdicts = {s: (t, "backtranslation" if r is None and bt.chrf[s] < low else r)
                    for s, (t, r) in verdicts.items()}
    return verdicts, bt.chrf


def _write_scores(doc: Document, chrf: dict[str, float], path: Path) -> None:
    """One line per record (or `.txt` line) with texts: where, and its lowest text's chrF
    (null: none of its texts was accepted, so none was scored)."""
    scores: dict[int, list[float]] = {}
    for slot, text in zip(doc.slots, doc.texts):
        scores.setdefault(slot[0], []).extend([chrf[text]] if text in chrf else [])
    atomic_write_text(path, "".join(
        json.dumps({"where": _slot_id(doc, (i, None, None)), "bt_chrf": round(min(v), 2) if v else None},
                   ensure_ascii=False) + "\n" for i, v in sorted(scores.items())))


def _chrf_row(opts: ServerOptions, chrf: dict[str, float], like: ResultRow) -> ResultRow:
    values = sorted(chrf.values())
    low = opts.back_translation.min_chrf
    return ResultRow(metric="translate.backtranslation_chrf",
                     value=round(sum(values) / len(values), 2) if values else 0.0,
                     n=len(values), model=like.model, signature=like.signature,
                     extra={"note": "mean sentence chrF of the accepted texts translated back",
                            "median": round(values[len(values) // 2], 2) if values else None,
                            "min_chrf": low,
                            "below_min": sum(v < low for v in values) if low is not None else None})


def _requests(doc: Document, opts: ServerOptions, src: str, tgt: str):
    """The requests of `doc`'s texts, each named by where it first occurs (see `requests_for`)."""
    return requests_for(((_slot_id(doc, slot), text) for slot, text in zip(doc.slots, doc.texts)),
                        opts, src, tgt)


def _write_outputs(doc: Document, verdicts: dict, out: Path, rejected_dir: Path) -> tuple[int, Counter]:
    """Write kept records to `out` and rejected ones to `rejected_dir/<reason>.jsonl.gz`."""
    translated = [verdicts[t][0] for t in doc.texts]
    reason_of: dict[int, tuple[str, str]] = {}  # unit -> (reason, slot id) of its first bad text
    for slot, text in zip(doc.slots, doc.texts):
        reason = verdicts[text][1]
        if reason and slot[0] not in reason_of:
            reason_of[slot[0]] = (reason, _slot_id(doc, slot))
    units = render(doc, translated).splitlines(keepends=True)
    sources = doc.lines if doc.lines is not None else doc.records
    by_reason: dict[str, list[str]] = {}
    for i, (reason, where) in sorted(reason_of.items()):
        rec = {"reason": reason, "where": where, "source": sources[i],
               "translation": units[i].rstrip("\n") if doc.lines is not None else json.loads(units[i])}
        by_reason.setdefault(reason, []).append(json.dumps(rec, ensure_ascii=False) + "\n")
        units[i] = "\n" if doc.lines is not None else ""  # .txt keeps its alignment
    atomic_write_text(out, "".join(units))
    for reason in REASONS:  # rejects of an earlier run of this output are stale now
        (rejected_dir / f"{reason}.jsonl.gz").unlink(missing_ok=True)
    for reason, lines in by_reason.items():
        atomic_write_bytes(rejected_dir / f"{reason}.jsonl.gz", gzip_bytes("".join(lines)))
    counts = Counter({r: len(v) for r, v in by_reason.items()})
    return len(units) - sum(counts.values()), counts


def _rows(opts: ServerOptions, doc: Document, src: str, tgt: str, kept: int, rejects: Counter,
          counts: Counts, new: dict, done: dict, reused: int, asked: int) -> list[ResultRow]:
    sig = signature(options={"src": src, "tgt": tgt, "backend": "openai", "server": opts.signature(),
                             "gates": opts.gates.model_dump()},
                    seed=opts.seed, data=[doc.path])
    n = len(doc.records if doc.records is not None else doc.lines)
    common = dict(n=n, model=opts.model, signature=sig)

    def row(metric: str, value: float, **extra) -> ResultRow:
        return ResultRow(metric=f"translate.{metric}", value=value, **common, extra=extra)

    ptok = sum(a["prompt_tokens"] for a in new.values())
    ctok = sum(a["completion_tokens"] for a in new.values())
    rows = [row("kept", kept, note="records (or .txt lines) written to the output"),
            row("rejected", sum(rejects.values()), by_reason=dict(sorted(rejects.items())))]
    rows += [row(f"rejected.{r}", c) for r, c in sorted(rejects.items())]
    rows += [row("new", asked, note="distinct texts asked for in this run"),
             row("resumed", reused, note="distinct texts answered in an earlier, unfinished run"),
             row("requests", counts.requests, note="HTTP attempts in this run"),
             row("retries", counts.retries, errors=dict(sorted(counts.errors.items()))),
             row("prompt_tokens", ptok, all_runs=sum(a["prompt_tokens"] for a in done.values())),
             row("completion_tokens", ctok,
                 all_runs=sum(a["completion_tokens"] for a in done.values()))]
    if opts.prices:
        p = opts.prices
        cost = (ptok * p.prompt_per_mtok + ctok * p.completion_per_mtok) / 1e6
        rows.append(row("cost_usd", round(cost, 6), note="estimate from the configured prices"))
    return rows

