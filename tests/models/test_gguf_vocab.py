"""GGUF vocabularies: llama.cpp (vocab-only load) must tokenize exactly as the HF tokenizer does.

Each tokenizer (full, trimmed, extended) is written once into a vocab-only GGUF file and
both tokenize FLORES dev lines, Mongolian and English, plus lines with the extension's
new words; ids must be equal with `add_special_tokens=True` (BOS/EOS as the tokenizer adds them).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import SAMPLE, WORDS

from langadapt.errors import ConfigError
from langadapt.models.gguf_vocab import add_vocab

gguf = pytest.importorskip("gguf")
llamacpp = pytest.importorskip("langadapt.gen.llamacpp")

N_LINES = 100   # per FLORES language; all 1012 lines + 1000 news lines: docs/models.md
ARCH = {"qwen3": "qwen3", "llama3": "llama", "gemma3": "gemma3"}
# Runs of spaces, tabs and newlines (Gemma's added whitespace tokens), digits, emoji, another
# script, special-token text. Left out, as llama.cpp cannot match them: text not in NFC for
# Qwen (its NFC normalizer) and a literal U+2581 for Gemma (see docs/models.md).
EDGES = ["a  b\tc\n\nd   e", "  lead trail  ", "In 2024: 12,345.67 ₮ 😀 👍🏽", "it's 'quoted' don't\r\n",
         "Монгол👍улс ᠮᠣᠩᠭᠣᠯ 中文", "<|im_start|>user\nhi<|im_end|>", "<start_of_turn>user\nhi<end_of_turn>"]


class Recording:
    """A GGUFWriter that also keeps the last value given to each `add_*` call (reading the file
    back with GGUFReader takes longer than writing it)."""

    def __init__(self, writer):
        self.writer, self.values = writer, {}

    def __getattr__(self, name):
        method = getattr(self.writer, name)

        def call(*args, **kwargs):
            self.values[name] = args[0] if args else None
            return method(*args, **kwargs)
        return call


def write_vocab_gguf(tok, path, arch: str, n_vocab: int | None = None, pre: str | None = None) -> dict:
    """A GGUF file holding the vocabulary and the few hparams llama.cpp reads before it; the
    summary of `add_vocab`, with what was written under `written` (add_token_list: [...])."""
    w = Recording(gguf.GGUFWriter(str(path), arch))
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
    return {**summary, "written": w.values}


@pytest.fixture(scope="module")
def texts(data_dir) -> list[str]:
    out = []
    for lang in ("khk_Cyrl", "eng_Latn"):
        lines = (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()
        out += lines[:N_LINES]
    return out + SAMPLE + [" ".join(WORDS), "Улаанбаатар хотод " + " ".join(WORDS[:5]) + " 2024 он."] + EDGES


def mismatches(tok, path, texts: list[str]) -> list[tuple[str, list[int], list[int]]]:
    hf = tok(texts, add_special_tokens=True)["input_ids"]
    with llamacpp.LlamaCpp(path, vocab_only=True) as lm:
        got = [lm.tokenize(t, add_special=True, parse_special=True) for t in texts]
    return [(t, h, g) for t, h, g in zip(texts, hf, got) if h != g]


def project_extended(trimmed: Path, out: Path, data_dir: Path) -> Path:
    """The trimmed tokenizer extended as the adapt recipe does it (`tokenizer.extend`), on news."""
    from langadapt.tokenizer.extend import Corpus, extend

    news = out.parent / "news.txt"
    if not news.exists():
        lines = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:1500]
        news.write_text("\n".join(lines) + "\n", encoding="utf-8")
    extend(trimmed, Corpus([news]), 300, out, check_lines=50)
    return out


@pytest.fixture(scope="module")
def written(surgery_toks, tokenizers_dir, trimmed_tokenizer, data_dir, tmp_path_factory):
    """`written(kind, name)` -> (HF tokenizer, GGUF path, summary), each written once.

    Kinds: `full` (the real tokenizer), `trimmed` (`tokenizer.trim` on the test data),
    `extended` (that, extended by `tokenizer.extend` on news), `surgery` (the full tokenizer
    with merges appended for a few words: the model-surgery fixture)."""
    from transformers import AutoTokenizer

    cache: dict = {}
    root = tmp_path_factory.mktemp("gguf_vocab")

    def get(kind: str, name: str):
        if (kind, name) not in cache:
            folder = {"full": lambda: tokenizers_dir / name,
                      "trimmed": lambda: trimmed_tokenizer(name),
                      "extended": lambda: project_extended(trimmed_tokenizer(name), root / f"ext-{name}",
                                                           data_dir),
                      "surgery": lambda: surgery_toks("extended", name)}[kind]()
            tok = AutoTokenizer.from_pretrained(folder)
            path = root / f"{kind}-{name}.gguf"
            cache[kind, name] = tok, path, write_vocab_gguf(tok, path, ARCH[name])
        return cache[kind, name]

    return get


@pytest.mark.parametrize(("kind", "name"), [
    ("trimmed", "qwen3"), ("extended", "qwen3"), ("surgery", "qwen3"),
    ("trimmed", "llama3"), ("extended", "llama3"),
    ("full", "gemma3"), ("trimmed", "gemma3"), ("extended", "gemma3")])
def test_llamacpp_ids_match_hf(written, texts, kind, name):
    tok, path, summary = written(kind, name)
    assert summary["model"] == ("llama" if name == "gemma3" else "gpt2")
    assert summary["pre"] == {"qwen3": "qwen2", "llama3": "llama-bpe", "gemma3": "default"}[name]
    assert summary["tokens"] == len(tok) and summary["padding"] == 0
    assert summary["add_bos"] == (name == "gemma3")
    assert mismatches(tok, path, texts) == []
    if kind in ("extended", "surgery"):   # the new tokens are in the test lines, for both
        base = written("trimmed" if kind == "extended" else "full", name)[0]
        assert any(i >= len(base) for ids in tok(texts)["input_ids"] for i in ids)


def test_imported_gguf_keeps_its_vocabulary(imported, tmp_path):
    from transformers import AutoTokenizer

    """SmolLM2 imported from GGUF and written back: the same tokens, types, merges and `smollm`
    pre-tokenizer; the imported tokenizer splits digits as llama.cpp's `smollm` does."""
    src, folder = imported("smollm2-135m-instruct")
    path = tmp_path / "smollm2.gguf"
    summary = write_vocab_gguf(folder, path, "llama")
    assert summary["pre"] == "smollm"
    orig, ours = gguf.GGUFReader(str(src)).fields, summary["written"]
    for key, method in (("tokens", "add_token_list"), ("token_type", "add_token_types"),
                        ("merges", "add_token_merges"), ("bos_token_id", "add_bos_token_id"),
                        ("eos_token_id", "add_eos_token_id"), ("add_bos_token", "add_add_bos_token"),
                        ("chat_template", "add_chat_template")):
        field = orig["tokenizer.chat_template" if key == "chat_template" else f"tokenizer.ggml.{key}"]
        assert field.contents() == ours[method], key
    tok = AutoTokenizer.from_pretrained(folder)
    digits = ["In 2024: 12,345.67 people.", "a 123 b  456"]   # GPT-2's regex splits these otherwise
    assert mismatches(tok, path, SAMPLE + digits) == [] and mismatches(tok, src, digits) == []


