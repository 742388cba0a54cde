"""`data tokenize` keys its shard folders through `runs.cache_key`, as every other cache."""

from __future__ import annotations

import langadapt.runs as runs
from langadapt.data.tokenize import FORMAT, corpus_key


def test_corpus_key_is_a_cache_key(monkeypatch):
    key = corpus_key(["a.txt"], "tok", "text", contents="c0ffee")
    assert key == runs.cache_key({"format": FORMAT, "tokenizer": "tok", "inputs": "c0ffee", "field": "text"})
    assert key != corpus_key(["a.txt"], "tok", "body", contents="c0ffee")
    monkeypatch.setattr(runs, "code_version", lambda: "another version")
    assert corpus_key(["a.txt"], "tok", "text", contents="c0ffee") != key   # as every cache
