"""LoRA adapters from a layer selection: which layers, which modules, rsLoRA, embeddings.

`lora_config` turns langadapt's layer selections (`all`, `last:4`, `early,late`, `0-3`)
into a PEFT `LoraConfig` whose `target_modules` is a regex over exactly those layers,
so an adapter can be placed in (and later ablated from) chosen depths of the model.
New-token rows train through PEFT's trainable tokens (`trainable_tokens_config`, or
`lora_config(..., token_ids=...)`), which hold only those rows of each matrix.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from langadapt.models.families import family_of, lora_target_regex, num_layers, resolve_layers


def embedding_module_names(model: Any) -> list[str]:
    """Short names of the input embeddings and (untied) output head.

    A tied head is left out: PEFT follows the tie itself (one copy of the rows, used by both).
    """
    names = []
    inp, out = model.get_input_embeddings(), model.get_output_embeddings()
    for mod in (inp, out):
        if mod is None:
            continue
        for name, m in model.named_modules():
            if m is mod:
                names.append(name.rsplit(".", 1)[-1])
                break
    tied = out is not None and out.weight is inp.weight
    return names[:1] if tied else names


def layer_selection(model: Any, layers: Any = "all", encoder_layers: Any = None) -> dict[str, list[int]]:
    """{stack: layer indices} for a decoder-only or encoder-decoder model."""
    fam = family_of(model)
    sel = {}
    for stack in fam.stacks:
        spec = encoder_layers if (stack == "encoder" and encoder_layers is not None) else layers
        sel[stack] = resolve_layers(spec, num_layers(model, stack))
    return sel


@contextlib.contextmanager
def tied_tokens_quiet() -> Iterator[None]:
    """Silence PEFT's generic "no implementation exists to tie the adapters" warning.

    It does not apply to trainable tokens, which tie a head to the embedding rows themselves.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no implementation exists to tie the adapters")
        yield


def trainable_tokens_config(model: Any, token_ids: Sequence[int]):
    """A PEFT TrainableTokensConfig: rows `token_ids` of the input embeddings and (untied) head."""
    from peft import TrainableTokensConfig

    return TrainableTokensConfig(target_modules=embedding_module_names(model), token_indices=list(token_ids))


def lora_config(model: Any, *, r: int = 16, alpha: float = 32.0, dropout: float = 0.05,
                layers: Any = "all", encoder_layers: Any = None,
                target_modules: list[str] | None = None, rslora: bool = False,
                train_embeddings: bool | str = False, token_ids: Sequence[int] | None = None):
    """A PEFT LoraConfig for `model` restricted to the selected layers.

    `train_embeddings=True` trains rows `token_ids` of the input embeddings and head
    alongside (PEFT trainable tokens); `"all"` trains both whole matrices (`modules_to_save`,
    a full copy of each in every adapter).
    """
    from peft import LoraConfig, TaskType

    selection = layer_selection(model, layers, encoder_layers)
    regex = lora_target_regex(model, selection, tuple(target_modules) if target_modules else None)
    fam = family_of(model)
    extra: dict = {}
    if train_embeddings is True:
        if not token_ids:
            raise ValueError("train_embeddings=True needs the ids of the rows to train (token_ids)")
        extra["trainable_token_indices"] = {name: list(token_ids) for name in embedding_module_names(model)}
    elif train_embeddings == "all":
        extra["modules_to_save"] = embedding_module_names(model)
        out = model.get_output_embeddings()
        if out is not None and out.weight is model.get_input_embeddings().weight:
            # keep input embeddings and a tied head one tensor inside the adapter as well
            extra["ensure_weight_tying"] = True
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=regex,
                      use_rslora=rslora, bias="none",
                      task_type=TaskType.SEQ_2_SEQ_LM if fam.seq2seq else TaskType.CAUSAL_LM, **extra)
