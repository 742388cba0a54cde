"""Fixtures for model surgery: small extended and trimmed tokenizers made from the real ones.

They follow the tokenizer stage's contracts (`new_tokens.jsonl`, `id_map.json`) and are
real BPE edits: extension appends merges (so new tokens are reachable and old ids stay),
trimming keeps the byte alphabet, the tokens a sample text uses, and the merges among them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer

WORDS = ["Монгол", "байна", "улсын", "хүмүүс", "төлөө", "ажил", "Улаанбаатар", "сонгууль",
         "засгийн", "хурал"]
SAMPLE = ["Монгол улсын засгийн газар өнөөдөр хуралдлаа.", "Hello world, this is a test.",
          "Улаанбаатар хотод цас орж байна."]


def _write(out: Path, data: dict, config: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False))
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False))


def make_extended(base_dir: Path, out: Path, words=WORDS) -> Path:
    """Append BPE merges that join each word's base pieces left to right (ids after len(base))."""
    base = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    data = json.loads((base_dir / "tokenizer.json").read_text())
    config = json.loads((base_dir / "tokenizer_config.json").read_text())
    vocab, merges = data["model"]["vocab"], data["model"]["merges"]
    # `tokenizers` numbers added tokens from len(model vocab) on load, so the specials must sit
    # in the model vocab too, or appended ids would collide with them.
    for t in data["added_tokens"]:
        vocab.setdefault(t["content"], t["id"])
    next_id = base.get_vocab_size(with_added_tokens=True)
    records = []
    for w in words:
        enc = base.encode(" " + w, add_special_tokens=False)
        pieces, ids = enc.tokens, enc.ids
        left, left_ids = pieces[0], [ids[0]]
        for piece, pid in zip(pieces[1:], ids[1:]):
            merged, left_ids = left + piece, left_ids + [pid]
            # newer tokenizer.json files store merges as pairs, older ones as "a b" strings
            merges.append([left, piece] if isinstance(merges[0], list) else f"{left} {piece}")
            if merged not in vocab:
                vocab[merged] = next_id
                records.append({"id": next_id, "token": merged, "text": base.decode(left_ids),
                                "base_ids": list(left_ids)})
                next_id += 1
            left = merged
    _write(out, data, config)
    (out / "new_tokens.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return out


def _byte_alphabet() -> set[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c) for c in cs}


def make_trimmed(base_dir: Path, out: Path, texts=SAMPLE) -> Path:
    """Keep the byte alphabet, specials and the tokens of `texts`; renumber; keep closed merges."""
    base = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    data = json.loads((base_dir / "tokenizer.json").read_text())
    config = json.loads((base_dir / "tokenizer_config.json").read_text())
    vocab = data["model"]["vocab"]
    keep = {vocab[c] for c in _byte_alphabet() if c in vocab}
    keep |= {t["id"] for t in data["added_tokens"]}
    for t in texts:
        keep |= set(base.encode(t, add_special_tokens=False).ids)
    kept = sorted(keep)
    new_of = {old: new for new, old in enumerate(kept)}
    data["model"]["vocab"] = {tok: new_of[i] for tok, i in vocab.items() if i in new_of}
    kept_str = set(data["model"]["vocab"])
    def closed(m) -> bool:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        return a in kept_str and b in kept_str and a + b in kept_str

    data["model"]["merges"] = [m for m in data["model"]["merges"] if closed(m)]
    for t in data["added_tokens"]:
        t["id"] = new_of[t["id"]]
    config["added_tokens_decoder"] = {str(new_of[int(k)]): v
                                      for k, v in config.get("added_tokens_decoder", {}).items()}
    _write(out, data, config)
    (out / "id_map.json").write_text(json.dumps({"base_vocab_size": base.get_vocab_size(True),
                                                 "kept_old_ids": kept}))
    return out


@pytest.fixture(scope="session")
def surgery_toks(tmp_path_factory, tokenizers_dir):
    """`surgery_toks(kind, name)` -> an extended or trimmed copy of a real tokenizer (cached)."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("surgery_toks")

    def get(kind: str, name: str = "qwen3") -> Path:
        if (kind, name) not in cache:
            make = make_extended if kind == "extended" else make_trimmed
            cache[kind, name] = make(tokenizers_dir / name, root / f"{kind}-{name}")
        return cache[kind, name]

    return get


@pytest.fixture
def copy_dir(tmp_path):
    def copy(src: Path, name: str) -> Path:
        return Path(shutil.copytree(src, tmp_path / name))
    return copy


@pytest.fixture
def extend_qwen3(tokenizers_dir):
    """`extend_qwen3(out, words)` -> Qwen3's tokenizer extended by `words`, written to `out`."""
    return lambda out, words=WORDS: make_extended(tokenizers_dir / "qwen3", out, words)


@pytest.fixture(scope="session")
def tiny_model(tiny_model):
    """Model surgery is about the vocabulary: the tiny models here carry the full real tokenizer,
    which the extended and trimmed tokenizers above are made from."""
    return lambda arch="qwen3", full_vocab=True: tiny_model(arch, full_vocab=full_vocab)
