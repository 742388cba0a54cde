"""Shards are written through the one atomic writer (`runs.atomic_file`), gzip without a time."""

from __future__ import annotations

import gzip
import json

import pytest
from datatrove.data import Document

import langadapt.data.outputs as outputs
from langadapt.data.outputs import ShardWriter


def _docs(n, fail_at=None):
    for i in range(n):
        if i == fail_at:
            raise RuntimeError("killed")
        yield Document(text=f"мөр {i}", id=str(i), metadata={})


def test_shard_is_whole_or_absent(tmp_path):
    out = tmp_path / "data"
    assert len(list(ShardWriter(str(out)).run(_docs(3), rank=2))) == 3
    shard = out / "00002.jsonl.gz"
    first = shard.read_bytes()
    assert [json.loads(x)["text"] for x in gzip.decompress(first).decode().splitlines()] == ["мөр 0", "мөр 1",
                                                                                             "мөр 2"]
    list(ShardWriter(str(out)).run(_docs(3), rank=2))
    assert shard.read_bytes() == first                      # no time in the gzip header: same bytes
    with pytest.raises(RuntimeError):
        list(ShardWriter(str(out)).run(_docs(3, fail_at=1), rank=5))
    assert sorted(p.name for p in out.iterdir()) == ["00002.jsonl.gz"]   # nothing half-written left
    assert not hasattr(outputs, "_StreamingFile")           # the second writer is gone
