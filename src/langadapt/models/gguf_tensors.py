"""What a GGUF export writes per model family: hyperparameter keys and tensors in llama.cpp's layout.

Names come from the `gguf` package's own tables (`gguf.get_tensor_name_map`), keys from
`GGUFWriter.add_*`. What the tables do not carry is the handful of conversions llama.cpp's
own `convert_hf_to_gguf.py` applies, and transformers' GGUF reader undoes on import:

* Llama: `q_proj`/`k_proj` rows are permuted from HF's half-split rotary layout to the
  interleaved one llama.cpp's `rope` kernel reads;
* Gemma 3: HF's RMSNorm computes `x * (1 + w)`, llama.cpp's `x * w`, so every norm weight
  is stored plus one; the local layers' rope base and the 5:1 local/global pattern are
  fixed in llama.cpp, so a model that differs is refused rather than exported wrong;
* a tied head writes no `output.weight` (llama.cpp reuses `token_embd.weight`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from langadapt.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GgufFamily:
    """How one HF model type becomes one llama.cpp architecture."""

    arch: str                   # `general.architecture`, a `gguf.MODEL_ARCH_NAMES` value
    permute_qk: bool = False    # Llama's rotary layout (see the module docstring)
    norm_plus_one: bool = False  # Gemma's `x * (1 + w)` norms
    key_length: bool = False    # always write attention.key_length/value_length
    vocab_size_key: bool = False  # write `<arch>.vocab_size` (llama.cpp's own converter does for llama)
    extra: Callable | None = None   # family-specific keys: extra(writer, config)


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _rope(config, layer_type: str | None = None) -> dict:
    """The rope parameters (transformers 5 `rope_parameters`; per layer type for Gemma 3)."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    if layer_type is not None and layer_type in params:
        params = dict(params[layer_type])
    if "rope_theta" not in params and getattr(config, "rope_theta", None) is not None:
        params["rope_theta"] = config.rope_theta
    params.setdefault("rope_type", "default")
    return params


def _rope_scaling(writer, params: dict) -> None:
    """Linear scaling is a key; llama3 scaling is a tensor (`rope_freqs`, see `extra_tensors`)."""
    import gguf

    kind = params["rope_type"]
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(params["factor"]))
    elif kind not in ("default", "llama3"):
        raise ConfigError(f"rope type '{kind}' cannot be exported yet (default, linear and llama3 can)",
                          key="rope_parameters")


def _gemma3(writer, config) -> None:
    """Gemma 3: sliding window; refuse what llama.cpp's gemma3 graph fixes otherwise."""
    layer_types = list(getattr(config, "layer_types", None) or [])
    if len(layer_types) < 6:
        # the runtime's gemma3 graph crashes (segfault in llama_decode) without a global layer
        raise ConfigError(f"llama.cpp's gemma3 needs at least 6 layers (five sliding-window, one global); "
                          f"this model has {len(layer_types)}", key="num_hidden_layers")
    pattern = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(len(layer_types))]
    if layer_types != pattern:
        raise ConfigError("llama.cpp's gemma3 runs five sliding-window layers then one global layer; "
                          "this model's layer_types differ", key="layer_types")
    local = _rope(config, "sliding_attention")
    if float(local["rope_theta"]) != 10_000.0 or local["rope_type"] != "default":
        raise ConfigError(f"llama.cpp's gemma3 uses rope base 10000 on sliding-window layers; this model "
                          f"has {local['rope_theta']} ({local['rope_type']})", key="rope_parameters")
    if int(getattr(config, "query_pre_attn_scalar", _head_dim(config))) != _head_dim(config):
        raise ConfigError("llama.cpp's gemma3 scales queries by 1/sqrt(head_dim); this model's "
                          "query_pre_attn_scalar differs from head_dim", key="query_pre_attn_scalar")
    if getattr(config, "attn_logit_softcapping", None) is not None:
        raise ConfigError("Gemma 3 in llama.cpp has no attention logit soft-capping",
                          key="attn_logit_softcapping")
    writer.add_sliding_window(int(config.sliding_window))
    if (cap := getattr(config, "final_logit_softcapping", None)) is not None:
        writer.add_final_logit_softcapping(float(cap))


