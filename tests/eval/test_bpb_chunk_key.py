"""bpb's resumable chunk cache is keyed by the model's content, not by its name."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import langadapt.eval.perplexity as perplexity
from langadapt.eval.options import BpbScoring


def test_a_model_changed_in_place_is_scored_again(tmp_path, monkeypatch):
    calls = []

    def score(loaded, texts, opts, max_len, stride):
        calls.append(len(texts))
        return np.ones((len(texts), 4))

    monkeypatch.setattr(perplexity, "_score_chunk", score)
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    loaded, opts, cache = SimpleNamespace(name=str(model)), BpbScoring(max_length=32), tmp_path / "chunks"
    for _ in range(2):
        perplexity.score_documents(loaded, ["сайн", "байна"], opts, cache_dir=cache)
    assert calls == [2]                                               # the second run read the cache
    (model / "model.safetensors").write_bytes(b"retrained weights")   # same folder name, new model
    perplexity.score_documents(loaded, ["сайн", "байна"], opts, cache_dir=cache)
    assert calls == [2, 2]
