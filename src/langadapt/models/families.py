"""Model families: where each architecture keeps its layers, final norm, head and LoRA targets.

A family is one registered object; a new architecture is one `register_family` call.
Unknown decoder-only models fall back to the Llama layout (`model.layers`,
`model.norm`, `lm_head`), which most `AutoModelForCausalLM` classes share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from langadapt.errors import ConfigError
from langadapt.registry import Registry


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]
    seq2seq: bool = False
    # stack name -> dotted path (from the bare HF model) of its ModuleList of layers
    stacks: dict[str, str] = field(default_factory=lambda: {"decoder": "model.layers"})
    # stack name -> dotted path of the norm applied after the last layer
    final_norms: dict[str, str] = field(default_factory=lambda: {"decoder": "model.norm"})
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                     "down_proj")


FAMILIES: Registry[Family] = Registry("model type")


def register_family(family: Family) -> Family:
    """Register `family` under each of its HF `model_type`s."""
    for t in family.model_types:
        FAMILIES.add(t, family)
    return family


LLAMA_LIKE = register_family(Family("llama-like", ("llama", "qwen2", "qwen3", "mistral", "gemma3_text",
                                                    "gemma2", "gemma", "phi3", "olmo2")))
M2M100 = register_family(Family(
    "m2m100", ("m2m_100", "nllb-moe"), seq2seq=True,
    stacks={"encoder": "model.encoder.layers", "decoder": "model.decoder.layers"},
    final_norms={"encoder": "model.encoder.layer_norm", "decoder": "model.decoder.layer_norm"},
    lora_targets=("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")))


def family_of(model_or_config) -> Family:
    """The family of a model (or config); decoder-only unknowns get the Llama layout."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type in FAMILIES:
        return FAMILIES.get(model_type)
    if getattr(config, "is_encoder_decoder", False):
        raise ConfigError(f"no family registered for encoder-decoder model type '{model_type}'; "
                          "register one in langadapt.models.families")
    return LLAMA_LIKE


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def unwrap(model):
    """The bare HF model under a PEFT wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def layers(model, stack: str = "decoder"):
    """The ModuleList of layers of one stack (`decoder` or `encoder`)."""
    fam = family_of(model)
    if stack not in fam.stacks:
        raise ConfigError(f"{fam.name} models have no '{stack}' stack; have: {', '.join(fam.stacks)}")
    return _get(unwrap(model), fam.stacks[stack])


def final_norm(model, stack: str = "decoder"):
    return _get(unwrap(model), family_of(model).final_norms[stack])


def num_layers(model, stack: str = "decoder") -> int:
    return len(layers(model, stack))


def resolve_layers(spec: str | int | list | None, n: int) -> list[int]:
    """Turn a layer selection into sorted indices of an `n`-layer stack.

    Accepts `all`, `none`, `early` / `middle` / `late` (thirds, as numpy.array_split
    cuts them), `first:K`, `last:K`, `i-j` (inclusive), `i`, negative indices, and
    lists or comma-separated strings of those.
    """
    if spec is None:
        return list(range(n))
    items = spec if isinstance(spec, list) else [s for s in str(spec).split(",") if s.strip()]
    thirds = dict(zip(("early", "middle", "late"), np.array_split(np.arange(n), 3)))
    out: set[int] = set()
    for item in items:
        s = str(item).strip().lower()
        if s == "all":
            got = list(range(n))
        elif s == "none":
            got = []
        elif s in thirds:
            got = [int(i) for i in thirds[s]]
            if not got:
                raise ConfigError(f"'{s}' selects no layer of a {n}-layer model; use at least 3 layers")
        elif m := re.fullmatch(r"(first|last):?(\d+)", s):
            k = int(m.group(2))
            got = list(range(min(k, n))) if m.group(1) == "first" else list(range(max(0, n - k), n))
        elif m := re.fullmatch(r"(-?\d+)-(-?\d+)", s):
            lo, hi = int(m.group(1)), int(m.group(2))
            got = list(range(lo, hi + 1))
        elif re.fullmatch(r"-?\d+", s):
            got = [int(s) % n if int(s) < 0 else int(s)]
        else:
            raise ConfigError(f"cannot read layer selection '{item}': use all, early, middle, late, "
                              "first:K, last:K, i-j or i", key="layers")
        bad = [i for i in got if not 0 <= i < n]
        if bad:
            raise ConfigError(f"layer selection '{item}' is outside 0..{n - 1}", key="layers")
        out.update(got)
    return sorted(out)


def lora_target_regex(model, selection: dict[str, list[int]], modules: tuple[str, ...] | None = None) -> str:
    """A PEFT `target_modules` regex for `modules` inside the selected layers of each stack."""
    fam = family_of(model)
    modules = modules or fam.lora_targets
    parts = []
    for stack, idx in selection.items():
        if not idx:
            continue
        path = re.escape(fam.stacks[stack])
        parts.append(rf"{path}\.({'|'.join(map(str, idx))})\.(.*\.)?({'|'.join(modules)})")
    if not parts:
        raise ConfigError("the LoRA layer selection is empty", key="layers")
    return rf"^(.*\.)?({'|'.join(parts)})$"
