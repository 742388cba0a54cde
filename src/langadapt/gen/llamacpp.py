"""The llama.cpp runtime: GGUF files loaded, tokenized, scored and run as llama.cpp runs them.

The runtime is the ik_llama.cpp fork through its PyPI bindings (`ik-llama-cpp-python`,
module `ik_llama_cpp`, pinned in the `llamacpp` extra). The bindings are young, so this
module wraps exactly what langadapt uses and nothing else imports `ik_llama_cpp`:
tokenization (`vocab_only` loads read no weights), logits of every position in one
forward pass, and generation with a numpy sampler (quantization through the package's
own `llama-quantize` binary: `llamacpp_quantize`). The C library's log goes to this
module's logger at DEBUG.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from langadapt.errors import ConfigError, DataError

log = logging.getLogger(__name__)

PACKAGE = "ik-llama-cpp-python"
INSTALL = "pip install 'langadapt[llamacpp]'  (or: pip install ik-llama-cpp-python==0.1.5)"
# Tokens per forward step. In 0.1.5 on an AVX2 CPU, steps of 32 tokens or more take other
# matrix-multiply kernels, and for Q4_1 weights those are wrong: SmolLM2 Q4_1 on 128 FLORES
# tokens agrees with its HF import at top-1 0.41 (logits off by up to 39) against 0.96
# (up to 1.6) in steps of up to 31. Gemma 3 Q4_K_M is fine either way (0.99 / 0.96).
# Steps of 16 give the logits of one-token steps (what generation does) on both, and cost
# prompts ~20% more time.
SAFE_UBATCH = 16
_C: Any = None          # the bindings' ctypes module, loaded on first use
_LOG_CALLBACK: Any = None   # kept alive: the C library holds a pointer to it


def runtime_missing() -> str | None:
    """None when the runtime can be used, else one sentence why not."""
    try:
        _api()
    except (ImportError, OSError) as e:
        return f"the llama.cpp runtime ({PACKAGE}) cannot be loaded ({e}); install it with: {INSTALL}"
    return None


def runtime_info() -> dict[str, str]:
    """Name and version of the runtime, for signatures and reports."""
    from importlib.metadata import version

    return {"runtime": "ik_llama.cpp (fork of llama.cpp)", "package": PACKAGE,
            "version": version(PACKAGE)}


def _api():
    """The ctypes bindings, with the few C functions they leave unbound added."""
    global _C, _LOG_CALLBACK
    if _C is None:
        C = importlib.import_module("ik_llama_cpp._ctypes_api")
        lib = C._lib
        # Bound here because 0.1.5 does not: signatures from the fork's llama.h, where the
        # vocabulary functions still take the model (not the vocab) pointer.
        for name, args, res in [
            ("llama_log_set", [ctypes.c_void_p, ctypes.c_void_p], None),
            ("llama_token_bos", [ctypes.c_void_p], ctypes.c_int32),
            ("llama_token_eos", [ctypes.c_void_p], ctypes.c_int32),
            ("llama_add_bos_token", [ctypes.c_void_p], ctypes.c_int32),
            ("llama_add_eos_token", [ctypes.c_void_p], ctypes.c_int32),
            ("llama_n_batch", [ctypes.c_void_p], ctypes.c_uint32),
            ("llama_get_logits", [ctypes.c_void_p], ctypes.POINTER(ctypes.c_float)),
            ("llama_model_meta_val_str",
             [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t], ctypes.c_int32),
        ]:
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
        cb_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
        _LOG_CALLBACK = cb_type(_forward_log)
        lib.llama_log_set(ctypes.cast(_LOG_CALLBACK, ctypes.c_void_p), None)
        C.llama_backend_init()
        _C = C
    return _C


def _forward_log(level: int, text: bytes | None, user_data: Any) -> None:
    """The C library's log lines, at DEBUG (it logs every tensor it loads)."""
    if text and log.isEnabledFor(logging.DEBUG):
        line = text.decode("utf-8", "replace").rstrip()
        if line:
            log.debug("llama.cpp: %s", line)


def _has_avx_vnni() -> bool:
    """Whether the CPU has AVX-VNNI: the fork's CPU flash attention asserts on longer prompts
    without it (as the bindings' own IkLlama notes), so flash attention is off otherwise."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:   # not Linux: assume absent, the safe side
        return False
    return any(f in text.split() for f in ("avx_vnni", "avxvnni"))


def default_threads() -> int:
    """The cores this process may run on (OMP_NUM_THREADS where set: test workers split the
    cores that way, and torch reads it too)."""
    if (n := os.environ.get("OMP_NUM_THREADS", "")).isdigit() and int(n) > 0:
        return int(n)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass
class GenerationResult:
    """New token ids and where the time went."""

    ids: list[int]
    prefill_s: float
    decode_s: float
    n_prompt: int
    n_decoded: int = 0
    stopped_at_eog: bool = False

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: one-token forward passes (with their sampling) per second."""
        return self.n_decoded / self.decode_s if self.decode_s > 0 else 0.0


