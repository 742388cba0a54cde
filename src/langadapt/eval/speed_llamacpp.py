"""Generation speed of a GGUF file in the llama.cpp runtime (`eval speed --backend llamacpp`).

The same prompts, lengths and rows as the HF backend (`langadapt.eval.speed`), measured
where a GGUF checkpoint is actually served: the file is loaded by
`langadapt.gen.llamacpp.LlamaCpp` (CPU), each prompt is tokenized with the file's own
BOS setting and continued one sequence at a time (llama.cpp decodes a single stream
here, so `batch_size` must be 1). A prompt's seconds are the wall time of its
`generate` call (prompt processing and decoding), as the HF backend times `generate`;
each record also keeps llama.cpp's own prefill and decode seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from langadapt.errors import ConfigError
from langadapt.eval.options import SpeedSettings

log = logging.getLogger(__name__)


def check_llamacpp(model: str, opts: SpeedSettings) -> Path:
    """The GGUF file to measure; a ConfigError for what this backend cannot do."""
    from langadapt.gen.llamacpp import runtime_missing

    path = Path(model)
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise ConfigError(f"backend llamacpp measures a .gguf file; '{model}' is not one (export a "
                          "model folder to GGUF first, or use backend hf)", key="model")
    if opts.batch_size != 1:
        raise ConfigError("backend llamacpp decodes one prompt at a time: use batch_size 1", key="batch_size")
    if opts.device not in (None, "cpu"):
        raise ConfigError("backend llamacpp runs on the CPU: leave device unset or cpu", key="device")
    if (why := runtime_missing()) is not None:
        raise ConfigError(why, key="backend")
    return path


def new_text(llm, prompt_ids: list[int], new_ids: list[int]) -> str:
    """decode(prompt + new) minus decode(prompt), as the HF backend counts it."""
    whole, head = llm.detokenize(prompt_ids + new_ids), llm.detokenize(prompt_ids)
    return whole[len(head):] if whole.startswith(head) else llm.detokenize(new_ids)


def _generate(llm, ids: list[int], opts: SpeedSettings, seed: int):
    return llm.generate(ids, max_new_tokens=opts.max_new_tokens, temperature=opts.temperature,
                        seed=seed, stop_at_eog=not opts.ignore_eos)


def measure_gguf(model: str, prompts: Sequence[str], opts: SpeedSettings,
                 clock: Callable[[], float]) -> tuple[np.ndarray, list[dict], dict]:
    """Per prompt `[bytes, tokens, seconds]`, records, and the runtime for the signature."""
    from langadapt.gen.llamacpp import LlamaCpp, runtime_info

    path = check_llamacpp(model, opts)
    with LlamaCpp(path, vocab_only=True) as vocab:
        encoded = [vocab.tokenize(p, add_special=True) for p in prompts]
    n_ctx = max(map(len, encoded)) + opts.max_new_tokens
    stats, records = np.zeros((len(prompts), 3)), []
    with LlamaCpp(path, n_ctx=n_ctx, n_threads=opts.threads) as llm:
        log.info("speed (llama.cpp): %s, %d threads, %d prompts", path.name, llm.n_threads, len(prompts))
        for i in range(opts.warmup):
            _generate(llm, encoded[i % len(encoded)], opts, opts.seed)
        for k, (prompt, ids) in enumerate(zip(prompts, encoded)):
            t0 = clock()
            res = _generate(llm, ids, opts, opts.seed + k)  # each prompt's draws, whatever ran before
            seconds = clock() - t0
            text = new_text(llm, ids, res.ids)
            stats[k] = [len(text.encode("utf-8")), len(res.ids), seconds]
            records.append({"prompt": prompt, "text": text, "bytes": int(stats[k, 0]), "tokens": len(res.ids),
                            "seconds": seconds, "prefill_seconds": res.prefill_s,
                            "decode_seconds": res.decode_s})
        runtime = {"device": "cpu", "threads": llm.n_threads, "tokenizer": "gguf",
                   "vocab": llm.n_vocab, "file_type": llm.metadata("general.file_type"),
                   **{f"llamacpp_{k}": v for k, v in runtime_info().items()}}
    return stats, records, runtime
