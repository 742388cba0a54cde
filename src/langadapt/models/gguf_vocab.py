"""Write an HF tokenizer as GGUF vocabulary metadata (`tokenizer.ggml.*`) that llama.cpp
tokenizes with exactly as the HF tokenizer does.

Two styles, decided from `tokenizer.json`:

* GPT-2-style byte-level BPE (Qwen2/2.5/3, Llama 3, SmolLM2): GGUF model `gpt2` with the
  vocab strings, token types, the merges in rank order and the pre-tokenizer's llama.cpp
  name (`tokenizer.ggml.pre`), found from the pre-tokenizer's structure in `_PRE_TOKENIZERS`;
* SentencePiece-style BPE with byte fallback (Gemma 3): GGUF model `llama`, scores derived
  from the merge ranks (`gguf_vocab_spm`).

The `gguf` package writes the keys but has no converter from a tokenizer object (llama.cpp's
`convert_hf_to_gguf.py` is a script, not a library), hence this module.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from langadapt.errors import ConfigError, DataError
from langadapt.models.gguf_vocab_ids import id_table
from langadapt.models.gguf_vocab_spm import add_spm_vocab

log = logging.getLogger(__name__)

# Probe for what `add_special_tokens=True` adds around a text (BOS, EOS).
_PROBE = "a"

# llama.cpp's names for the byte-level pre-tokenizers it implements (llama-vocab.cpp), keyed
# by the structure of the HF pre-tokenizer: ("split", regex) for a Split(Isolated) step,
# ("byte_level", use_regex, add_prefix_space), ("digits", individual_digits). Only
# pre-tokenizers whose llama.cpp regexes split text as the HF steps do are listed; another
# one is an error rather than a silent default that would tokenize differently.
_LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
              r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_RE = _LLAMA3_RE.replace(r"\p{N}{1,3}", r"\p{N}")  # Qwen: one digit per token
_PRE_TOKENIZERS = {
    # Llama 3 / 3.1 / 3.2 (and Falcon 3, which llama.cpp aliases to the same regex)
    (("split", _LLAMA3_RE), ("byte_level", False, False)): "llama-bpe",
    # Qwen2 / 2.5 / 3
    (("split", _QWEN2_RE), ("byte_level", False, False)): "qwen2",
    # GPT-2's own regex inside ByteLevel
    (("byte_level", True, False),): "gpt-2",
    # SmolLM / SmolLM2: every digit alone, then GPT-2's regex
    (("digits", True), ("byte_level", True, False)): "smollm",
}
_NORMALIZERS_OK = (None, "NFC")  # NFC: Qwen's; llama.cpp leaves text as it is (FLORES is NFC)


def load_tokenizer(tok):
    """A PreTrainedTokenizerFast from a tokenizer object or its folder."""
    if isinstance(tok, (str, Path)):
        from transformers import AutoTokenizer

        path = Path(tok)
        if not (path / "tokenizer.json").is_file():
            raise DataError("no tokenizer.json (only fast tokenizers can be written to GGUF)", file=str(path))
        return AutoTokenizer.from_pretrained(str(path))
    if not hasattr(tok, "backend_tokenizer"):
        raise ConfigError(f"{type(tok).__name__} is not a fast tokenizer; GGUF needs its tokenizer.json",
                          key="tokenizer")
    return tok


def tokenizer_spec(tok) -> dict:
    """The tokenizer.json content of a fast tokenizer."""
    return json.loads(tok.backend_tokenizer.to_str())


def vocab_style(spec: dict) -> str:
    """`gpt2` (byte-level BPE) or `spm` (SentencePiece-style BPE with byte fallback)."""
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise ConfigError(f"tokenizer model {model.get('type')} cannot be written to GGUF (only BPE: "
                          "byte-level or SentencePiece-style with byte fallback)", key="tokenizer")
    blob = json.dumps([spec.get(k) for k in ("pre_tokenizer", "decoder")])
    if '"ByteLevel"' in blob:
        return "gpt2"
    if model.get("byte_fallback") and "\u2581" in json.dumps(spec.get("normalizer"), ensure_ascii=False):
        return "spm"
    raise ConfigError("BPE tokenizer is neither byte-level nor SentencePiece-style with byte fallback; "
                      "llama.cpp has no matching tokenizer", key="tokenizer")


def _pre_steps(node: dict | None) -> tuple:
    if node is None:
        return ()
    kind = node.get("type")
    if kind == "Sequence":
        return tuple(s for p in node.get("pretokenizers", []) for s in _pre_steps(p))
    if kind == "Split" and node.get("behavior") == "Isolated" and not node.get("invert"):
        return (("split", node["pattern"].get("Regex") or node["pattern"].get("String")),)
    if kind == "ByteLevel":
        return (("byte_level", bool(node.get("use_regex", True)), bool(node.get("add_prefix_space"))),)
    if kind == "Digits":
        return (("digits", bool(node.get("individual_digits"))),)
    return ((kind, json.dumps(node, sort_keys=True)),)


def pre_tokenizer_name(spec: dict, recorded: str | None = None) -> str:
    """llama.cpp's name for the byte-level pre-tokenizer of `spec`.

    `recorded` (the caller's, or the name in the GGUF file a model was imported from) wins:
    the table knows only the structures listed, a GGUF file may name any of llama.cpp's.
    """
    normalizer = (spec.get("normalizer") or {}).get("type")
    if normalizer not in _NORMALIZERS_OK:
        raise ConfigError(f"normalizer {normalizer} has no llama.cpp equivalent for byte-level BPE",
                          key="tokenizer")
    if recorded:
        return recorded
    name = _PRE_TOKENIZERS.get(_pre_steps(spec.get("pre_tokenizer")))
    if name is not None:
        return name
    shown = json.dumps(spec.get("pre_tokenizer"), ensure_ascii=False)[:300]
    raise ConfigError(f"unknown pre-tokenizer (llama.cpp would split text differently): {shown}; "
                      f"known: {', '.join(sorted(set(_PRE_TOKENIZERS.values())))}", key="tokenizer")


def recorded_pre(tok) -> str | None:
    """The `tokenizer.ggml.pre` that `model import` recorded beside an imported model, if any."""
    folder = Path(getattr(tok, "name_or_path", "") or "")
    meta = folder / "gguf_import.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text(encoding="utf-8")).get("tokenizer_pre")


def special_ids(tok) -> dict[str, int]:
    """bos/eos/unk/pad/sep/mask ids the tokenizer names."""
    out = {}
    for kind in ("bos", "eos", "unk", "pad", "sep", "mask"):
        i = getattr(tok, f"{kind}_token_id", None)
        if isinstance(i, int):
            out[kind] = i
    return out


def added_specials(tok) -> tuple[bool, bool]:
    """Whether `add_special_tokens=True` puts BOS in front and EOS at the end (as the tokenizer does it)."""
    plain = tok(_PROBE, add_special_tokens=False)["input_ids"]
    full = tok(_PROBE, add_special_tokens=True)["input_ids"]
    at = next((k for k in range(len(full) - len(plain) + 1) if full[k:k + len(plain)] == plain), None)
    bos, eos = (full[:at], full[at + len(plain):]) if at is not None else (full, [])
    ids = special_ids(tok)
    if bos not in ([], [ids.get("bos")]) or eos not in ([], [ids.get("eos")]):
        raise ConfigError(f"the tokenizer's post-processor adds {bos} before and {eos} after a text; "
                          "llama.cpp can only add its BOS and EOS tokens", key="tokenizer")
    return bool(bos), bool(eos)


def write_common(writer, tok, summary: dict) -> None:
    """Special token ids, add_bos/add_eos and the chat template."""
    ids = {k: i for k, i in special_ids(tok).items() if i < summary["tokens"]}
    for kind, i in ids.items():
        getattr(writer, f"add_{kind}_token_id")(i)
    add_bos, add_eos = added_specials(tok)
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(add_eos)
    template = getattr(tok, "chat_template", None)
    if isinstance(template, str) and template:
        writer.add_chat_template(template)
    summary.update(special_ids=ids, add_bos=add_bos, add_eos=add_eos, chat_template=bool(template))


def bpe_vocab(spec: dict, n_vocab: int | None) -> tuple[list[str], list[int], list[str], int, list[str]]:
    """GPT-2-style tokens, token types and merges; how many padding tokens fill holes; the
    added tokens left out (past `n_vocab`)."""
    from gguf import TokenType

    table, added, dropped = id_table(spec, n_vocab)
    tokens, types, pads = [], [], 0
    for i, text in enumerate(table):
        if text is None:
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
            pads += 1
        elif i in added:
            # llama.cpp matches added tokens in the raw text (not the byte-level form): a special
            # one only when told to parse specials (CONTROL), a plain one always (USER_DEFINED),
            # which is how HF splits both out before BPE.
            tokens.append(text)
            types.append(TokenType.CONTROL if added[i]["special"] else TokenType.USER_DEFINED)
        else:
            tokens.append(text)
            types.append(TokenType.NORMAL)
    merges = []
    for m in spec["model"]["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if " " in a or " " in b:
            raise ConfigError(f"merge {a!r} + {b!r} holds a space, which GGUF's 'a b' merges cannot store",
                              key="tokenizer")
        merges.append(f"{a} {b}")
    return tokens, [int(t) for t in types], merges, pads, dropped


def add_vocab(writer, tok, *, arch: str, n_vocab: int | None = None, pre: str | None = None) -> dict:
    """Write every `tokenizer.ggml.*` key for the HF tokenizer `tok` (or its folder).

    Args:
        writer: a `gguf.GGUFWriter`.
        tok: a PreTrainedTokenizerFast or its folder.
        arch: the GGUF architecture (`general.architecture`) the vocabulary goes with.
        n_vocab: rows of the model's embedding matrix; ids the tokenizer lacks become
            `[PAD{id}]` tokens so that the token list has exactly this length.
        pre: llama.cpp pre-tokenizer name to write (byte-level BPE); default: the one `model
            import` recorded beside the tokenizer, else the one `_PRE_TOKENIZERS` finds.

    Returns:
        A summary: model, pre, tokens, merges, padding, special ids, add_bos/add_eos.

    Raises:
        ConfigError: a tokenizer llama.cpp cannot represent, naming what is unsupported.
    """
    tok = load_tokenizer(tok)
    spec = tokenizer_spec(tok)
    style = vocab_style(spec)
    summary: dict = {"arch": arch}
    if style == "spm":
        summary.update(add_spm_vocab(writer, spec, n_vocab))
    else:
        name = pre_tokenizer_name(spec, pre or recorded_pre(tok))
        tokens, types, merges, pads, dropped = bpe_vocab(spec, n_vocab)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(name)
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges(merges)
        summary.update(model="gpt2", pre=name, tokens=len(tokens), merges=len(merges), padding=pads,
                       dropped=dropped, normalizer=(spec.get("normalizer") or {}).get("type"))
    write_common(writer, tok, summary)
    log.info("GGUF vocabulary: %s", summary)
    return summary
