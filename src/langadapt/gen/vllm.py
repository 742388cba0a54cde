"""The vLLM backend: causal models (and their LoRA adapters) on a GPU, when vLLM is installed.

Prompts go in as token ids built exactly as for HF generate (`langadapt.gen.hf`), so the
two backends read the same input and a chat template's BOS is not doubled by vLLM's own
tokenisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from langadapt.gen.backend import BACKENDS, OnBatch
from langadapt.gen.hf import encode_inputs, prompt_style, stop_token_ids
from langadapt.generation_options import GenerationOptions
from langadapt.models.loading import Loaded, is_adapter_dir
from langadapt.thinking import strip_thinking

log = logging.getLogger(__name__)


def _usable(model, opts: GenerationOptions) -> bool:
    """vLLM for a causal model given by path, when installed and a GPU is present."""
    if opts.backend == "hf" or isinstance(model, Loaded) or opts.num_beams > 1:
        return False
    try:
        import vllm  # noqa: F401
    except ImportError:
        if opts.backend == "vllm":
            log.warning("backend 'vllm' asked for but vllm is not installed; using HF generate")
        return False
    if not torch.cuda.is_available():
        return False
    from transformers import AutoConfig

    base = adapter_base(str(model)) or str(model)
    return not getattr(AutoConfig.from_pretrained(base), "is_encoder_decoder", False)


def adapter_base(path: str) -> str | None:
    """The base model of a PEFT adapter folder; None for anything else."""
    if not is_adapter_dir(path):
        return None
    return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]


@BACKENDS.register("vllm")
class VLLMBackend:
    """Causal translation through vLLM (with the LoRA adapter when the model is an adapter folder)."""

    usable = staticmethod(_usable)  # asked by `auto` before a backend is chosen

    def __init__(self, model, opts: GenerationOptions):
        self.path, self.opts = str(model), opts

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, progress: bool = False,
                  on_batch: OnBatch | None = None) -> list[str]:
        from transformers import AutoTokenizer
        from vllm import LLM, SamplingParams
        from vllm.lora.request import LoRARequest

        path, opts = self.path, self.opts
        base = adapter_base(path)
        tok = AutoTokenizer.from_pretrained(path if (Path(path) / "tokenizer_config.json").exists()
                                            else (base or path))
        lora_kwargs = {}
        if base:
            rank = json.loads((Path(path) / "adapter_config.json").read_text()).get("r", 16)
            lora_kwargs = dict(enable_lora=True, max_lora_rank=max(8, 1 << (int(rank) - 1).bit_length()))
        llm = LLM(model=base or path, tokenizer=tok.name_or_path, seed=opts.seed, **lora_kwargs)
        fewshot = prompt_style(tok, opts.prompt) == "fewshot"
        params = SamplingParams(max_tokens=opts.max_new_tokens, seed=opts.seed,
                                temperature=opts.temperature if opts.do_sample else 0.0,
                                top_p=opts.top_p, stop_token_ids=stop_token_ids(tok),
                                stop=["\n"] if fewshot else None)
        loaded = Loaded(model=None, tokenizer=tok, name=path, is_seq2seq=False)
        prompts = [{"prompt_token_ids": ids} for ids in encode_inputs(loaded, texts, src, tgt, opts)]
        lora = LoRARequest("adapter", 1, path) if base else None
        outs = llm.generate(prompts, params, lora_request=lora)
        translations = [strip_thinking(o.outputs[0].text) for o in outs]
        if on_batch:  # one batch: vLLM schedules the requests itself
            on_batch(list(range(len(texts))), translations)
        return translations
