"""Training data is read as every text file is (`langadapt.textio`), TSV by `data bitext`'s rule."""

from __future__ import annotations

import gzip
import json

import zstandard

from langadapt.data.bitext import iter_pairs as bitext_pairs
from langadapt.train.chat import iter_located_conversations
from langadapt.train.mt import iter_pairs

TSV = "\ufeffсайн\tgood\t0.9\n\nбайна\tis\n"


def test_mt_pairs_from_gzip_tsv_follow_the_bitext_rule(tmp_path):
    p = tmp_path / "pairs.tsv.gz"
    p.write_bytes(gzip.compress(TSV.encode("utf-8")))
    plain = tmp_path / "pairs.tsv"
    plain.write_text(TSV, encoding="utf-8")
    pairs = list(iter_pairs([str(p)], ("khk_Cyrl", "eng_Latn")))
    assert pairs == [("сайн", "good"), ("байна", "is")]           # BOM dropped, a score column ignored
    assert pairs == [(s, t) for _, _, s, t in bitext_pairs([str(plain)], "src", "tgt")]


def test_sft_records_from_zstd_jsonl(tmp_path):
    rec = {"messages": [{"role": "user", "content": "сайн уу"}, {"role": "assistant", "content": "hi"}]}
    p = tmp_path / "sft.jsonl.zst"
    p.write_bytes(zstandard.ZstdCompressor().compress((json.dumps(rec) + "\n\n" + json.dumps(rec)).encode()))
    got = list(iter_located_conversations([str(p)]))
    assert [(f, line) for f, line, _ in got] == [(str(p), 1), (str(p), 3)]
    assert got[0][2] == rec["messages"]


def test_one_text_opener():
    import langadapt.data.encoding as encoding
    import langadapt.train.chat as chat
    import langadapt.train.mt as mt

    assert not hasattr(encoding, "open_text")  # textio.open_text is the one
    for module in (chat, mt):
        source = open(module.__file__, encoding="utf-8").read()
        assert "open(" not in source.replace("open_text(", ""), module.__name__
