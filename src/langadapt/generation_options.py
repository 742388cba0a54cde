"""How to generate (`GenerationOptions`): one definition for the API, the recipe stages'
`generation:` blocks and the `translate` / `eval flores` command-line flags.

Kept apart from `langadapt.generate` so that building the command line imports no torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from langadapt.config import StrictModel
from langadapt.gen.options import ServerOptions


class GenerationOptions(StrictModel):
    """How to generate. Only `OUTPUT_KEYS` change the output; the rest change speed.

    `backend: openai` sends the texts to the OpenAI-compatible server of `server`
    (`langadapt.synth`), whose own settings then decide sampling and length.
    """

    batch_size: int = Field(16, ge=1, description="texts per generation batch")
    max_new_tokens: int = Field(256, ge=1, description="longest output, in tokens")
    max_input_tokens: int = Field(1024, ge=1, description="longer inputs are cut to this many tokens")
    num_beams: int = Field(1, ge=1, description="beam search width (1: greedy)")
    do_sample: bool = Field(False, description="sample instead of greedy/beam search")
    temperature: float = Field(1.0, ge=0, description="sampling temperature (with --do-sample)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling mass (with --do-sample)")
    seed: int = Field(0, description="seed of the sampling (and of the resampling, for scores)")
    prompt: Literal["auto", "chat", "fewshot"] = Field(
        "auto", description="causal models: chat template or plain few-shot prompt (auto: chat if "
                            "the tokenizer has a template)")
    few_shot: list[tuple[str, str]] = []
    backend: Literal["auto", "hf", "vllm", "openai"] = Field(
        "auto", description="vLLM for causal models when installed with a GPU, HF generate "
                            "otherwise; openai: an OpenAI-compatible server (the server flags; the "
                            "model is then the server's model name)")
    server: ServerOptions | None = None  # backend openai: the server and all its sampling settings
    device: str | None = Field(None, description="cuda, cpu, cuda:1 … (default: a GPU if present)")
    dtype: str | None = Field("auto", description="auto | bfloat16 | float16 | float32")

    @model_validator(mode="after")
    def _server_for_openai(self):
        if self.backend == "openai" and self.server is None:
            raise ValueError("backend 'openai' needs 'server' (at least base_url)")
        return self


OUTPUT_KEYS = ("max_new_tokens", "max_input_tokens", "num_beams", "do_sample", "temperature",
               "top_p", "seed", "prompt", "few_shot")


def output_options(opts: GenerationOptions) -> dict:
    """The options that decide the text produced (for hashes and signatures)."""
    if opts.backend == "openai":
        return {"backend": "openai", "server": opts.server.signature()}
    return {k: getattr(opts, k) for k in OUTPUT_KEYS}
