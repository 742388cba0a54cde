"""`resize_model` refuses tokenizers edited from another base, and its cache sees file contents."""

from __future__ import annotations

import json

import pytest
from transformers import AutoConfig

from langadapt.errors import DataError
from langadapt.models.embeddings import read_new_tokens, resize_model


@pytest.mark.parametrize("other", ["gemma3", "llama3"])
def test_trimmed_tokenizer_of_another_base_is_a_vocabulary_mismatch(tiny_model, surgery_toks, other,
                                                                     tmp_path):
    # Gemma's kept ids lie past Qwen's vocabulary; Llama's fall inside it but name other tokens.
    tok_dir = surgery_toks("trimmed", other)
    with pytest.raises(DataError, match=r"id_map.json: vocabulary mismatch: \d+ of \d+ ids name other "
                                        r"tokens .*151669 ids.*new id \d+ is .*old id \d+ is .*trimmed"):
        resize_model(tiny_model("qwen3"), tok_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extended_tokenizer_with_other_old_tokens_is_a_vocabulary_mismatch(tiny_model, surgery_toks,
                                                                          copy_dir):
    tok = copy_dir(surgery_toks("extended"), "tok")
    spec = json.loads((tok / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    a, b = (next(t for t, i in vocab.items() if i == n) for n in (1000, 1001))
    vocab[a], vocab[b] = 1001, 1000   # same size and new ids, two old tokens swapped
    (tok / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    with pytest.raises(DataError, match=rf"vocabulary mismatch: 2 of 151669 ids.*new id 1000 is "
                                        rf"{b!r}, old id 1000 is {a!r}.*extended"):
        resize_model(tiny_model("qwen3"), tok, tok.parent / "out")


def test_tokenizer_re_extended_in_place_is_resized_again(tiny_model, extend_qwen3, tmp_path):
    tok, out = tmp_path / "tok", tmp_path / "out"
    extend_qwen3(tok, ["Монгол", "байна"])
    resize_model(tiny_model("qwen3"), tok, out, init="mean")
    first = AutoConfig.from_pretrained(out).vocab_size
    extend_qwen3(tok, ["Монгол", "байна", "Улаанбаатар", "хурал"])
    resize_model(tiny_model("qwen3"), tok, out, init="mean")
    grown = read_new_tokens(tok / "new_tokens.jsonl")[-1].id + 1
    assert first < grown == AutoConfig.from_pretrained(out).vocab_size
