"""GGUF vocabularies: llama.cpp (vocab-only load) must tokenize exactly as the HF tokenizer does.

Each tokenizer (full, trimmed, extended) is written once into a vocab-only GGUF file and
both tokenize FLORES dev lines, Mongolian and English, plus lines with the extension's
new words; ids must be equal with `add_special_tokens=True` (BOS/EOS as the tokenizer adds them).
"""

from __future__ import annotations

import copy
import json

import pytest
from conftest import SAMPLE, WORDS

from langadapt.errors import ConfigError
from langadapt.models.gguf_vocab import add_vocab

gguf = pytest.importorskip("gguf")
llamacpp = pytest.importorskip("langadapt.gen.llamacpp")

N_LINES = 100   # per FLORES language; all 1012 lines + 1000 news lines are in docs/gguf.md
ARCH = {"qwen3": "qwen3", "llama3": "llama", "gemma3": "gemma3"}


def write_vocab_gguf(tok, path, arch: str, n_vocab: int | None = None, pre: str | None = None) -> dict:
    """A GGUF file holding the vocabulary and the few hparams llama.cpp reads before it."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(2048)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-6)
    summary = add_vocab(w, tok, arch=arch, n_vocab=n_vocab, pre=pre)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return summary


@pytest.fixture(scope="module")
def texts(data_dir) -> list[str]:
    out = []
    for lang in ("khk_Cyrl", "eng_Latn"):
        lines = (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()
        out += lines[:N_LINES]
    return out + SAMPLE + [" ".join(WORDS), "Улаанбаатар хотод " + " ".join(WORDS[:5]) + " 2024 он."]


def mismatches(tok, path, texts: list[str]) -> list[tuple[str, list[int], list[int]]]:
    hf = tok(texts, add_special_tokens=True)["input_ids"]
    with llamacpp.LlamaCpp(path, vocab_only=True) as lm:
        got = [lm.tokenize(t, add_special=True, parse_special=True) for t in texts]
    return [(t, h, g) for t, h, g in zip(texts, hf, got) if h != g]


@pytest.fixture(scope="module")
def written(surgery_toks, tokenizers_dir, tmp_path_factory):
    """`written(kind, name)` -> (HF tokenizer, GGUF path, summary), each written once."""
    from transformers import AutoTokenizer

    cache: dict = {}
    root = tmp_path_factory.mktemp("gguf_vocab")

    def get(kind: str, name: str):
        if (kind, name) not in cache:
            folder = tokenizers_dir / name if kind == "full" else surgery_toks(kind, name)
            tok = AutoTokenizer.from_pretrained(folder)
            path = root / f"{kind}-{name}.gguf"
            cache[kind, name] = tok, path, write_vocab_gguf(tok, path, ARCH[name])
        return cache[kind, name]

    return get


@pytest.mark.parametrize("name", ["qwen3", "llama3"])
@pytest.mark.parametrize("kind", ["full", "trimmed", "extended"])
def test_bpe_ids_match_hf(written, texts, kind, name):
    tok, path, summary = written(kind, name)
    assert summary["model"] == "gpt2"
    assert summary["pre"] == {"qwen3": "qwen2", "llama3": "llama-bpe"}[name]
    assert summary["tokens"] == len(tok) and summary["padding"] == 0
    assert mismatches(tok, path, texts) == []
    if kind == "extended":   # the new tokens are used, by both
        base_size = len(written("full", name)[0])
        assert any(i >= base_size for ids in tok(texts)["input_ids"] for i in ids)


def test_padding_rows_fill_the_embedding_matrix(written, texts, tmp_path):
    tok, _, _ = written("trimmed", "qwen3")
    path = tmp_path / "padded.gguf"
    summary = write_vocab_gguf(tok, path, "qwen3", n_vocab=len(tok) + 7)
    assert summary["tokens"] == len(tok) + 7 and summary["padding"] == 7
    reader = gguf.GGUFReader(str(path))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert len(tokens) == len(tok) + 7
    assert tokens[-1] == f"[PAD{len(tok) + 6}]" and types[-7:] == [gguf.TokenType.UNUSED] * 7
    assert mismatches(tok, path, texts[:20]) == []
    with pytest.raises(Exception, match="embedding matrix"):
        write_vocab_gguf(tok, tmp_path / "small.gguf", "qwen3", n_vocab=len(tok) - 1)


def test_unknown_pre_tokenizer_is_an_error(written, tmp_path):
    from tokenizers import Regex, pre_tokenizers

    tok, _, _ = written("trimmed", "qwen3")
    odd = copy.deepcopy(tok)
    odd.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{L}+|\p{N}+|\s+"), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    with pytest.raises(ConfigError, match=r"unknown pre-tokenizer.*p\{L\}\+\|"):
        write_vocab_gguf(odd, tmp_path / "odd.gguf", "qwen3")
    # a name given by the caller (or recorded by a GGUF import) is taken as it is
    assert write_vocab_gguf(odd, tmp_path / "named.gguf", "qwen3", pre="qwen2")["pre"] == "qwen2"
