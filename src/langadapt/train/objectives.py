"""Objectives: how a config's data becomes (train dataset, eval dataset, collator).

An objective is one registered function; `cpt`, `sft` and `mt` ship here. A new one
(e.g. preference tuning) is one more `@register_objective` function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset
from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

from langadapt.errors import ConfigError, DataError
from langadapt.registry import Registry
from langadapt.train.chat import encode_chat, ensure_chat_template, iter_located_conversations
from langadapt.train.config import TrainConfig
from langadapt.train.cpt_data import cpt_data as from_shards
from langadapt.train.mt import directed, encode_causal, encode_seq2seq, iter_pairs
from langadapt.train.train_data import TrainData

log = logging.getLogger(__name__)


class ListDataset(Dataset):
    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


OBJECTIVE_DATA: Registry[Callable[..., TrainData]] = Registry("objective", key="objective")


def register_objective(name: str):
    """Decorator: register `fn(cfg, tok, is_seq2seq) -> TrainData` as objective `name`."""
    return OBJECTIVE_DATA.register(name)


def build_data(objective: str, cfg: TrainConfig, tok: Any, is_seq2seq: bool) -> TrainData:
    """Build the datasets of `objective` for `cfg`."""
    return OBJECTIVE_DATA.get(objective)(cfg, tok, is_seq2seq)


def _split(items: list, cfg: TrainConfig, eval_items: list | None) -> tuple[list, list | None]:
    """Hold out the tail of the training items when no eval data is named."""
    if eval_items is not None or cfg.data.eval_fraction <= 0:
        return items, eval_items
    n_eval = max(1, int(len(items) * cfg.data.eval_fraction))
    return items[:-n_eval], items[-n_eval:]


def decoded_bytes(tok, sequences) -> int:
    """UTF-8 bytes of the text that token sequences stand for (special tokens left out)."""
    texts = tok.batch_decode([list(map(int, s)) for s in sequences], skip_special_tokens=True)
    return sum(len(t.encode("utf-8")) for t in texts)


def _fitting(out: list, what: str, cfg: TrainConfig, paths: list[str]) -> list:
    """Drop the examples that did not fit `seq_len` (None), counting them; refuse when none fit."""
    kept = [x for x in out if x is not None]
    dropped = len(out) - len(kept)
    if out and not kept:
        raise DataError(f"all {len(out)} {what} are longer than seq_len {cfg.seq_len}; raise seq_len",
                        file=", ".join(paths))
    if dropped:
        log.warning("%d of %d %s are longer than seq_len %d and are left out", dropped, len(out),
                    what, cfg.seq_len)
    return kept


def _nonempty(items: list, what: str, paths: list[str]) -> list:
    if not items:
        raise DataError(f"no usable {what} in the training data", file=", ".join(paths))
    return items


@register_objective("cpt")
def cpt_data(cfg: TrainConfig, tok: Any, is_seq2seq: bool) -> TrainData:
    """Causal LM on packed documents, with an optional replay corpus mixed in."""
    if is_seq2seq:
        raise ConfigError("objective cpt needs a causal LM; use mt for seq2seq models", key="model")
    return from_shards(cfg, tok)


def _examples(tok, items: list[dict], eval_items: list[dict] | None, padding_free: bool) -> TrainData:
    """Examples batched without padding (causal models) or padded to the batch's longest one.

    Padding-free: each batch is one row, the examples one after another, with `position_ids`
    restarting at every example and no attention mask, which transformers turns into a
    block-diagonal causal mask as for packed cpt blocks (see train/packing.py). Each
    example's first label becomes -100, so no example predicts the next one's first token
    (the padded path never predicts a first token either): the loss is the padded path's.
    """
    if padding_free:
        collator = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    else:
        collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    n_tokens = sum(len(x["input_ids"]) for x in items)
    return TrainData(ListDataset(items), ListDataset(eval_items) if eval_items else None, collator,
                     n_tokens, padded=not padding_free,
                     num_train_bytes=decoded_bytes(tok, (x["input_ids"] for x in items)))


@register_objective("sft")
def sft_data(cfg: TrainConfig, tok: Any, is_seq2seq: bool) -> TrainData:
    """Chat-template instruction tuning; loss on assistant tokens only."""
    if is_seq2seq:
        raise ConfigError("objective sft needs a causal LM; use mt for seq2seq models", key="model")
    ensure_chat_template(tok)
    d = cfg.data

    def enc(paths, limit):
        out = []
        for file, line, msgs in iter_located_conversations(paths, limit):
            try:
                out.append(encode_chat(tok, msgs, cfg.seq_len))
            except DataError as e:
                if e.file is not None:
                    raise
                raise DataError(str(e), file=file, line=line) from None
        return _fitting(out, "conversations", cfg, paths)

    items = _nonempty(enc(d.train, d.limit), "conversations", d.train)
    items, ev = _split(items, cfg, enc(d.eval, d.eval_limit) if d.eval else None)
    return _examples(tok, items, ev, d.padding_free)


@register_objective("mt")
def mt_data(cfg: TrainConfig, tok: Any, is_seq2seq: bool) -> TrainData:
    """Translation: NLLB-style seq2seq, or a translation prompt with loss on the target."""
    d, m = cfg.data, cfg.mt
    pairs = list(iter_pairs(d.train, m.columns, d.limit))
    pairs, ev_pairs = _split(_nonempty(pairs, "pairs", d.train), cfg,
                             list(iter_pairs(d.eval, m.columns, d.eval_limit)) if d.eval else None)
    if is_seq2seq:
        max_tgt = m.max_target_length or cfg.seq_len

        def enc(ps):
            return [encode_seq2seq(tok, ex, cfg.seq_len, max_tgt) for ex in directed(ps, m.columns,
                                                                                    m.directions)]
    else:
        ensure_chat_template(tok)

        def enc(ps):
            out = [encode_causal(tok, m.prompt, ex, cfg.seq_len)
                   for ex in directed(ps, m.columns, m.directions)]
            return _fitting(out, "translation examples", cfg, d.train)
    # seq2seq: the encoder has no per-example positions to restart, so its batches stay padded
    return _examples(tok, enc(pairs), enc(ev_pairs) if ev_pairs else None,
                     d.padding_free and not is_seq2seq)
