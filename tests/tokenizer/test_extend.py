"""`extend` on the real Qwen3 / Llama 3 / Gemma 3 tokenizers: every written guarantee holds."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from langadapt.errors import DataError
from langadapt.tokenizer import checks
from langadapt.tokenizer.extend import Corpus, apply_merges, extend, learn_merges
from langadapt.tokenizer.files import load_files

ADD = 300


@pytest.fixture(scope="module", params=["qwen3", "llama3", "gemma3"])
def extended(request, tokenizers_dir, small_corpus, flores, tmp_path_factory):
    base = tokenizers_dir / request.param
    out = tmp_path_factory.mktemp("ext") / f"{request.param}+{ADD}"
    summary = extend(base, Corpus([small_corpus], exclude=[flores["khk_Cyrl"]]), ADD, out,
                     eval_files=list(flores.values()), check_lines=500)
    loaded = tuple(Tokenizer.from_file(str(p / "tokenizer.json")) for p in (base, out))
    return base, out, summary, loaded


def _fertility(tok: Tokenizer, path) -> float:
    lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x]
    return sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False)) / sum(
        len(x.split()) for x in lines)


def test_folder_contract(extended):
    base, out, summary, _ = extended
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "new_tokens.jsonl", "extend.json"):
        assert (out / name).is_file(), name
    assert summary["added"] == ADD and summary["size"] == summary["base_size"] + ADD
    assert json.loads((out / "extend.json").read_text())["added"] == ADD


def test_new_tokens_jsonl(extended):
    base, out, summary, (base_tok, new_tok) = extended
    records = [json.loads(x) for x in (out / "new_tokens.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in records] == list(range(summary["base_size"], summary["size"]))
    for r in records:
        assert set(r) == {"id", "token", "text", "base_ids"}
        assert new_tok.id_to_token(r["id"]) == r["token"]
        assert new_tok.encode(r["text"], add_special_tokens=False).ids == [r["id"]]
        assert base_tok.encode(r["text"], add_special_tokens=False).ids == r["base_ids"]
        assert len(r["base_ids"]) >= 2 and base_tok.decode(r["base_ids"]) == r["text"]


def test_old_and_special_ids_unchanged(extended):
    base, out, _, (old_tok, new_tok) = extended
    old = old_tok.get_vocab(with_added_tokens=True)
    new = new_tok.get_vocab(with_added_tokens=True)
    assert all(new[t] == i for t, i in old.items())
    hf_old, hf_new = AutoTokenizer.from_pretrained(str(base)), AutoTokenizer.from_pretrained(str(out))
    assert hf_new.all_special_ids == hf_old.all_special_ids
    line = "Монгол Улсын Их Хурал 2024 оны сонгууль."
    ids = new_tok.encode(line, add_special_tokens=False).ids
    assert hf_new(line, add_special_tokens=False).input_ids == ids
    assert hf_new.apply_chat_template(checks.CHAT_PROBE, tokenize=False) == \
        hf_old.apply_chat_template(checks.CHAT_PROBE, tokenize=False)


def test_roundtrip_and_fertility(extended, flores):
    base, out, summary, (old, new) = extended
    for path in flores.values():
        lines = [x for x in path.read_text("utf-8").splitlines() if x]
        assert checks.roundtrip_failures(new, lines) == []
    assert _fertility(new, flores["khk_Cyrl"]) < 0.85 * _fertility(old, flores["khk_Cyrl"])
    eng = _fertility(old, flores["eng_Latn"])
    assert _fertility(new, flores["eng_Latn"]) == pytest.approx(eng, rel=0.005)
    assert summary["checks"]["roundtrip"]["exact"] == summary["checks"]["roundtrip"]["base_exact"]


def test_refuses_broken_tokenizers(tokenizers_dir, small_corpus, tmp_path):
    base = load_files(tokenizers_dir / "qwen3")
    merges, _ = learn_merges(base, Corpus([small_corpus], limit=200), 20)
    new = apply_merges(base, merges)
    broken_ids = new.copy()
    broken_ids.model["vocab"]["hello"] = 5  # an old token moved
    with pytest.raises(DataError, match="changed id"):
        checks.check_old_ids(base.tokenizer, broken_ids.tokenizer, "x")
    orphan = new.copy()
    orphan.model["merges"].pop()  # the last new token loses its merge: unreachable
    last = merges[-1]
    with pytest.raises(DataError, match="not reachable"):
        checks.check_reachable(orphan.tokenizer, [(last.id, base.token_text(last.token).decode())], "x")


def test_refusal_writes_nothing(tokenizers_dir, small_corpus, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(DataError):
        extend(tokenizers_dir / "qwen3", Corpus([tmp_path / "missing.txt"]), 10, out)
    assert not out.exists()
