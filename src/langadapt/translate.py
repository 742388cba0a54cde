"""Resumable translation of `.txt` lines or chosen fields of `.jsonl` records.

Every distinct input text is keyed by a hash of its content. Finished translations
are appended, a flush at a time, to the journal of `langadapt.resume` (the one resumable
engine, shared with synthetic data) beside the output, so a killed run loses at most one
flush; a re-run reads the journal, translates only what is missing and never duplicates.
Pending texts are sorted by length before being grouped into flushes, so an
interrupted-and-resumed run forms the same batches as an uninterrupted one and writes
the same file.
The output is assembled (atomically) once everything is translated.

Outputs are checked afterwards: empty, copied from the source, or not in the target
language (script check plus the language-ID model of `langadapt.data.langid` when the
target has a language profile).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as checked_dataclass
from tqdm.auto import tqdm

from langadapt.errors import DataError, LangadaptError
from langadapt.output_guard import check_out_file
from langadapt.resume import Journal, journal_path
from langadapt.runs import ResultRow, atomic_write_text, cache_key, content_id, jsonl_text, signature
from langadapt.textio import json_objects, read_lines

if TYPE_CHECKING:
    from langadapt.generate import GenerationOptions

log = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass
class Document:
    """The input: `.txt` lines or `.jsonl` records, and where each text to translate sits."""

    path: Path
    lines: list[str] | None              # .txt
    records: list[dict] | None           # .jsonl
    slots: list[tuple[int, str | None, int | None]]  # (line/record, field, list item) per text
    texts: list[str]


def read_document(path: str | Path, fields: Sequence[str] = ("text",)) -> Document:
    """Read `.txt` (every non-empty line) or `.jsonl` (the named fields of each record).

    A field may hold a string, a list of strings, or chat messages
    (`[{"role": …, "content": …}]`, each `content` translated).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("input file not found", file=str(path))
    if path.suffix in (".gz", ".zst", ".bz2", ".xz"):
        raise DataError("compressed input: decompress it first (the output mirrors the input "
                        "line by line)", file=str(path))
    try:
        raw_lines = read_lines(path)
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 ({e.reason}); convert it or clean it with 'langadapt data "
                        "clean' first", file=str(path)) from None
    slots, texts = [], []
    if path.suffix != ".jsonl":
        lines = raw_lines
        for i, line in enumerate(lines):
            if line.strip():  # empty lines stay empty and keep the alignment
                slots.append((i, None, None))
                texts.append(line)
        return Document(path, lines, None, slots, texts)
    records = []
    for n, rec in json_objects(raw_lines, path):
        for f in fields:
            for sub, value in _field_texts(rec.get(f), f, str(path), n):
                slots.append((len(records), f, sub))
                texts.append(value)
        records.append(rec)
    return Document(path, None, records, slots, texts)


def _field_texts(value, field: str, file: str, line: int) -> list[tuple[int | None, str]]:
    """Texts of one field: a string, a list of strings, or chat messages (`content` of each)."""
    if value is None or value == "":
        return []  # e.g. an instruction record without an `input`
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            text = item.get("content") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise DataError(f"field '{field}' item {i} is neither a string nor a message with "
                                "a string 'content'", file=file, line=line)
            if text:
                out.append((i, text))
        return out
    raise DataError(f"field '{field}' is not a string, list of strings or list of messages",
                    file=file, line=line)


def render(doc: Document, translated: Sequence[str]) -> str:
    """The output file's text: inputs with each slot replaced by its translation."""
    if doc.lines is not None:
        lines = list(doc.lines)
        for (i, _, _), t in zip(doc.slots, translated):
            lines[i] = t.replace("\n", " ")  # one line in, one line out
        return "".join(x + "\n" for x in lines)
    records = [json.loads(json.dumps(r)) for r in doc.records]  # deep copy
    for (i, f, sub), t in zip(doc.slots, translated):
        if sub is None:
            records[i][f] = t
        elif isinstance(records[i][f][sub], dict):
            records[i][f][sub]["content"] = t
        else:
            records[i][f][sub] = t
    return jsonl_text(records)


# ---------------------------------------------------------------- journal records
@checked_dataclass(config=ConfigDict(strict=True))
class Translation:
    """One finished text in the journal (`langadapt.resume`): its content hash and translation."""

    key: str
    text: str


