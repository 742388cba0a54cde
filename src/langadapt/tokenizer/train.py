"""Train a target-language tokenizer from scratch with the `tokenizers` trainers.

* `like=BASE`: BPE with the base's normalizer, pre-tokenizer and decoder (byte-level
  for Qwen/Llama, Metaspace + byte fallback for Gemma) and the base's special tokens,
  so it is directly comparable with (and a reference for) extending that base;
* otherwise SentencePiece-style: `unigram`, or `bpe` with byte fallback, `▁` for spaces.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from langadapt.errors import ConfigError
from langadapt.runs import atomic_dir
from langadapt.tokenizer.extend import Corpus
from langadapt.tokenizer.files import SPACE, TokenizerFiles, load_files, write_folder

log = logging.getLogger(__name__)

MODELS = ("bpe", "unigram")
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
DEFAULT_SPECIALS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}


def _base_specials(base: TokenizerFiles) -> list[str]:
    """The base's added tokens; for huge reserved lists, only those the config or template names."""
    added = [t["content"] for t in sorted(base.spec.get("added_tokens", []), key=lambda t: t["id"])]
    if len(added) <= 1024:
        return added
    named = json.dumps({k: v for k, v in base.config.items() if k != "added_tokens_decoder"},
                       ensure_ascii=False)
    return [t for t in added if t in named]


def _like(base: TokenizerFiles) -> tuple[Tokenizer, list[str], list[str]]:
    """An untrained BPE tokenizer with the base's text handling; its specials and alphabet."""
    bt = base.tokenizer
    byte_level = base.kind == "byte_level"
    tok = Tokenizer(models.BPE(byte_fallback=not byte_level, unk_token=None if byte_level
                               else base.model.get("unk_token"), fuse_unk=not byte_level))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = bt.normalizer, bt.pre_tokenizer, bt.decoder
    if not byte_level:
        # Gemma-style bases run BPE over the whole line; training needs `▁word` pieces, and
        # splitting before each `▁` changes nothing for merges learned inside such pieces.
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never",
                                                     split=True)
    if byte_level and base.spec.get("post_processor", {}).get("type") == "ByteLevel":
        tok.post_processor = bt.post_processor
    specials = _base_specials(base)
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    return tok, specials, alphabet


def _renumbered_template(post: dict | None, tok: Tokenizer) -> dict | None:
    """The base's TemplateProcessing (e.g. Gemma's `<bos>`), with the trained tokenizer's ids."""
    if not post or post.get("type") != "TemplateProcessing":
        return None
    post = json.loads(json.dumps(post))
    for entry in post.get("special_tokens", {}).values():
        ids = [tok.token_to_id(t) for t in entry["tokens"]]
        if None in ids:
            log.warning("the base's post-processor names %s, which the new vocabulary lacks; dropped",
                        entry["tokens"])
            return None
        entry["ids"] = ids
    return post


def _sentencepiece(model: str) -> Tokenizer:
    if model == "unigram":
        tok = Tokenizer(models.Unigram())
    else:
        tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="first")
    # The Llama 2 decoder: `▁` back to spaces, bytes to text, drop the prepended space.
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def _config(like: TokenizerFiles | None, specials: list[str]) -> dict:
    """tokenizer_config.json: the base's (minus its id table) or a SentencePiece-style default."""
    if like is not None:
        cfg = {k: v for k, v in like.config.items() if k != "added_tokens_decoder"}
        cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
        return cfg
    return {"tokenizer_class": "PreTrainedTokenizerFast", **DEFAULT_SPECIALS,
            "model_max_length": 1 << 20, "clean_up_tokenization_spaces": False}


def train(corpus: Corpus, vocab_size: int, out: str | Path, *, like: str | Path | None = None,
          model: str = "bpe", min_frequency: int = 2) -> dict:
    """Train a tokenizer of `vocab_size` ids on `corpus`; write an HF folder to `out`."""
    if model not in MODELS:
        raise ConfigError(f"unknown model '{model}'; choose one of {', '.join(MODELS)}", key="model")
    base = load_files(like) if like else None
    if base is not None:
        if model != "bpe":
            raise ConfigError("--like trains BPE (the base's model type)", key="model")
        tok, specials, alphabet = _like(base)
    else:
        tok, specials, alphabet = _sentencepiece(model), list(DEFAULT_SPECIALS.values()), []
    byte_tokens = BYTE_TOKENS if tok.model.__class__.__name__ == "BPE" and getattr(
        tok.model, "byte_fallback", False) else []
    if model == "unigram":
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials,
                                          unk_token="<unk>", show_progress=False)
    else:
        # Byte-fallback tokens go in as "special" so they get ids; they are demoted below.
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=specials + byte_tokens,
                                      initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(corpus.texts(), trainer)
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] not in set(byte_tokens)]
    if base is not None and spec.get("post_processor") is None:
        spec["post_processor"] = _renumbered_template(base.spec.get("post_processor"), tok)
    files = TokenizerFiles(name=Path(out).name, spec=spec, config=_config(base, specials))
    if base is not None:
        files.extra = {k: v for k, v in base.extra.items() if k.startswith("chat_template")}
    with atomic_dir(out, [like, *corpus.paths, *corpus.exclude], command="tokenizer train") as tmp:
        write_folder(files, tmp)
        size = Tokenizer.from_file(str(tmp / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
        summary = {"model": model, "like": str(like) if like else None, "vocab_size": size,
                   "corpus": [str(p) for p in corpus.paths], "exclude": [str(p) for p in corpus.exclude]}
        (tmp / "train.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("trained a %s tokenizer with %d ids -> %s", model, size, out)
    return summary