def test_sentencepiece_scores_follow_merge_ranks(written):
    """Gemma 3: scores order the tokens as the real GGUF file does; specials, bytes typed."""
    tok, path, summary = written("full", "gemma3")
    ours = summary["written"]
    token, score, kind = (lambda i, k=k: ours[k][i] for k in ("add_token_list", "add_token_scores",
                                                            "add_token_types"))
    assert summary["unlisted_splits"] == 0 and summary["add_space_prefix"] is False
    ids = [tok.convert_tokens_to_ids(t) for t in ("▁t", "in", "▁a", "er")]  # Gemma's first merges
    assert [score(i) for i in ids] == sorted((score(i) for i in ids), reverse=True)
    late = tok.convert_tokens_to_ids("quorum")  # one of the last merges
    assert score(ids[-1]) > score(late) > -float(summary["merges"]) - 1
    assert kind(late) == gguf.TokenType.NORMAL
    assert kind(tok.convert_tokens_to_ids("<0x41>")) == gguf.TokenType.BYTE
    assert kind(tok.bos_token_id) == gguf.TokenType.CONTROL
    assert token(138) == "  " and kind(138) == gguf.TokenType.USER_DEFINED  # printed as spaces


def test_padding_rows_fill_the_embedding_matrix(written, texts, tmp_path):
    tok, _, _ = written("trimmed", "qwen3")
    path = tmp_path / "padded.gguf"
    summary = write_vocab_gguf(tok, path, "qwen3", n_vocab=len(tok) + 7)
    assert summary["tokens"] == len(tok) + 7 and summary["padding"] == 7
    tokens, types = summary["written"]["add_token_list"], summary["written"]["add_token_types"]
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
