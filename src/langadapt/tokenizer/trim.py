"""Trim a BPE or Unigram vocabulary to the tokens a corpus uses; the corpus tokenizes as before.

BPE keeps every token the corpus (and the rendered chat template) encodes to, every byte
token (any text stays encodable), every added/special token, and, closed transitively,
both parts of every merge that produces a kept token. Kept merges are those whose
parts and result are all kept, in their original order. On corpus text BPE then
applies exactly the merges it applied before: each merge on the base's path produces
a kept token, and the kept merges are a subset of the base's with the same ranks.

Unigram keeps the pieces the corpus encodes to, byte-fallback pieces, added tokens, the
unknown piece and the lowest-scored piece, with their scores. Unigram picks the
best-scoring segmentation among the pieces present; the base's choice for a corpus text
uses kept pieces only and the others can only be fewer, so it stays the best. The
lowest-scored piece is kept because `tokenizers` scores an unknown character at the
vocabulary's minimum score minus 10: where a longer piece covers a character that has no
piece of its own, that penalty decides between them, so it must not move.

Output: an ordinary HF tokenizer folder plus `id_map.json`:
`{"base_vocab_size": int, "kept_old_ids": [int, ...]}` (new id i = old id kept_old_ids[i]).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from langadapt.errors import DataError
from langadapt.runs import atomic_dir
from langadapt.tokenizer import checks
from langadapt.tokenizer.extend import Corpus, pin_added_tokens
from langadapt.tokenizer.files import BYTE_TO_CHAR, TokenizerFiles, load_files, write_folder

log = logging.getLogger(__name__)


def _batches(texts: Iterable[str], size: int = 4096) -> Iterator[list[str]]:
    batch: list[str] = []
    for t in texts:
        batch.append(t)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def used_ids(files: TokenizerFiles, texts: Iterable[str]) -> tuple[set[int], int]:
    """Ids the corpus encodes to (no special tokens added), and the number of texts."""
    tok, used, n = files.tokenizer, set(), 0
    for batch in _batches(texts):
        for enc in tok.encode_batch_fast(batch, add_special_tokens=False):
            used.update(enc.ids)
        n += len(batch)
    if n == 0:
        raise DataError("corpus holds no text")
    return used, n


def always_kept(files: TokenizerFiles) -> set[str]:
    """Byte tokens, added/special tokens and the unknown token: kept whatever the corpus."""
    vocab = files.vocab
    keep = {t["content"] for t in files.spec.get("added_tokens", [])}
    if files.kind == "byte_level":
        keep |= {c for c in BYTE_TO_CHAR.values() if c in vocab}
    else:
        keep |= {t for t in vocab if files.is_byte_token(t)}
    if files.model.get("unk_token"):
        keep.add(files.model["unk_token"])
    return keep


def merge_closure(kept: set[str], merges: list[tuple[str, str]]) -> set[str]:
    """Add both parts of every merge that produces a kept token, until nothing changes."""
    producers: dict[str, list[tuple[str, str]]] = {}
    for a, b in merges:
        producers.setdefault(a + b, []).append((a, b))
    kept = set(kept)
    todo = list(kept)
    while todo:
        tok = todo.pop()
        for pair in producers.get(tok, ()):
            for part in pair:
                if part not in kept:
                    kept.add(part)
                    todo.append(part)
    return kept


def _remap_special_ids(node, id_map: dict[int, int]):
    """Post-processor templates store special-token ids under `ids`; rewrite them."""
    if isinstance(node, dict):
        return {k: ([id_map[i] for i in v] if k == "ids" and isinstance(v, list) else
                    _remap_special_ids(v, id_map)) for k, v in node.items()}
    if isinstance(node, list):
        return [_remap_special_ids(v, id_map) for v in node]
    return node


def build_trimmed(base: TokenizerFiles, keep: set[str]) -> tuple[TokenizerFiles, list[int]]:
    """The trimmed tokenizer files and `kept_old_ids` (sorted old ids; new id = position)."""
    new = base.copy()
    pin_added_tokens(new)
    vocab = new.model["vocab"]
    kept_old = sorted(vocab[t] for t in keep if t in vocab)
    id_map = {old: i for i, old in enumerate(kept_old)}
    old_to_tok = {i: t for t, i in vocab.items()}
    new.model["vocab"] = {old_to_tok[old]: i for i, old in enumerate(kept_old)}
    merges = new.model["merges"]
    pairs = base.merge_pairs()
    new.model["merges"] = [m for m, (a, b) in zip(merges, pairs)
                           if a in keep and b in keep and a + b in keep]
    _renumber_added(new, id_map)
    return new, kept_old


def unigram_always_kept(files: TokenizerFiles) -> set[int]:
    """Ids of byte-fallback pieces, added tokens, the unknown piece and the lowest-scored piece."""
    pieces = files.model["vocab"]
    keep = set(files.added_ids().values())
    keep |= {i for i, (piece, _) in enumerate(pieces) if files.is_byte_token(piece)}
    if files.model.get("unk_id") is not None:
        keep.add(files.model["unk_id"])
    if pieces:  # fixes the unknown-character penalty (minimum score - 10)
        keep.add(min(range(len(pieces)), key=lambda i: pieces[i][1]))
    return keep


def build_trimmed_unigram(base: TokenizerFiles, keep: set[int]) -> tuple[TokenizerFiles, list[int]]:
    """Unigram: the trimmed files (kept pieces with their scores) and `kept_old_ids`."""
    new = base.copy()
    pieces = new.model["vocab"]
    kept_old = sorted(keep)
    id_map = {old: i for i, old in enumerate(kept_old)}
    # Added tokens outside the piece list sort last, so they stay after the pieces, where
    # `tokenizers` numbers them; check_old_ids confirms every id.
    new.model["vocab"] = [pieces[i] for i in kept_old if i < len(pieces)]
    if new.model.get("unk_id") is not None:
        new.model["unk_id"] = id_map[new.model["unk_id"]]
    _renumber_added(new, id_map)
    return new, kept_old


def _renumber_added(new: TokenizerFiles, id_map: dict[int, int]) -> None:
    """Give added tokens, post-processor templates and the config's decoder table their new ids."""
    for t in new.spec.get("added_tokens", []):
        t["id"] = id_map[t["id"]]
    if new.spec.get("post_processor"):
        new.spec["post_processor"] = _remap_special_ids(new.spec["post_processor"], id_map)
    decoder = new.config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        new.config["added_tokens_decoder"] = {str(id_map[int(k)]): v for k, v in decoder.items()
                                              if int(k) in id_map}
    new.__dict__.pop("tokenizer", None)  # the cached Tokenizer belongs to the base