FAMILIES: dict[str, GgufFamily] = {
    "llama": GgufFamily("llama", permute_qk=True, vocab_size_key=True),
    "qwen2": GgufFamily("qwen2"),
    "qwen3": GgufFamily("qwen3", key_length=True),
    "gemma3_text": GgufFamily("gemma3", norm_plus_one=True, key_length=True, extra=_gemma3),
}


def gguf_family(config) -> GgufFamily:
    """The export recipe of `config.model_type`, or one ConfigError naming those that have one."""
    fam = FAMILIES.get(getattr(config, "model_type", None))
    if fam is None:
        raise ConfigError(f"model type '{getattr(config, 'model_type', None)}' cannot be exported to GGUF "
                          f"(these can: {', '.join(FAMILIES)})", key="model")
    return fam


def add_hparams(writer, config, fam: GgufFamily, *, n_vocab: int) -> None:
    """Write the `<arch>.*` hyperparameter keys llama.cpp reads for this family."""
    head_dim = _head_dim(config)
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    # Gemma 3's global layers carry the model's rope base; its local layers are checked in _gemma3.
    rope = _rope(config, "full_attention")
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    _rope_scaling(writer, rope)
    if fam.vocab_size_key:
        writer.add_vocab_size(n_vocab)
        writer.add_rope_dimension_count(head_dim)
    if fam.key_length or head_dim * config.num_attention_heads != config.hidden_size:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if fam.extra is not None:
        fam.extra(writer, config)


def _permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """HF's half-split rotary rows -> llama.cpp's interleaved pairs, per head (as convert_hf_to_gguf)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _llama3_rope_factors(config) -> np.ndarray:
    """Per-frequency divisors of llama3 rope scaling, from transformers' own rope functions."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    dim, base = _head_dim(config), float(_rope(config)["rope_theta"])
    plain = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    return (plain / scaled.double()).float().numpy()


def gguf_tensors(model, fam: GgufFamily, *, n_vocab: int) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, float32 array) of every weight llama.cpp needs, converted for its layout.

    Embedding (and untied head) rows beyond `n_vocab` tokens are dropped: checkpoints pad
    them for matmul speed (Gemma 3, Qwen2.5) and llama.cpp requires one row per token.
    """
    import gguf

    config = model.config
    arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == fam.arch)
    names = gguf.get_tensor_name_map(arch, int(config.num_hidden_layers))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    n_head = int(config.num_attention_heads)
    n_kv = int(getattr(config, "num_key_value_heads", None) or n_head)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name.startswith("lm_head."):
            continue
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ConfigError(f"no GGUF name for tensor '{hf_name}' of a {config.model_type} model",
                              key="model")
        t = tensor.detach().to(torch.float32)
        if fam.permute_qk and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            t = _permute(t, n_head)
        elif fam.permute_qk and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            t = _permute(t, n_kv)
        if fam.norm_plus_one and hf_name.endswith("norm.weight"):
            t = t + 1
        if name in ("token_embd.weight", "output.weight"):
            t = _vocab_rows(t, n_vocab, hf_name)
        yield name, t.contiguous().numpy()
    if _rope(config)["rope_type"] == "llama3":
        yield gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", _llama3_rope_factors(config)


def _vocab_rows(t: torch.Tensor, n_vocab: int, hf_name: str) -> torch.Tensor:
    if t.shape[0] < n_vocab:
        raise ConfigError(f"{hf_name} has {t.shape[0]} rows but the tokenizer has {n_vocab} tokens; "
                          "resize the model to its tokenizer first ('langadapt model resize')", key="model")
    if t.shape[0] > n_vocab:
        log.info("%s: dropping %d padding rows beyond the %d tokens", hf_name, t.shape[0] - n_vocab, n_vocab)
    return t[:n_vocab]
