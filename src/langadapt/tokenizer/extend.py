"""Extend a base BPE tokenizer with N new merges learned from a target-language corpus.

Output folder (the contract other stages rely on):

* an ordinary HF tokenizer folder (`tokenizer.json`, `tokenizer_config.json` with the
  chat template, `special_tokens_map.json`);
* `new_tokens.jsonl`: one `{"id", "token", "text", "base_ids"}` per new token, where
  `base_ids` is the encoding of `text` under the base tokenizer (for embedding init);
* `extend.json`: summary (sizes, corpus, checks passed).

Nothing is written unless every guarantee in `langadapt.tokenizer.checks` holds.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langadapt.errors import ConfigError, DataError
from langadapt.runs import atomic_dir, jsonl_text
from langadapt.textio import iter_texts, read_lines
from langadapt.tokenizer import checks
from langadapt.tokenizer.continued_bpe import ContinuedBPE, NewMerge, count_words
from langadapt.tokenizer.files import TokenizerFiles, has_digit, load_files, write_folder
from langadapt.tokenizer.options import CHECK_LINES, MIN_COUNT

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    """Training text: files or folders read with `iter_texts`, minus lines of `exclude` files."""

    paths: Sequence[str | Path]
    exclude: Sequence[str | Path] = ()
    field: str = "text"
    limit: int | None = None

    def texts(self) -> Iterable[str]:
        banned = {line.strip() for p in self.exclude for line in read_lines(p) if line.strip()}
        for text in iter_texts(self.paths, field=self.field, limit=self.limit):
            if text.strip() not in banned:
                yield text


def learn_merges(base: TokenizerFiles, corpus: Corpus, add: int,
                 min_count: int = MIN_COUNT) -> tuple[list[NewMerge], dict]:
    """Learn up to `add` continued-BPE merges; returns them and corpus statistics."""
    if add < 1:
        raise ConfigError("must be at least 1", key="add")
    split = base.word_splitter()
    start = time.perf_counter()
    counts = count_words(corpus.texts(), split)
    if not counts:
        raise DataError("corpus holds no text", file=", ".join(map(str, corpus.paths)))
    model = base.tokenizer.model
    id_to_token = {i: s for s, i in base.vocab.items()}

    def base_tokenize(word: str) -> list[int]:
        return [t.id for t in model.tokenize(word)]

    no_digits = base.splits_digits

    def accept(token: str) -> bool:
        try:
            text = base.token_text(token).decode("utf-8")
        except UnicodeDecodeError:
            return False  # a token must stand for whole characters to be reachable from text
        if no_digits and has_digit(text):
            return False  # keep the base's one-digit-per-token number handling
        return split(text) == [token]

    learner = ContinuedBPE(base_tokenize, id_to_token, base.size(), accept,
                           mergeable=lambda t: not base.is_byte_token(t))
    merges = learner.learn(counts, add, min_count=min_count)
    stats = {"word_types": len(counts), "words": sum(counts.values()), "skipped_pairs": learner.skipped,
             "learn_seconds": round(time.perf_counter() - start, 2)}
    if len(merges) < add:
        log.warning("only %d merges reach count %d in this corpus (asked for %d)", len(merges),
                    min_count, add)
    return merges, stats


def apply_merges(base: TokenizerFiles, merges: Sequence[NewMerge]) -> TokenizerFiles:
    """A copy of `base` with the merges appended (after all old ones) and their tokens in the vocab."""
    out = base.copy()
    model = out.model
    pin_added_tokens(out)
    as_str = bool(model["merges"]) and isinstance(model["merges"][0], str)
    for m in merges:
        model["vocab"][m.token] = m.id
        if as_str:
            if " " in m.left or " " in m.right:
                raise DataError("a merge part holds a space, which the 'a b' merge format cannot store",
                                file=base.name)
            model["merges"].append(f"{m.left} {m.right}")
        else:
            model["merges"].append([m.left, m.right])
    out.__dict__.pop("tokenizer", None)  # the cached Tokenizer belongs to the base
    return out


def pin_added_tokens(files: TokenizerFiles) -> None:
    """Put every added token into `model.vocab` at its id.

    `tokenizers` ignores the ids stored with added tokens and numbers them after the model
    vocabulary, so growing the vocabulary would shift them; a token present in the model
    vocabulary keeps the model's id instead.
    """
    vocab = files.model["vocab"]
    for t in files.spec.get("added_tokens", []):
        if vocab.setdefault(t["content"], t["id"]) != t["id"]:
            raise DataError(f"added token {t['content']!r} has id {t['id']} but the vocabulary says "
                            f"{vocab[t['content']]}", file=files.name)


def new_token_records(base: TokenizerFiles, merges: Sequence[NewMerge]) -> list[dict]:
    """`new_tokens.jsonl` records: id, vocab string, decoded text, base-tokenizer ids of the text."""
    texts = [base.token_text(m.token).decode("utf-8") for m in merges]
    encs = base.tokenizer.encode_batch_fast(texts, add_special_tokens=False) if texts else []
    return [{"id": m.id, "token": m.token, "text": t, "base_ids": e.ids}
            for m, t, e in zip(merges, texts, encs)]


def sample_lines(corpus: Corpus, k: int, seed: int = 0) -> list[str]:
    """Up to `k` corpus documents chosen at random (reservoir sampling, seeded)."""
    rng, out = random.Random(seed), []
    for n, text in enumerate(corpus.texts()):
        if n < k:
            out.append(text)
        else:
            j = rng.randint(0, n)
            if j < k:
                out[j] = text
    return out


def verify(base: TokenizerFiles, new: TokenizerFiles, records: list[dict], texts: list[str]) -> dict:
    """Run the in-memory guarantees (ids kept, new tokens reachable, round trip); raise on failure."""
    name = new.name
    checked_ids = checks.check_old_ids(base.tokenizer, new.tokenizer, name)
    checks.check_reachable(new.tokenizer, [(r["id"], r["text"]) for r in records], name)
    roundtrip = checks.check_roundtrip(base.tokenizer, new.tokenizer, texts, name)
    return {"old_ids_kept": checked_ids, "new_tokens_reachable": len(records), "roundtrip": roundtrip}


def extend(base_ref: str | Path, corpus: Corpus, add: int, out: str | Path, *,
           eval_files: Sequence[str | Path] = (), check_lines: int = CHECK_LINES, min_count: int = MIN_COUNT,
           seed: int = 0) -> dict:
    """Learn `add` merges on `corpus`, check every guarantee, write the extended folder to `out`."""
    base = load_files(base_ref)
    merges, stats = learn_merges(base, corpus, add, min_count=min_count)
    return write_extension(base, merges, out, corpus=corpus, requested=add, eval_files=eval_files,
                           check_lines=check_lines, seed=seed, stats=stats)


def write_extension(base: TokenizerFiles, merges: Sequence[NewMerge], out: str | Path, *,
                    corpus: Corpus, requested: int, eval_files: Sequence[str | Path] = (),
                    check_lines: int = CHECK_LINES, seed: int = 0, stats: dict | None = None) -> dict:
    """Apply learned merges to `base`, check every guarantee, write the folder; returns the summary."""
    new = apply_merges(base, merges)
    new.name = Path(out).name
    records = new_token_records(base, merges)
    texts = sample_lines(corpus, check_lines, seed) + [
        line for p in eval_files for line in read_lines(p) if line]
    report = verify(base, new, records, texts)
    summary = {"base": base.source or base.name, "kind": base.kind, "requested": requested,
               "added": len(merges), "base_size": base.size(), "size": new.size(),
               "corpus": [str(p) for p in corpus.paths], "exclude": [str(p) for p in corpus.exclude],
               "eval_files": [str(p) for p in eval_files], **(stats or {}), "checks": report}
    inputs = [base.source, *corpus.paths, *corpus.exclude, *eval_files]
    with atomic_dir(out, inputs, command="tokenizer extend", also_ours=("extend.json",)) as tmp:
        write_folder(new, tmp, {
            "new_tokens.jsonl": jsonl_text(records)})
        summary["checks"].update(checks.check_loads(tmp, base.source, new.name))
        (tmp / "extend.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    log.info("extended %s by %d tokens -> %s", base.name, len(merges), out)
    return summary