class LlamaCpp:
    """One GGUF file loaded in the runtime (a context manager; `close` frees it).

    Args:
        path: the GGUF file.
        n_ctx: context length (prompt plus new tokens).
        n_threads: CPU threads; default the cores available.
        vocab_only: load the vocabulary only (tokenize and detokenize, no weights read).
        n_ubatch: tokens per forward step inside a pass (see `SAFE_UBATCH`).
        f32_keys: keep the attention keys in float32 rather than float16, for checks of f32
            files. Values stay float16: the fork refuses other value types without flash
            attention, and its CPU flash attention has no f32 keys with f32 values.
    """

    def __init__(self, path: str | Path, *, n_ctx: int = 2048, n_threads: int | None = None,
                 vocab_only: bool = False, n_ubatch: int = SAFE_UBATCH, f32_keys: bool = False):
        C = _api()
        self.path, self.n_ctx, self.vocab_only, self.n_ubatch = Path(path), n_ctx, vocab_only, n_ubatch
        self.f32_keys = f32_keys
        self.n_threads = n_threads or default_threads()
        if not self.path.is_file():
            raise DataError("no such GGUF file", file=str(self.path))
        params = C.llama_model_default_params()
        params.vocab_only = vocab_only
        params.n_gpu_layers = 0
        t0 = time.perf_counter()
        self._model = C.llama_model_load_from_file(str(self.path).encode(), params)
        if not self._model:
            raise DataError("llama.cpp could not load this GGUF file (run with --debug for its log)",
                            file=str(self.path))
        self._ctx = None
        try:
            self.n_vocab = int(C.llama_vocab_n_tokens(C.llama_model_get_vocab(self._model)))
            self.bos_id = self._special(C._lib.llama_token_bos(self._model))
            self.eos_id = self._special(C._lib.llama_token_eos(self._model))
            if not vocab_only:
                self._ctx = self._new_context(C)
        except BaseException:
            self.close()
            raise
        self.load_s = time.perf_counter() - t0

    def _new_context(self, C):
        cp = C.llama_context_default_params()
        cp.n_ctx = self.n_ctx
        # n_batch bounds the logits buffer (n_batch x n_vocab floats: 512 MB for Gemma's 262k
        # vocabulary at 512), so long inputs are scored in chunks of n_batch.
        cp.n_batch = min(self.n_ctx, 512)
        cp.n_ubatch = min(cp.n_batch, self.n_ubatch)
        cp.n_seq_max = 1
        cp.n_threads = cp.n_threads_batch = self.n_threads
        cp.flash_attn = _has_avx_vnni() and not self.f32_keys
        if self.f32_keys:
            cp.type_k = 0   # GGML_TYPE_F32
        ctx = C.llama_init_from_model(self._model, cp)
        if not ctx:
            raise DataError(f"llama.cpp could not make a context of {self.n_ctx} tokens",
                            file=str(self.path))
        self.n_batch = int(C._lib.llama_n_batch(ctx))
        return ctx

    def _special(self, token: int) -> int | None:
        return int(token) if 0 <= token < self.n_vocab else None

    def __enter__(self) -> LlamaCpp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Free the context and the model (safe to call twice)."""
        C = _C
        if getattr(self, "_ctx", None):
            C.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            C.llama_free_model(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown: the bindings may be torn down already
            pass

    # ------------------------------------------------------------------ vocabulary
    def metadata(self, key: str) -> str | None:
        """A GGUF metadata value as text (`general.architecture`, `tokenizer.ggml.pre`...)."""
        buf = ctypes.create_string_buffer(1024)
        n = _C._lib.llama_model_meta_val_str(self._live(), key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            _C._lib.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    @property
    def add_bos(self) -> bool:
        """Whether `tokenize(add_special=True)` puts BOS first (the file's add_bos_token)."""
        return _C._lib.llama_add_bos_token(self._live()) == 1

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Token ids of `text`; `add_special` lets the file's add_bos/add_eos settings decide,
        as llama.cpp does; `parse_special` reads special-token text (`<bos>`) as those tokens."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        while True:
            buf = (ctypes.c_int32 * cap)()
            n = _C.llama_tokenize(self._live(), data, len(data), buf, cap, add_special, parse_special)
            if n >= 0:
                return list(buf[:n])
            cap = -n

    def detokenize(self, ids: Sequence[int], *, special: bool = False) -> str:
        """The text of `ids` (pieces joined as bytes: a character may span tokens)."""
        out = bytearray()
        buf = ctypes.create_string_buffer(256)
        for tok in ids:
            n = _C.llama_token_to_piece(self._live(), int(tok), buf, len(buf), 0, special)
            if n < 0:
                big = ctypes.create_string_buffer(-n)
                n = _C.llama_token_to_piece(self._model, int(tok), big, len(big), 0, special)
                out += big.raw[:n]
            else:
                out += buf.raw[:n]
        return out.decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        """Whether `token` ends generation (EOS, EOT, <end_of_turn>...)."""
        return bool(_C.llama_token_is_eog(self._live(), int(token)))

    def _live(self):
        if not getattr(self, "_model", None):
            raise ValueError(f"{self.path.name} is closed")
        return self._model

    # ------------------------------------------------------------------ forward passes
    def _context(self):
        if self._ctx is None:
            raise ValueError(f"{self.path.name} was loaded with vocab_only=True: no forward pass")
        return self._ctx

    def _decode(self, ids: Sequence[int], pos: int, all_logits: bool) -> None:
        """Run `ids` at positions pos.. through the model; logits kept for every one or the last."""
        C, ctx = _C, self._context()
        batch = C.llama_batch_init(len(ids), 0, 1)
        try:
            batch.n_tokens = len(ids)
            for i, tok in enumerate(ids):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = int(tok), pos + i, 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1 if all_logits or i == len(ids) - 1 else 0
            ret = C.llama_decode(ctx, batch)
        finally:
            C.llama_batch_free(batch)
        if ret != 0:
            raise DataError(f"llama_decode failed ({ret}) at positions {pos}..{pos + len(ids)}",
                            file=str(self.path))

    def _row(self, i: int) -> np.ndarray:
        ptr = _C.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def _check_room(self, n: int) -> None:
        if n > self.n_ctx:
            raise ConfigError(f"{n} tokens do not fit the context of {self.n_ctx}; load with a larger "
                              "n_ctx", key="n_ctx")

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        """float32 [len(ids), n_vocab]: the logits after each position, from an empty cache."""
        self._check_room(len(ids))
        _C.llama_kv_cache_clear(self._context())
        out = np.empty((len(ids), self.n_vocab), np.float32)
        for start in range(0, len(ids), self.n_batch):
            chunk = ids[start:start + self.n_batch]
            self._decode(chunk, start, all_logits=True)
            for i in range(len(chunk)):
                out[start + i] = self._row(i)
        return out

    def generate(self, ids: Sequence[int], *, max_new_tokens: int, temperature: float = 0.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0,
                 stop_at_eog: bool = True) -> GenerationResult:
        """Continue `ids` by up to `max_new_tokens` tokens (greedy at temperature 0).

        The sampler is numpy's (argmax, or top-k / top-p / temperature with a Generator
        seeded by `seed`), not the bindings', so greedy runs equal argmax over `logits`.
        An end-of-generation token stops the run and is not returned.
        """
        if not ids:
            raise ValueError("generate needs at least one prompt token")
        self._check_room(len(ids) + max_new_tokens)
        rng = np.random.default_rng(seed)
        _C.llama_kv_cache_clear(self._context())
        t0 = time.perf_counter()
        for start in range(0, len(ids), self.n_batch):
            self._decode(ids[start:start + self.n_batch], start, all_logits=False)
        row = self._row(-1)
        t1 = time.perf_counter()
        new: list[int] = []
        n_decoded, stopped = 0, False
        while len(new) < max_new_tokens:
            tok = pick_token(row, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
            if stop_at_eog and self.is_eog(tok):
                stopped = True
                break
            new.append(tok)
            if len(new) == max_new_tokens:
                break
            self._decode([tok], len(ids) + len(new) - 1, all_logits=False)
            row = self._row(-1)
            n_decoded += 1
        return GenerationResult(new, prefill_s=t1 - t0, decode_s=time.perf_counter() - t1,
                                n_prompt=len(ids), n_decoded=n_decoded, stopped_at_eog=stopped)


def pick_token(logits: np.ndarray, *, temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0,
               rng: np.random.Generator | None = None) -> int:
    """The next token from one row of logits: argmax at temperature 0, else a sample from the
    softmax at `temperature` over the `top_k` best (0: all) within top-p mass `top_p`."""
    if temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    order = np.argsort(-z, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    p = np.exp(z[order] - z[order[0]])
    p /= p.sum()
    if top_p < 1.0:
        keep = int(np.searchsorted(np.cumsum(p), top_p)) + 1   # smallest prefix reaching top_p
        order, p = order[:keep], p[:keep] / p[:keep].sum()
    rng = rng if rng is not None else np.random.default_rng(0)
    return int(order[rng.choice(len(order), p=p)])