# ---------------------------------------------------------------- main entry
def translate_file(model, inp: str | Path, out: str | Path, *, src: str, tgt: str,
                   fields: Sequence[str] = ("text",), gen: GenerationOptions | None = None,
                   flush_every: int | None = None, restart: bool = False, progress: bool = False,
                   on_flush: Callable[[int], None] | None = None,
                   cache_dir: str | Path | None = None) -> list[ResultRow]:
    """Translate `inp` into `out`, resuming unfinished work; return count rows.

    Args:
        model: model folder, hub id, adapter folder or `langadapt.models.loading.Loaded`.
        fields: `.jsonl` fields to translate (ignored for `.txt`).
        flush_every: texts per flush (default: 8 batches).
        restart: discard unfinished work instead of resuming it.
        on_flush: called with the number of flushes written so far in this run.
        cache_dir: folder for the journal of unfinished work (default: beside `out`).
    """
    # generation pulls in torch: imported here, so the server backend starts without it
    from langadapt.generate import GenerationOptions, output_options, translate_texts
    from langadapt.models.loading import Loaded

    gen = gen or GenerationOptions()
    out = check_out_file(out, [inp])
    doc = read_document(inp, fields)
    name = model.name if isinstance(model, Loaded) else str(model)
    # a local model by content: resuming after it was retrained in place must not mix outputs
    run_key = cache_key({"model": content_id(name), "src": src, "tgt": tgt, "gen": output_options(gen)})
    journal = Journal(journal_path(out, Path(cache_dir) if cache_dir else None), Translation,
                      run_key=run_key, restart=restart)
    done = {h: rec["text"] for h, rec in journal.done.items()}
    unique = {text_hash(t): t for t in doc.texts}
    pending = sorted((h for h in unique if h not in done), key=lambda h: (-len(unique[h]), h))
    reused = len(unique) - len(pending)
    step = flush_every or gen.batch_size * 8
    if pending:
        # a server backend needs no local model: the name goes through to the server
        loaded = model if isinstance(model, Loaded) or gen.backend == "openai" else _load(model, gen)
        groups = [pending[i:i + step] for i in range(0, len(pending), step)]
        try:
            for k, group in enumerate(tqdm(groups, desc="translate", unit="flush", disable=not progress)):
                outs = translate_texts(loaded, [unique[h] for h in group], src, tgt, gen)
                for h, t in zip(group, outs):
                    journal.add(Translation(h, t))
                done.update(zip(group, outs))
                if on_flush:
                    on_flush(k + 1)
        finally:
            journal.close()
    translated = [done[text_hash(t)] for t in doc.texts]
    atomic_write_text(out, render(doc, translated))
    journal.finish()
    return quality_rows(doc.texts, translated, tgt, name=name, reused=reused,
                        new=len(pending), sig=signature(options={"src": src, "tgt": tgt,
                                                                 "gen": output_options(gen)},
                                                        seed=gen.seed, data=[doc.path]))


def _load(model, gen: GenerationOptions):
    from langadapt.models.loading import load_model

    return load_model(model, device=gen.device, dtype=gen.dtype)


# ---------------------------------------------------------------- output checks
def quality_rows(sources: Sequence[str], outputs: Sequence[str], tgt: str, *, name: str | None = None,
                 reused: int = 0, new: int = 0, sig: dict | None = None) -> list[ResultRow]:
    """Counts of empty, copied (untranslated) and wrong-language outputs, as result rows."""
    check, how = language_checker(tgt)
    empty = sum(1 for o in outputs if not o.strip())
    copied = sum(1 for s, o in zip(sources, outputs) if o.strip() and _norm(s) == _norm(o))
    wrong = sum(1 for o in outputs if o.strip() and not check(o))
    n = len(outputs)
    common = dict(n=n, model=name, signature=sig or {})
    return [ResultRow(metric="translate.empty", value=empty, **common),
            ResultRow(metric="translate.untranslated", value=copied, **common,
                      extra={"note": "output equals the source (after case and space folding)"}),
            ResultRow(metric="translate.wrong_language", value=wrong, **common,
                      extra={"method": how, "target": tgt}),
            ResultRow(metric="translate.new", value=new, **common,
                      extra={"note": "distinct texts translated in this run"}),
            ResultRow(metric="translate.resumed", value=reused, **common,
                      extra={"note": "distinct texts taken from an interrupted earlier run"})]


MIN_LANGID_LETTERS = 20


def script_checker(tgt: str) -> tuple[Callable[[str], bool], str]:
    """A test "is most of this text's letters in `tgt`'s script?" and its name."""
    from langadapt.languages.scripts import count_in_scripts, script_pattern

    script = tgt.rsplit("_", 1)[-1]
    if script_pattern((script,)) is None:
        return (lambda _text: True), f"none (Unicode has no script {script})"

    def in_script(text: str) -> bool:
        letters = "".join(c for c in text if c.isalpha())
        return not letters or count_in_scripts(letters, (script,)) / len(letters) >= 0.5

    return in_script, f"script:{script}"


def language_checker(tgt: str) -> tuple[Callable[[str], bool], str]:
    """A test "is this text in `tgt`?" and its name.

    The script check catches copied sources and another script (English for
    Mongolian); the language-ID model of `langadapt.data.langid` (when `tgt` has a
    language profile) also catches same-script confusions such as Russian for Mongolian.
    """
    in_script, how = script_checker(tgt)
    try:
        from langadapt.data.langid import DEFAULT_BACKEND, get_backend, label_for
        from langadapt.languages import load_profile

        label = label_for(load_profile(tgt), DEFAULT_BACKEND)
        predict = get_backend(DEFAULT_BACKEND)
    except (ImportError, LangadaptError) as e:
        log.info("language ID for %s not available (%s); checking the script only", tgt, e)
        return in_script, how

    def check(text: str) -> bool:
        if not in_script(text):
            return False
        # Language ID guesses wildly on a word or two ("Hello" -> Breton), so short
        # outputs are judged by their script alone.
        return sum(c.isalpha() for c in text) < MIN_LANGID_LETTERS or predict(text)[0] == label

    return check, f"{how}+{DEFAULT_BACKEND}:{label}"


def _norm(s: str) -> str:
    return " ".join(s.casefold().split())
