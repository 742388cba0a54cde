"""`trim`: the corpus tokenizes to the same strings, ids follow id_map.json, specials survive."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from langadapt.cli import main
from langadapt.tokenizer import checks
from langadapt.tokenizer.extend import Corpus
from langadapt.tokenizer.train import BYTE_TOKENS, train
from langadapt.tokenizer.trim import merge_closure, trim


@pytest.mark.parametrize("kept, merges, expected", [
    ({"abc"}, [("a", "b"), ("ab", "c")], {"a", "b", "ab", "c", "abc"}),
    ({"ab"}, [("a", "b"), ("ab", "c")], {"a", "b", "ab"}),
    ({"x"}, [("a", "b")], {"x"}),
])
def test_merge_closure(kept, merges, expected):
    assert merge_closure(kept, merges) == expected


@pytest.fixture(scope="module", params=["qwen3", "gemma3"])
def trimmed(request, tokenizers_dir, flores, tmp_path_factory):
    base = tokenizers_dir / request.param
    out = tmp_path_factory.mktemp("trim") / request.param
    summary = trim(base, Corpus(list(flores.values())), out)
    return base, out, summary


def test_id_map_and_same_tokens(trimmed, flores):
    base, out, summary = trimmed
    id_map = json.loads((out / "id_map.json").read_text())
    kept = id_map["kept_old_ids"]
    old, new = (Tokenizer.from_file(str(p / "tokenizer.json")) for p in (base, out))
    assert id_map["base_vocab_size"] == old.get_vocab_size() == summary["base_size"]
    assert kept == sorted(set(kept)) and new.get_vocab_size() == len(kept) == summary["size"]
    assert summary["size"] < 0.2 * summary["base_size"]
    for i, old_id in enumerate(kept):
        assert new.id_to_token(i) == old.id_to_token(old_id)
    for path in flores.values():
        lines = [x for x in path.read_text("utf-8").splitlines() if x]
        for a, b in zip(old.encode_batch(lines, add_special_tokens=False),
                        new.encode_batch(lines, add_special_tokens=False)):
            assert a.tokens == b.tokens and [kept[i] for i in b.ids] == a.ids


def test_specials_and_chat_template(trimmed, flores):
    base, out, _ = trimmed
    lines = flores["khk_Cyrl"].read_text("utf-8").splitlines()
    chat = [{"role": "user", "content": lines[0]}, {"role": "assistant", "content": lines[1]}]
    hf_old, hf_new = AutoTokenizer.from_pretrained(str(base)), AutoTokenizer.from_pretrained(str(out))
    kept = json.loads((out / "id_map.json").read_text())["kept_old_ids"]
    assert [kept[i] for i in hf_new.all_special_ids] == hf_old.all_special_ids
    assert hf_new.all_special_tokens == hf_old.all_special_tokens
    chat_old = hf_old.apply_chat_template(chat, tokenize=True, return_dict=False)
    chat_new = hf_new.apply_chat_template(chat, tokenize=True, return_dict=False)
    assert [kept[i] for i in chat_new] == list(chat_old)
    assert hf_new("x").input_ids[:1] == [kept.index(i) for i in hf_old("x").input_ids[:1]]


def test_unseen_text_still_roundtrips(trimmed):
    _, out, _ = trimmed
    new = Tokenizer.from_file(str(out / "tokenizer.json"))
    texts = ["日本語のテキスト 🙂", "Ωμέγα ψ", "ümlaut ß"]
    assert checks.roundtrip_failures(new, texts) == []


# ---------------------------------------------------------------- Unigram
UNSEEN = ["日本語のテキスト 🙂", "Ωμέγα ψ", "ümlaut ß"]


@pytest.fixture(scope="module")
def unigram(small_corpus, flores, tmp_path_factory):
    """A Unigram tokenizer from `langadapt tokenizer train --model unigram` (FLORES held out)."""
    out = tmp_path_factory.mktemp("unigram") / "uni"
    train(Corpus([small_corpus], exclude=[flores["khk_Cyrl"]]), 2000, out, model="unigram")
    return out


def _same_tokens(base, out, lines):
    kept = json.loads((out / "id_map.json").read_text())["kept_old_ids"]
    old, new = (Tokenizer.from_file(str(p / "tokenizer.json")) for p in (base, out))
    for a, b in zip(old.encode_batch(lines, add_special_tokens=False),
                    new.encode_batch(lines, add_special_tokens=False)):
        assert a.tokens == b.tokens and [kept[i] for i in b.ids] == a.ids
    return old, new, kept


def test_trims_a_unigram_tokenizer_from_the_cli(unigram, flores, tmp_path, capsys):
    out = tmp_path / "uni-trim"
    assert main(["tokenizer", "trim", str(unigram), "--corpus", str(flores["khk_Cyrl"]), "--out",
                 str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "unigram" and summary["size"] < 0.8 * summary["base_size"]
    # Unknown characters (no piece of their own) are part of the checked text too.
    lines = [x for x in flores["khk_Cyrl"].read_text("utf-8").splitlines() if x]
    old, new, kept = _same_tokens(unigram, out, lines)
    spec = json.loads((out / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "Unigram" and len(spec["model"]["vocab"]) == len(kept)
    scores = dict(map(tuple, json.loads((unigram / "tokenizer.json").read_text())["model"]["vocab"]))
    assert all(scores[p] == s for p, s in spec["model"]["vocab"])
    assert min(s for _, s in spec["model"]["vocab"]) == min(scores.values())
    hf_old, hf_new = AutoTokenizer.from_pretrained(str(unigram)), AutoTokenizer.from_pretrained(str(out))
    assert hf_new.all_special_tokens == hf_old.all_special_tokens
    assert [kept[i] for i in hf_new.all_special_ids] == hf_old.all_special_ids
    unk_id = kept.index(old.token_to_id("<unk>"))
    assert new.token_to_id("<unk>") == spec["model"]["unk_id"] == unk_id
    assert unk_id in new.encode("日 Монгол", add_special_tokens=False).ids


def test_trimmed_unigram_keeps_byte_fallback_pieces(unigram, flores, tmp_path):
    # A SentencePiece-style Unigram with byte fallback (as converted Llama/Gemma-era models have).
    base = tmp_path / "uni-bytes"
    base.mkdir()
    spec = json.loads((unigram / "tokenizer.json").read_text())
    spec["model"]["vocab"] += [[b, 0.0] for b in BYTE_TOKENS]
    spec["model"]["byte_fallback"] = True
    (base / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    (base / "tokenizer_config.json").write_text((unigram / "tokenizer_config.json").read_text())
    assert checks.roundtrip_failures(Tokenizer.from_file(str(base / "tokenizer.json")), UNSEEN) == []
    out = tmp_path / "uni-bytes-trim"
    trim(base, Corpus([flores["eng_Latn"]]), out)
    lines = [x for x in flores["eng_Latn"].read_text("utf-8").splitlines() if x]
    _, new, _ = _same_tokens(base, out, lines + UNSEEN)
    assert all(new.token_to_id(b) is not None for b in BYTE_TOKENS)
    assert checks.roundtrip_failures(new, UNSEEN) == []
