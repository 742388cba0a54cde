"""The `cpt` objective's data: token shards (tokenized once, cached), packed on demand.

Every text input is tokenized into memory-mapped shards by `langadapt.data.tokenize`
(a cache hit after the first run); a folder that already holds token shards (written
by `langadapt data tokenize` or the `data.tokenize` stage) is read as it is. The
blocks are the in-memory path's (`packing.pack`) to the token: the same documents, the
same seeded shuffles, the same replay sample.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from transformers import default_data_collator

from langadapt.data.token_shards import TokenShards, is_token_shards
from langadapt.data.tokenize import tokenize_corpus, tokenizer_hash
from langadapt.errors import ConfigError, DataError
from langadapt.train.config import TrainConfig
from langadapt.train.packing import PackedShards, seeded_order
from langadapt.train.train_data import TrainData

log = logging.getLogger(__name__)
_SAMPLE_BATCH = 1000  # `packing.tokenize_sample` reads the replay corpus in chunks of this many


def open_corpus(paths: list[str], tok: Any, field: str, key: str) -> TokenShards:
    """Token shards of `paths`: shard folders as they are, text inputs through the cache."""
    shard_dirs = [p for p in paths if is_token_shards(p)]
    if not shard_dirs:
        return tokenize_corpus(paths, tok, field)
    if len(shard_dirs) != len(paths):
        raise ConfigError("mixes token-shard folders and text files; name one kind", key=key)
    corpus = TokenShards([Path(p) for p in shard_dirs])
    want = tokenizer_hash(tok)
    for folder, meta in zip(corpus.folders, corpus.metas):
        if meta["tokenizer"] != want:
            raise ConfigError(f"token shards in {folder} were made with another tokenizer; tokenize "
                              "the text again with this run's tokenizer", key=key)
    return corpus


def replay_sample(replay: TokenShards, main_tokens: int, ratio: float, seed: int) -> np.ndarray:
    """Ids of the replay documents mixed in: `tokenize_sample` then `mix_replay`, on lengths only."""
    budget = int(main_tokens * ratio / (1.0 - ratio)) + 1
    order = seeded_order(replay.num_docs, seed)
    got, m = 0, 0
    while m < len(order) and got < budget:     # whole chunks until the budget is reached
        got += int(replay.lengths(order[m:m + _SAMPLE_BATCH]).sum())
        m = min(len(order), m + _SAMPLE_BATCH)
    sample = order[:m]
    if not len(sample):
        return sample
    want = int(round(main_tokens * ratio / (1.0 - ratio)))
    pick = sample[seeded_order(len(sample), seed)]
    cum = np.cumsum(replay.lengths(pick))
    n = min(len(pick), int(np.searchsorted(cum, want, side="left")) + 1) if want > 0 else 0
    got = int(cum[n - 1]) if n else 0
    if got < want:
        log.warning("replay corpus has %d tokens, fewer than the %d asked for", got, want)
    log.info("replay mix: %d main + %d replay tokens (%.1f%% replay)", main_tokens, got,
             100.0 * got / max(1, main_tokens + got))
    return pick[:n]


def cpt_data(cfg: TrainConfig, tok: Any) -> TrainData:
    """Causal LM on packed documents, with an optional replay corpus mixed in."""
    d = cfg.data
    main = open_corpus(d.train, tok, d.field, "data.train")
    n = main.num_docs if d.limit is None else min(d.limit, main.num_docs)
    if n == 0:
        raise DataError("no usable documents in the training data", file=", ".join(d.train))
    corpus, train_ids, eval_ids = main, np.arange(n), None
    if d.eval:
        ev = open_corpus(d.eval, tok, d.field, "data.eval")
        m = ev.num_docs if d.eval_limit is None else min(d.eval_limit, ev.num_docs)
        corpus, eval_ids = main.concat(ev), main.num_docs + np.arange(m)
    elif d.eval_fraction > 0:
        n_eval = max(1, int(n * d.eval_fraction))
        train_ids, eval_ids = np.arange(n - n_eval), np.arange(n - n_eval, n)
    n_bytes = int(main.sizes(train_ids).sum())
    if d.replay and d.replay_ratio > 0:
        replay = open_corpus(d.replay, tok, d.field, "data.replay")
        main_tokens = int(main.lengths(train_ids).sum())
        picked = replay_sample(replay, main_tokens, d.replay_ratio, cfg.seed)
        n_bytes += int(replay.sizes(picked).sum())
        train_ids = np.concatenate([train_ids, corpus.num_docs + picked])
        corpus = corpus.concat(replay)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    sep = tok.eos_token_id if d.separate_documents else None
    train = PackedShards(corpus, train_ids, cfg.seq_len, tok.eos_token_id, separate_eos=sep,
                         shuffle_seed=cfg.seed if d.shuffle_documents else None)
    if len(train) == 0:
        raise DataError(f"fewer training tokens than one sequence of {cfg.seq_len}",
                        file=", ".join(d.train))
    eval_ds = None
    if eval_ids is not None and len(eval_ids):
        eval_ds = PackedShards(corpus, eval_ids, cfg.seq_len, tok.eos_token_id, separate_eos=sep,
                               keep_remainder=True, pad_id=pad)
    log.info("cpt: %d packed blocks of %d tokens%s", len(train), cfg.seq_len,
             f", {len(eval_ds)} eval blocks" if eval_ds else "")
    # the blocks hold every document but the tail of the last one (< seq_len tokens)
    return TrainData(train, eval_ds, default_data_collator, train.num_tokens, padded=False,
                     num_train_bytes=n_bytes)
