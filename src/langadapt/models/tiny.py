"""Small randomly initialised models of real architectures, for tests and quick recipes.

The model's vocabulary matches the tokenizer it is built for, and it is saved as an
ordinary HF folder (safetensors + config + tokenizer) that `Auto*` classes load.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import (
    Gemma3TextConfig,
    LlamaConfig,
    M2M100Config,
    PreTrainedTokenizerBase,
    Qwen3Config,
)

from langadapt.config import validate
from langadapt.errors import ConfigError
from langadapt.models import ARCHS
from langadapt.models.loading import load_tokenizer
from langadapt.models.tiny_options import TinyOptions
from langadapt.runs import atomic_dir

log = logging.getLogger(__name__)


# NLLB-200 language codes that matter for the first languages; `lang_codes` adds more.
NLLB_CODES = ("khk_Cyrl", "eng_Latn", "rus_Cyrl", "kaz_Cyrl", "kir_Cyrl", "bua_Cyrl", "zho_Hans",
              "deu_Latn", "fra_Latn", "uzn_Latn", "khm_Khmr")
SEQ2SEQ_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def _prepare_seq2seq_tokenizer(tok: PreTrainedTokenizerBase, lang_codes: tuple[str, ...]) -> None:
    """Give a tokenizer NLLB-style specials: <s> </s> <pad> <unk> and language-code tokens."""
    missing = {k: v for k, v in SEQ2SEQ_SPECIALS.items() if getattr(tok, k, None) is None}
    if missing:
        tok.add_special_tokens(missing)
    new_codes = [c for c in lang_codes if c not in tok.get_vocab()]
    if new_codes:
        tok.add_special_tokens({"additional_special_tokens": new_codes},
                               replace_extra_special_tokens=False)


def _config(arch: str, vocab: int, tok, layers: int, hidden: int, heads: int, kv_heads: int,
            intermediate: int, max_positions: int):
    common = dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads,
                  intermediate_size=intermediate, max_position_embeddings=max_positions,
                  bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id)
    head_dim = hidden // heads
    if arch == "qwen3":
        return Qwen3Config(head_dim=head_dim, tie_word_embeddings=True, **common)
    if arch == "llama":
        return LlamaConfig(head_dim=head_dim, tie_word_embeddings=False, **common)
    if arch == "gemma3":
        return Gemma3TextConfig(head_dim=head_dim, sliding_window=min(512, max_positions),
                                query_pre_attn_scalar=head_dim, **common)
    if arch == "m2m100":
        # M2M100 numbers positions from pad_token_id + 1, so the sinusoidal table must reach
        # past the pad id: NLLB's pad is 1, a byte-level LLM tokenizer's pad can be ~150k.
        max_positions += tok.pad_token_id + 1
        return M2M100Config(
            vocab_size=vocab, d_model=hidden, encoder_layers=layers, decoder_layers=layers,
            encoder_attention_heads=heads, decoder_attention_heads=heads,
            encoder_ffn_dim=intermediate, decoder_ffn_dim=intermediate,
            max_position_embeddings=max_positions, scale_embedding=True,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, decoder_start_token_id=tok.eos_token_id,
            tie_word_embeddings=True)
    raise ConfigError(f"unknown architecture '{arch}'; choose one of {', '.join(ARCHS)}", key="arch")


def make_tiny(arch: str, tokenizer: str | Path, out: str | Path, *,
              lang_codes: tuple[str, ...] = NLLB_CODES, **options) -> Path:
    """Build and save a tiny random model of `arch` whose vocabulary matches `tokenizer`.

    `options`: the other fields of `TinyOptions` (layers, hidden, heads, kv_heads,
    intermediate, max_positions, seed), whose defaults apply to those not given.
    """
    o = validate(TinyOptions, {"arch": arch, "tokenizer": str(tokenizer), **options}, file="model tiny")
    layers, hidden, heads, kv_heads = o.layers, o.hidden, o.heads, o.kv_heads
    tok = load_tokenizer(tokenizer)
    if arch == "m2m100":
        _prepare_seq2seq_tokenizer(tok, lang_codes)
    elif tok.pad_token is None:
        tok.pad_token = tok.eos_token
    config = _config(arch, len(tok), tok, layers, hidden, heads, kv_heads, o.intermediate, o.max_positions)
    torch.manual_seed(0 if o.seed is None else o.seed)
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM
    auto = AutoModelForSeq2SeqLM if arch == "m2m100" else AutoModelForCausalLM
    model = auto.from_config(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    log.info("tiny %s: %d layers, hidden %d, vocab %d, %.2fM parameters", arch, layers, hidden,
             len(tok), n_params / 1e6)
    out = Path(out)
    with atomic_dir(out, [tokenizer], command="model tiny") as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return out
