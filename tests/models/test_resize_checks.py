"""`resize_model` refuses tokenizers edited from another base, and its cache sees file contents."""

from __future__ import annotations

import json

import pytest
from transformers import AutoConfig

import langadapt
from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.models import loading
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


@pytest.fixture
def loads(monkeypatch):
    """How many times a resize loaded its base model (0: the finished output was reused)."""
    calls = []
    real = loading.load_model
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_unchanged_inputs_are_reused_and_a_new_version_recomputes(tiny_model, extend_qwen3, tmp_path,
                                                                 loads, monkeypatch):
    tok, out = tmp_path / "tok", tmp_path / "out"
    extend_qwen3(tok, ["Монгол", "байна"])
    resize_model(tiny_model("qwen3"), tok, out, init="mean")
    assert len(loads) == 1
    assert json.loads((out / "resize.json").read_text())["langadapt"] == langadapt.__version__
    resize_model(tiny_model("qwen3"), tok, out, init="mean")
    assert len(loads) == 1  # same contents, same version: reused
    monkeypatch.setattr(langadapt, "__version__", "99.0.0")
    resize_model(tiny_model("qwen3"), tok, out, init="mean")
    assert len(loads) == 2  # an upgrade does not reuse what older code wrote
    assert json.loads((out / "resize.json").read_text())["langadapt"] == "99.0.0"


def test_cli_resize_after_re_extending_in_place_recomputes(tiny_model, extend_qwen3, tmp_path, capsys):
    """As a new user would: extend, resize, extend the same folder further, resize again."""
    tok, out, base = tmp_path / "tok", tmp_path / "out", str(tiny_model("qwen3"))
    extend_qwen3(tok, ["Монгол", "байна"])
    assert main(["model", "resize", base, "--tokenizer", str(tok), "--out", str(out), "--init", "mean"]) == 0
    first = AutoConfig.from_pretrained(out).vocab_size
    extend_qwen3(tok, ["Монгол", "байна", "Улаанбаатар", "хурал"])
    assert main(["model", "resize", base, "--tokenizer", str(tok), "--out", str(out), "--init", "mean"]) == 0
    assert AutoConfig.from_pretrained(out).vocab_size == read_new_tokens(tok / "new_tokens.jsonl")[-1].id + 1
    assert AutoConfig.from_pretrained(out).vocab_size > first


def test_a_corpus_rewritten_in_place_recomputes(tiny_model, extend_qwen3, tmp_path, loads):
    tok, out, corpus = tmp_path / "tok", tmp_path / "out", tmp_path / "corpus.txt"
    extend_qwen3(tok, ["Монгол", "байна"])
    corpus.write_text("Монгол хэл\n", encoding="utf-8")
    resize_model(tiny_model("qwen3"), tok, out, init="mean", check_text=corpus)
    resize_model(tiny_model("qwen3"), tok, out, init="mean", check_text=corpus)
    assert len(loads) == 1
    corpus.write_text("Монгол хэл байна\n", encoding="utf-8")  # same path, new text
    resize_model(tiny_model("qwen3"), tok, out, init="mean", check_text=corpus)
    assert len(loads) == 2


def test_init_option_files_are_keyed_by_content(tmp_path):
    from langadapt.models.embeddings import _init_inputs

    corpus = tmp_path / "c.txt"
    corpus.write_text("one", encoding="utf-8")
    first = _init_inputs({"corpus": [str(corpus)], "top_k": 3, "weighting": "softmax"})
    assert first["top_k"] == 3 and first["weighting"] == "softmax" and first["corpus"][0].startswith("sha:")
    corpus.write_text("two", encoding="utf-8")
    assert _init_inputs({"corpus": [str(corpus)], "top_k": 3, "weighting": "softmax"}) != first
