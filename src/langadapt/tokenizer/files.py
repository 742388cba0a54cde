"""A tokenizer as files: read an HF tokenizer folder (or hub id), edit its JSON, write a new folder.

Extension and trimming edit `tokenizer.json` as data (vocab, merges, added tokens) rather
than through `add_tokens`, so the result is an ordinary BPE tokenizer that any HF loader
reads. This module knows the two BPE flavours langadapt edits:

* `byte_level`: GPT-2 style byte-level BPE (Qwen2/2.5/3, Llama 3);
* `metaspace`: SentencePiece-style BPE with `▁` for spaces and byte fallback (Gemma 3).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from langadapt.errors import DataError

log = logging.getLogger(__name__)

SPACE = "\u2581"  # SentencePiece's visible space
_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
# Files of an HF tokenizer folder that are copied unchanged (besides tokenizer.json/config).
_EXTRA_FILES = ("chat_template.jinja", "chat_template.json", "generation_config.json")
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token",
                 "mask_token")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (byte-level BPE alphabet)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def has_digit(text: str) -> bool:
    """Whether `text` holds an ASCII digit (the digits tokenizers split one by one)."""
    return any("0" <= c <= "9" for c in text)


@dataclass
class TokenizerFiles:
    """The editable content of an HF tokenizer folder."""

    name: str
    spec: dict                      # tokenizer.json
    config: dict                    # tokenizer_config.json ({} when absent)
    extra: dict[str, bytes] = field(default_factory=dict)  # other files copied as they are
    source: str = ""                # folder or hub id it was read from (for loading with transformers)

    # ------------------------------------------------------------------ views
    @property
    def model(self) -> dict:
        return self.spec["model"]

    @cached_property
    def kind(self) -> str:
        """`byte_level` or `metaspace`; other tokenizer types are refused."""
        if self.model.get("type") != "BPE":
            raise DataError(f"only BPE tokenizers can be edited; this one is {self.model.get('type')}",
                            file=self.name)
        blob = json.dumps([self.spec.get(k) for k in ("normalizer", "pre_tokenizer", "decoder")],
                          ensure_ascii=False)
        if '"ByteLevel"' in blob:
            return "byte_level"
        if self.model.get("byte_fallback") and SPACE in blob:
            return "metaspace"
        raise DataError("unsupported BPE flavour: need byte-level BPE or Metaspace BPE with byte "
                        "fallback", file=self.name)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_str(json.dumps(self.spec, ensure_ascii=False))

    @property
    def is_unigram(self) -> bool:
        return self.model.get("type") == "Unigram"

    @property
    def vocab(self) -> dict[str, int]:
        """Vocab string -> id; for Unigram a dict built from the `[piece, score]` list (edit that)."""
        if self.is_unigram:
            return {piece: i for i, (piece, _) in enumerate(self.model["vocab"])}
        return self.model["vocab"]

    def merge_pairs(self) -> list[tuple[str, str]]:
        """Merges as pairs, whichever of the two JSON spellings the file uses."""
        return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in self.model["merges"]]

    def added_ids(self) -> dict[str, int]:
        return {t["content"]: t["id"] for t in self.spec.get("added_tokens", [])}

    def size(self) -> int:
        """Number of ids (one past the largest id, added tokens included)."""
        ids = list(self.vocab.values()) + list(self.added_ids().values())
        return max(ids) + 1

    def copy(self) -> TokenizerFiles:
        return TokenizerFiles(self.name, copy.deepcopy(self.spec), copy.deepcopy(self.config),
                              dict(self.extra), self.source)

    # ------------------------------------------------------------------ text <-> vocab strings
    def token_text(self, token: str) -> bytes:
        """The bytes a vocab string stands for (what decoding it produces)."""
        if self.kind == "byte_level":
            return bytes(CHAR_TO_BYTE[c] for c in token)
        m = _BYTE_TOKEN.match(token)
        if m:
            return bytes([int(m.group(1), 16)])
        return token.replace(SPACE, " ").encode("utf-8")

    @cached_property
    def splits_digits(self) -> bool:
        """Whether the base keeps every digit a token of its own (Gemma does; new tokens must too)."""
        added = self.added_ids()
        for token in self.vocab:
            if len(token) > 1 and token not in added and has_digit(token) and not self.is_byte_token(token):
                text = self.token_text(token).decode("utf-8", errors="ignore")
                if len(text) > 1 and has_digit(text):
                    return False
        return True

    def is_byte_token(self, token: str) -> bool:
        """A byte-fallback token (`<0x41>`); such tokens are never merged."""
        return bool(_BYTE_TOKEN.match(token))

    def word_splitter(self) -> Callable[[str], list[str]]:
        """Text -> the pieces BPE runs on (vocab-string alphabet), as the base tokenizer splits them."""
        tok = self.tokenizer
        norm, pre = tok.normalizer, tok.pre_tokenizer
        if self.kind == "byte_level":
            def split(text: str) -> list[str]:
                if norm is not None:
                    text = norm.normalize_str(text)
                return [p for p, _ in pre.pre_tokenize_str(text)]
            return split
        # Gemma-style: the whole line is one BPE sequence; learning happens per `▁word` piece.
        word_re = re.compile(f"{SPACE}*[^{SPACE}]+|{SPACE}+")

        def split_meta(text: str) -> list[str]:
            if norm is not None:
                text = norm.normalize_str(text)
            pieces = [p for p, _ in pre.pre_tokenize_str(text)] if pre is not None else [text]
            return [w for p in pieces for w in word_re.findall(p)]
        return split_meta


def load_files(ref: str | Path) -> TokenizerFiles:
    """Read a tokenizer folder (or `tokenizer.json`); a non-local name is fetched as a hub id."""
    path = Path(ref)
    if path.is_file() and path.name == "tokenizer.json":
        path = path.parent
    if not path.is_dir():
        return _from_hub(str(ref))
    if not (path / "tokenizer.json").is_file():
        raise DataError("folder has no tokenizer.json (only fast, tokenizers-format tokenizers "
                        "can be edited)", file=str(path))
    try:
        spec = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
        cfg_path = path / "tokenizer_config.json"
        config = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg})", file=str(path)) from None
    extra = {n: (path / n).read_bytes() for n in _EXTRA_FILES if (path / n).is_file()}
    return TokenizerFiles(name=path.name, spec=spec, config=config, extra=extra, source=str(path))


def _from_hub(ref: str) -> TokenizerFiles:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(ref)
    except (OSError, ValueError) as e:
        raise DataError(f"not a tokenizer folder and not loadable as a hub id ({e.__class__.__name__})",
                        file=ref) from None
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        files = load_files(tmp)
    files.name, files.source = ref.rstrip("/").split("/")[-1], ref
    return files


def special_tokens_map(config: dict) -> dict:
    """`special_tokens_map.json` content derived from a tokenizer config."""
    out = {k: config[k] for k in _SPECIAL_KEYS if config.get(k) is not None}
    extra = config.get("additional_special_tokens") or config.get("extra_special_tokens")
    if isinstance(extra, list) and extra:
        out["additional_special_tokens"] = extra
    return out


def write_folder(files: TokenizerFiles, out: Path, sidecars: dict[str, str] | None = None) -> None:
    """Write the tokenizer folder files (and `sidecars`: name -> text) into an existing folder `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(files.spec, ensure_ascii=False, indent=2),
                                        encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(files.config, ensure_ascii=False, indent=2),
                                               encoding="utf-8")
    (out / "special_tokens_map.json").write_text(
        json.dumps(special_tokens_map(files.config), ensure_ascii=False, indent=2), encoding="utf-8")
    for name, data in files.extra.items():
        (out / name).write_bytes(data)
    for name, text in (sidecars or {}).items():
        (out / name).write_text(text, encoding="utf-8")

