"""Tokenizer statistics: per-word token counts, metric values on known inputs, rows, chart."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from langadapt.tokenizer.stats import (
    METRICS,
    NamedTokenizer,
    _word_token_counts,
    plot_rows,
    stats_rows,
    text_stats,
)


@pytest.mark.parametrize("text, offsets, expected", [
    ("ab cd", [(0, 1), (1, 2), (2, 5)], [2, 1]),        # " cd" belongs to the word it starts
    ("ab cd", [(0, 2), (2, 3), (3, 5)], [1, 1]),        # a lone space token counts for no word
    ("x", [(0, 1), (0, 1)], [2]),                       # two byte pieces of one character
    ("", [], []),
])
def test_word_token_counts(text, offsets, expected):
    assert _word_token_counts(text, offsets) == expected


def _word_level() -> NamedTokenizer:
    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "wor": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return NamedTokenizer("toy", tok, new_ids=frozenset({2}))


@pytest.mark.parametrize("lines, expected", [
    (["hello world"], {"fertility": 1.0, "bytes_per_token": 5.5, "chars_per_token": 5.5,
                       "split_word_share": 0.0, "vocab_used_share": 0.5, "new_token_share": 0.5}),
    (["hello hello", "world"], {"fertility": 1.0, "vocab_used_share": 0.5, "new_token_share": 1 / 3}),
    (["zzz world"], {"fertility": 1.0, "vocab_used_share": 0.5}),
])
def test_text_stats_values(lines, expected):
    values = text_stats(_word_level(), lines)
    assert set(values) == set(METRICS)
    for metric, value in expected.items():
        assert values[metric] == pytest.approx(value), metric


def test_roundtrip_detects_unknowns():
    assert text_stats(_word_level(), ["hello world"])["roundtrip_exact"] == 1.0
    assert text_stats(_word_level(), ["zzz"])["roundtrip_exact"] == 0.0


def test_rows_on_real_tokenizer(tokenizers_dir, flores, tmp_path):
    rows = stats_rows([f"qwen3={tokenizers_dir / 'qwen3'}"], list(flores.values()))
    by = {(r.dataset, r.metric): r for r in rows}
    assert "new_token_share" not in {r.metric for r in rows}  # not an extended tokenizer
    assert 4.0 < by[("khk_Cyrl.dev.txt", "fertility")].value < 4.8
    assert 1.2 < by[("eng_Latn.dev.txt", "fertility")].value < 1.4
    assert by[("khk_Cyrl.dev.txt", "roundtrip_exact")].value == 1.0
    assert by[("khk_Cyrl.dev.txt", "fertility")].n == 506
    assert all(r.model == "qwen3" and r.signature["data_hash"] for r in rows)
    png = plot_rows(rows, tmp_path / "fertility.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_comparison_table_pivots_metrics():
    from langadapt.runs import ResultRow
    from langadapt.tokenizer.stats import comparison_table

    rows = [ResultRow(metric="fertility", value=4.42, dataset="mn", model="base"),
            ResultRow(metric="fertility", value=1.68, dataset="mn", model="ext"),
            ResultRow(metric="new_token_share", value=0.5, dataset="mn", model="ext")]
    assert comparison_table(rows).splitlines() == [
        "text  tokenizer  fertility  new_token_share",
        "mn    base       4.42",
        "mn    ext        1.68       0.5"]
