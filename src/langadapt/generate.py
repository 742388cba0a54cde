"""Batched generation for translation: `translate_texts` on any backend (`langadapt.gen`).

The HF backend (`langadapt.gen.hf`) is the reference: seq2seq (NLLB/M2M100) inputs with a
forced target code, causal models with a chat-template or few-shot prompt, length-sorted
batches that give a sentence the same greedy output in any batch. vLLM
(`langadapt.gen.vllm`) runs causal models when installed and a GPU is present;
`backend: openai` hands the texts to an OpenAI-compatible server (`langadapt.gen.openai`).
The HF helpers are re-exported here, where evaluation and the tests use them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from langadapt.gen.backend import translate_texts as _translate_texts
from langadapt.gen.hf import (  # noqa: F401 (the HF helpers' public home before langadapt.gen)
    END_OF_TURN,
    build_prompt,
    decode,
    encode_inputs,
    generate_batch,
    length_sorted_batches,
    newline_token_ids,
    prompt_style,
    stop_token_ids,
)
from langadapt.generation_options import OUTPUT_KEYS, GenerationOptions, output_options  # noqa: F401
from langadapt.models.loading import Loaded


def translate_texts(model: str | Path | Loaded, texts: Sequence[str], src: str, tgt: str,
                    opts: GenerationOptions | None = None, *, progress: bool = False,
                    on_batch: Callable[[list[int], list[str]], None] | None = None) -> list[str]:
    """Translate `texts` from `src` to `tgt` (FLORES codes) with a model path, hub id or `Loaded`.

    Args:
        model: a model folder, hub id, PEFT adapter folder, or an already loaded model
            (with `backend: openai`, the server's model name unless the server settings name one).
        texts: source sentences; the output keeps their order.
        opts: generation options (greedy, batch 16 by default); `backend` picks the backend.
        progress: show a tqdm bar.
        on_batch: called with (indices, translations) after each batch.
    """
    return _translate_texts(model, texts, src, tgt, opts, progress=progress, on_batch=on_batch)
