"""Blocks packed from token shards equal the in-memory path's, and so do the losses."""

import random

import numpy as np
import pytest
import torch

from langadapt.textio import iter_texts
from langadapt.train.config import TrainConfig
from langadapt.train.packing import (
    PackedDataset,
    PackedShards,
    mix_replay,
    pack,
    seeded_order,
    tokenize_documents,
    tokenize_sample,
)


def _legacy(cfg: TrainConfig, tok):
    """The cpt data of the in-memory path (tokenize every run, pack into one tensor)."""
    d = cfg.data
    texts = list(iter_texts(d.train, d.field, d.limit))
    docs = tokenize_documents(tok, texts)
    ev = tokenize_documents(tok, iter_texts(d.eval, d.field, d.eval_limit)) if d.eval else None
    if ev is None and d.eval_fraction > 0:
        n_eval = max(1, int(len(docs) * d.eval_fraction))
        docs, ev = docs[:-n_eval], docs[-n_eval:]
    n_bytes = sum(len(t.encode()) for t in texts[:len(docs)])
    if d.replay and d.replay_ratio > 0:
        budget = int(sum(len(x) for x in docs) * d.replay_ratio / (1.0 - d.replay_ratio)) + 1
        replay = tokenize_sample(tok, list(iter_texts(d.replay, d.field)), budget, cfg.seed)
        main = len(docs)
        docs = mix_replay(docs, replay, d.replay_ratio, cfg.seed)
        n_bytes += sum(len(t.encode()) for t in tok.batch_decode([x.tolist() for x in docs[main:]]))
    sep = tok.eos_token_id if d.separate_documents else None
    train = PackedDataset(*pack(docs, cfg.seq_len, tok.eos_token_id,
                                shuffle_seed=cfg.seed if d.shuffle_documents else None), eos_id=sep)
    eval_ds = PackedDataset(*pack(ev, cfg.seq_len, tok.eos_token_id, keep_remainder=True,
                                  pad_id=tok.pad_token_id), eos_id=sep) if ev else None
    return train, eval_ds, n_bytes


def _same_items(a, b):
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys(), i
        for k in x:
            assert torch.equal(x[k], y[k]), (i, k)


@pytest.fixture(scope="module")
def qwen3(tokenizers_dir):
    from langadapt.models.loading import load_tokenizer

    tok = load_tokenizer(tokenizers_dir / "qwen3")
    tok.pad_token = tok.eos_token   # as the trainer loads it
    return tok


def _quickstart_cases(mono):
    bible, news = str(mono / "bible_mbspeech.txt"), str(mono / "news_ner_v1.txt")
    return {
        # recipes/quickstart.yaml, stage `base`: the Bible verses, seq_len 128
        "base": dict(seq_len=128, data={"train": [bible]}),
        # stage `cpt`: news with a held-out file (eval_limit 50)
        "cpt": dict(seq_len=128, data={"train": [news], "eval": [bible], "eval_limit": 50}),
        # the tail held out, a replay corpus mixed in, documents not shuffled nor kept apart
        "replay": dict(seq_len=64, seed=3, data={"train": [news], "limit": 2000, "eval_fraction": 0.05,
                                                  "replay": [bible], "replay_ratio": 0.25}),
        "plain": dict(seq_len=96, data={"train": [bible, news], "limit": 3000, "shuffle_documents": False,
                                        "separate_documents": False}),
    }


@pytest.mark.parametrize("case", ["base", "cpt", "replay", "plain"])
def test_shard_blocks_equal_in_memory_blocks(case, qwen3, data_dir):
    from langadapt.train.objectives import build_data

    cfg = TrainConfig.model_validate({"model": "m", "output_dir": "o",
                                      **_quickstart_cases(data_dir / "mono")[case]})
    new = build_data("cpt", cfg, qwen3, False)
    train, ev, n_bytes = _legacy(cfg, qwen3)
    assert isinstance(new.train, PackedShards)
    _same_items(new.train, train)
    assert new.num_train_tokens == train.num_tokens
    assert new.num_train_bytes == n_bytes
    assert (new.eval is None) == (ev is None)
    if ev is not None:
        _same_items(new.eval, ev)
        assert new.eval.num_tokens == ev.num_tokens


def test_seeded_order_is_the_list_shuffle():
    for n, seed in ((0, 0), (1, 5), (1000, 0), (4321, 7)):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        assert seeded_order(n, seed).tolist() == order


def test_losses_and_weights_equal_the_in_memory_path(small_model, data_dir, tmp_path, monkeypatch):
    """Three LoRA steps with eval: the same logged losses and adapter as the in-memory data."""
    from safetensors.torch import load_file

    import langadapt.train.cpt_data as cpt_data
    from langadapt.train import train
    from langadapt.train.train_data import TrainData

    mono = data_dir / "mono"
    cfg = dict(model=str(small_model("qwen3")), seq_len=32, batch_size=2, lr=5e-3, max_steps=3,
               method="lora", lora={"r": 4}, eval_steps=2,
               data={"train": [str(mono / "news_ner_v1.txt")], "limit": 200, "eval_fraction": 0.1,
                     "replay": [str(mono / "bible_mbspeech.txt")], "replay_ratio": 0.2})
    new = train(TrainConfig.model_validate({**cfg, "output_dir": str(tmp_path / "new")}), "cpt")

    def legacy(c, tok):
        from transformers import default_data_collator

        tr, ev, n_bytes = _legacy(c, tok)
        return TrainData(tr, ev, default_data_collator, tr.num_tokens, padded=False, num_train_bytes=n_bytes)

    monkeypatch.setattr(cpt_data, "cpt_data", legacy)
    old = train(TrainConfig.model_validate({**cfg, "output_dir": str(tmp_path / "old")}), "cpt")
    rows = lambda res: [(r["step"], r.get("loss"), r.get("eval_loss")) for r in res.log  # noqa: E731
                        if "loss" in r or "eval_loss" in r]
    assert rows(new) == rows(old) and len(rows(new)) >= 4
    assert new.summary["total_bytes"] == old.summary["total_bytes"]
    a, b = (load_file(r.output_dir / "adapter_model.safetensors") for r in (new, old))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_items_survive_pickling_without_copying_the_map(qwen3, data_dir, tmp_path):
    """A DataLoader worker started by spawn gets the dataset pickled: the maps reopen there."""
    import pickle

    from langadapt.data.tokenize import tokenize_corpus

    corpus = tokenize_corpus([data_dir / "mono" / "bible_mbspeech.txt"], qwen3, out=tmp_path / "s")
    ds = PackedShards(corpus, np.arange(corpus.num_docs), 64, qwen3.eos_token_id, shuffle_seed=0)
    ds[0]  # maps opened
    blob = pickle.dumps(ds)
    assert len(blob) < 200_000   # ids of blocks and documents, not the 1 MB of tokens
    again = pickle.loads(blob)
    assert torch.equal(again[5]["input_ids"], ds[5]["input_ids"])
