"""From-scratch training: `--like BASE` copies text handling and specials; SentencePiece styles."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from langadapt.errors import ConfigError
from langadapt.tokenizer import checks
from langadapt.tokenizer.extend import Corpus
from langadapt.tokenizer.train import train


def _lines(path, n=200):
    return [x for x in path.read_text("utf-8").splitlines() if x][:n]


def test_like_qwen3(tokenizers_dir, small_corpus, flores, tmp_path):
    out = tmp_path / "like"
    summary = train(Corpus([small_corpus]), 1000, out, like=tokenizers_dir / "qwen3")
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert summary["vocab_size"] == tok.get_vocab_size() == 1000
    assert checks.roundtrip_failures(tok, _lines(flores["khk_Cyrl"]) + _lines(flores["eng_Latn"])) == []
    hf = AutoTokenizer.from_pretrained(str(out))
    assert hf.eos_token == "<|im_end|>" and hf.convert_tokens_to_ids("<|im_start|>") < 30
    assert "<|im_start|>assistant" in hf.apply_chat_template(checks.CHAT_PROBE[:2], tokenize=False,
                                                             add_generation_prompt=True)


@pytest.mark.parametrize("model", ["bpe", "unigram"])
def test_sentencepiece_style(model, small_corpus, flores, tmp_path):
    out = tmp_path / model
    train(Corpus([small_corpus], exclude=[flores["khk_Cyrl"]]), 800, out, model=model)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert tok.get_vocab_size() <= 800 + 256
    mn = _lines(flores["khk_Cyrl"])
    assert checks.roundtrip_failures(tok, mn + ["Hello 2024,  two  spaces"]) == [] or model == "unigram"
    assert AutoTokenizer.from_pretrained(str(out)).unk_token == "<unk>"
    assert tok.encode("Монгол улс").tokens[0].startswith("\u2581")


def test_bad_model_is_a_config_error(small_corpus, tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        train(Corpus([small_corpus]), 500, tmp_path / "x", model="wordpiece")


def test_like_gemma3_splits_words_and_keeps_bos(tokenizers_dir, small_corpus, flores, tmp_path):
    out = tmp_path / "like-gemma"
    train(Corpus([small_corpus]), 1000, out, like=tokenizers_dir / "gemma3")
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert all(t.count("\u2581") <= 1 for t in tok.get_vocab())  # no piece spans two words
    assert checks.roundtrip_failures(tok, _lines(flores["khk_Cyrl"])) == []
    hf = AutoTokenizer.from_pretrained(str(out))
    assert hf("Монгол").input_ids[0] == hf.bos_token_id == tok.token_to_id("<bos>")