def check_same_tokens(base: TokenizerFiles, new: TokenizerFiles, texts: Iterable[str],
                      id_map: dict[int, int]) -> int:
    """Every text encodes to the same token strings, with ids mapped; returns texts checked."""
    n, bad = 0, []
    for batch in _batches(texts):
        old = base.tokenizer.encode_batch_fast(batch, add_special_tokens=False)
        cur = new.tokenizer.encode_batch_fast(batch, add_special_tokens=False)
        for text, a, b in zip(batch, old, cur):
            if [id_map.get(i) for i in a.ids] != b.ids:
                bad.append(text)
        n += len(batch)
    checks._fail("texts tokenize differently after trimming", bad, new.name)
    return n


def trim(base_ref: str | Path, corpus: Corpus, out: str | Path) -> dict:
    """Trim `base_ref` to the tokens `corpus` uses; check and write the folder + `id_map.json`."""
    base = load_files(base_ref)
    if base.model.get("type") not in ("BPE", "Unigram"):
        raise DataError(f"only BPE and Unigram tokenizers can be trimmed; this one is "
                        f"{base.model.get('type')}", file=base.name)
    kind = "unigram" if base.is_unigram else base.kind  # BPE: refuses unsupported flavours early
    # The chat template's own text (role names, headers) must tokenize as before too.
    chat = checks.render_chat(base.source) if base.source else None
    used, n_texts = used_ids(base, itertools.chain(corpus.texts(), [chat] if chat else []))
    if base.is_unigram:
        new, kept_old = build_trimmed_unigram(base, used | unigram_always_kept(base))
    else:
        id_to_tok = {i: t for t, i in base.vocab.items()}
        id_to_tok.update({i: t for t, i in base.added_ids().items()})
        keep = merge_closure({id_to_tok[i] for i in used} | always_kept(base), base.merge_pairs())
        new, kept_old = build_trimmed(base, keep)
    new.name = Path(out).name
    id_map = {old: i for i, old in enumerate(kept_old)}
    checks.check_old_ids(base.tokenizer, new.tokenizer, new.name, id_map=id_map)
    checked = check_same_tokens(base, new, corpus.texts(), id_map)
    summary = {"base": base.source or base.name, "kind": kind, "base_size": base.size(),
               "size": len(kept_old), "kept_fraction": len(kept_old) / base.size(),
               "used_by_corpus": len(used), "corpus": [str(p) for p in corpus.paths],
               "texts": n_texts - (1 if chat else 0), "checks": {"same_tokens_texts": checked}}
    if not base.is_unigram:
        summary.update(merges=len(new.model["merges"]), base_merges=len(base.model["merges"]))
    inputs = [base.source, *corpus.paths, *corpus.exclude]
    with atomic_dir(out, inputs, command="tokenizer trim", also_ours=("trim.json",)) as tmp:
        write_folder(new, tmp, {"id_map.json": json.dumps(
            {"base_vocab_size": base.size(), "kept_old_ids": kept_old}) + "\n"})
        summary["checks"].update(checks.check_loads(tmp, base.source, new.name))
        (tmp / "trim.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("trimmed %s from %d to %d ids -> %s", base.name, base.size(), len(kept_old), out)
    return summary
