"""Translation data: parallel pairs for seq2seq (NLLB/M2M100) and causal (prompted) models.

Seq2seq examples follow NLLB's layout (`[src_code] tokens </s>` in, `[tgt_code]
tokens </s>` as labels; the model builds decoder inputs by shifting labels right),
so generation with `forced_bos_token_id=<tgt_code>` matches training. Causal examples
are a one-turn chat (translation prompt -> translation) with loss on the target only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from langadapt.data.bitext import split_pair
from langadapt.errors import DataError
from langadapt.languages import language_name
from langadapt.models.seq2seq import encode_with_lang
from langadapt.textio import expand_files, iter_lines
from langadapt.train.chat import describe, encode_chat


def _json_pair(raw: str, columns: tuple[str, str], file: str, line: int) -> tuple[str, str]:
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg})", file=file, line=line) from None
    if not isinstance(rec, dict):
        raise DataError(f"record must be a JSON object, got {type(rec).__name__}", file=file, line=line)
    if columns[0] not in rec or columns[1] not in rec:
        raise DataError(f"record needs fields {columns[0]} and {columns[1]}", file=file, line=line)
    for col in columns:
        if not isinstance(rec[col], str):
            raise DataError(f"'{col}' is {describe(rec[col])}; expected a string", file=file, line=line)
    return rec[columns[0]].strip(), rec[columns[1]].strip()


def iter_pairs(paths: list[str], columns: tuple[str, str], limit: int | None = None
               ) -> Iterator[tuple[str, str]]:
    """(column-0 text, column-1 text) from TSV files or JSONL records keyed by language code.

    Files are read as every text file is (`langadapt.textio`: .gz/.zst, URLs), TSV lines by the
    rule of `data bitext` (`split_pair`).

    A malformed line, a null or non-string field, or an empty side is a DataError naming
    the file, the 1-based line and the column: an empty source would train the model to
    translate nothing into a sentence.
    """
    n = 0
    for p in expand_files(paths):
        is_json = ".jsonl" in Path(p).name
        for i, raw in iter_lines(p):
            if not raw.strip():
                continue
            if limit is not None and n >= limit:
                return
            if is_json:
                pair = _json_pair(raw, columns, p, i)
            else:
                pair = tuple(cell.strip() for cell in split_pair(raw, p, i))
            for col, text in zip(columns, pair):
                if not text:
                    raise DataError(f"empty {col} text", file=p, line=i)
            n += 1
            yield pair


def directed(pairs: list[tuple[str, str]], columns: tuple[str, str], directions: str
             ) -> list[tuple[str, str, str, str]]:
    """(src_code, tgt_code, src, tgt) examples for the chosen directions."""
    a, b = columns
    out = []
    for x, y in pairs:
        if directions in ("both", "forward"):
            out.append((a, b, x, y))
        if directions in ("both", "backward"):
            out.append((b, a, y, x))
    return out


def encode_seq2seq(tok, ex: tuple[str, str, str, str], max_src: int, max_tgt: int) -> dict:
    src_code, tgt_code, src, tgt = ex
    ids = encode_with_lang(tok, src, src_code, max_src)
    labels = encode_with_lang(tok, tgt, tgt_code, max_tgt)
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def translation_messages(prompt: str, ex: tuple[str, str, str, str]) -> list[dict]:
    src_code, tgt_code, src, tgt = ex
    user = prompt.format(src_name=language_name(src_code),
                         tgt_name=language_name(tgt_code), src=src,
                         src_code=src_code, tgt_code=tgt_code)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": tgt}]


def encode_causal(tok, prompt: str, ex: tuple[str, str, str, str], max_len: int) -> dict | None:
    return encode_chat(tok, translation_messages(prompt, ex), max_len)
