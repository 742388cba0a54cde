"""The one generation interface: a backend turns source texts into translations, in order.

Three backends are registered: `hf` (transformers `generate`, the reference), `vllm`
(causal models on a GPU, when installed) and `openai` (an OpenAI-compatible server).
A backend is made from the model (a path, hub id, `Loaded`, or the server's model name)
and the `GenerationOptions`; `backend_name` resolves `auto`. File translation
(`langadapt.translate`), evaluation and synthetic data all generate through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from langadapt.generation_options import GenerationOptions
from langadapt.registry import Registry

OnBatch = Callable[[list[int], list[str]], None]


class Backend(Protocol):
    """What every generation backend does."""

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, progress: bool = False,
                  on_batch: OnBatch | None = None) -> list[str]:
        """Translations of `texts` from `src` to `tgt` (FLORES codes), in their order;
        `on_batch(indices, translations)` after each batch, where the backend batches."""


# name -> factory(model, options) -> Backend
BACKENDS: Registry[Callable[[Any, GenerationOptions], Backend]] = Registry(
    "generation backend", key="backend",
    modules=("langadapt.gen.hf", "langadapt.gen.vllm", "langadapt.gen.openai"))


def backend_name(model: Any, opts: GenerationOptions) -> str:
    """The backend that runs: `openai` and `hf` as asked; `auto` and `vllm` are vLLM where it
    can run this model (`VLLMBackend.usable`), HF generate otherwise."""
    if opts.backend in ("openai", "hf"):
        return opts.backend
    return "vllm" if BACKENDS.get("vllm").usable(model, opts) else "hf"


def translate_texts(model: Any, texts: Sequence[str], src: str, tgt: str,
                    opts: GenerationOptions | None = None, *, progress: bool = False,
                    on_batch: OnBatch | None = None) -> list[str]:
    """Translate `texts` with the backend `opts` selects (see `langadapt.generate.translate_texts`)."""
    opts = opts or GenerationOptions()
    if not texts:
        return []
    backend = BACKENDS.get(backend_name(model, opts))(model, opts)
    return backend.translate(texts, src, tgt, progress=progress, on_batch=on_batch)
