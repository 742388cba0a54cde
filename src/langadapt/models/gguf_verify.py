"""Check a written GGUF file in the llama.cpp runtime against the HF model it came from.

An export is called done only after this passes: the file loads in the runtime
(`langadapt.gen.llamacpp`), and

* (a) every check text tokenizes to the ids the HF tokenizer gives (same special-token
  convention), else one DataError naming the first differing line and both id lists;
* (b) next-token logits at every position of a bounded sample of the texts agree with
  the HF model: f32 files within `F32_TOLERANCE` (else DataError); quantized files get
  KL(HF || GGUF) and top-1 agreement in the report, and a warning below 0.9 agreement;
* (c) for f32, `langadapt.models.gguf.import_gguf` of the file gives back the HF weights.

The report dict is what the caller writes beside the file (`write_report`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langadapt.errors import DataError, printable
from langadapt.runs import atomic_write_json

log = logging.getLogger(__name__)

TOP1_WARN = 0.9
IMPORT_TOLERANCE = 1e-6
# Max |logit difference| allowed for an f32 file. Not 1e-3: the runtime keeps attention
# values in float16 (the fork takes no other value type without flash attention), which
# alone moves logits by 0.01-0.04 (SmolLM2 exported f32, 20 FLORES lines x 128 tokens:
# max 0.023 with float32 keys, median 0.006, top-1 agreement 1.0). An export mistake (a
# transposed or unpermuted matrix, a norm off by one) moves them by whole units.
F32_TOLERANCE = 0.1


def verify_export(gguf_path: str | Path, model_dir: str | Path, texts: Sequence[str], *,
                  weights_type: str, import_check: bool = True, add_special: bool = True,
                  max_logit_texts: int = 32, max_tokens: int = 128,
                  f32_tolerance: float = F32_TOLERANCE, threads: int | None = None) -> dict[str, Any]:
    """Verify the GGUF file `gguf_path` against the HF folder `model_dir`; the report dict.

    Args:
        texts: check texts; all are tokenized, `max_logit_texts` of them (spread evenly)
            are scored, each cut to `max_tokens` tokens.
        weights_type: the file's weight type (`f32`, `q8_0`, `q4_k_m`...): f32 files must
            reproduce the logits and the weights, others are measured.
        import_check: for f32, import the file back and compare every weight.
        add_special: tokenize with the special tokens both tokenizers add (BOS...).
        threads: CPU threads of the runtime (default: the cores available).

    Raises:
        DataError: the runtime cannot load the file, a text tokenizes differently, or
            (f32) the logits or the imported weights differ.
    """
    from transformers import AutoTokenizer

    from langadapt.gen import llamacpp

    if (why := llamacpp.runtime_missing()) is not None:
        raise DataError(why, file=str(gguf_path))
    gguf_path, texts = Path(gguf_path), list(texts)
    is_f32 = weights_type.lower() == "f32"
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    hf_ids = [tok(x, add_special_tokens=add_special)["input_ids"] for x in texts]
    sample = _spread(len(texts), max_logit_texts)
    n_ctx = max([len(hf_ids[i][:max_tokens]) for i in sample] + [8])
    with llamacpp.LlamaCpp(gguf_path, n_ctx=n_ctx, n_threads=threads, vocab_only=not sample,
                           f32_keys=is_f32) as llm:
        timings["load_s"] = llm.load_s
        t = time.perf_counter()
        check_tokenization(llm, texts, hf_ids, add_special=add_special, file=str(gguf_path))
        timings["tokenization_s"] = time.perf_counter() - t
        t = time.perf_counter()
        scored = [hf_ids[i][:max_tokens] for i in sample if hf_ids[i]]
        logits = compare_logits(llm, model_dir, scored) if scored else None
        timings["logits_s"] = time.perf_counter() - t
    warnings = []
    if logits is not None:
        logits["tolerance"] = f32_tolerance if is_f32 else None
        if is_f32 and not logits["max_abs_diff"] <= f32_tolerance:
            raise DataError(f"f32 logits differ from the HF model's by up to {logits['max_abs_diff']:.3g} "
                            f"(tolerance {f32_tolerance:g}) over {logits['positions']} positions",
                            file=str(gguf_path))
        if logits["top1_agreement"] < TOP1_WARN:
            warnings.append(f"top-1 agreement with the HF model is {logits['top1_agreement']:.3f} "
                            f"(< {TOP1_WARN}) for {weights_type} weights")
            log.warning("%s: %s", gguf_path, warnings[-1])
    imported = None
    if is_f32 and import_check:
        t = time.perf_counter()
        imported = compare_import(gguf_path, model_dir)
        timings["import_s"] = time.perf_counter() - t
    return {"gguf": str(gguf_path), "model": str(model_dir), "weights_type": weights_type,
            "runtime": llamacpp.runtime_info(),
            "tokenization": {"texts": len(texts), "tokens": sum(map(len, hf_ids)),
                             "identical": len(texts), "add_special": add_special},
            "logits": logits, "import": imported, "warnings": warnings, "timings": timings}


def write_report(out: str | Path, report: dict) -> Path:
    """Write `report` beside the GGUF file `out`, as `OUT.verify.json` (atomically)."""
    out = Path(out)
    return atomic_write_json(out.with_name(out.name + ".verify.json"), report)


def _spread(n: int, k: int) -> list[int]:
    """`k` indices spread evenly over range(n) (all of them when n <= k)."""
    if n <= k:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, k)})


# ---------------------------------------------------------------- (a) tokenization
def check_tokenization(llm, texts: Sequence[str], hf_ids: Sequence[list[int]], *, add_special: bool,
                       file: str) -> None:
    """DataError at the first text the runtime tokenizes differently from the HF tokenizer."""
    for i, (text, want) in enumerate(zip(texts, hf_ids)):
        got = llm.tokenize(text, add_special=add_special)
        if got != want:
            k = next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            raise DataError(f"check text line {i + 1} tokenizes differently in llama.cpp than in the HF "
                            f"tokenizer (first at token {k}): {_short_text(text)!r}: "
                            f"llama.cpp {_around(got, k)} vs HF {_around(want, k)}", file=file)


def _short_text(text: str, n: int = 60) -> str:
    text = printable(text)
    return text if len(text) <= n else text[:n - 1] + "…"


def _around(ids: list[int], k: int, before: int = 3, after: int = 5) -> str:
    """ids[k-before : k+after] with '…' where cut, and the total count."""
    lo, hi = max(0, k - before), min(len(ids), k + after)
    body = ", ".join(map(str, ids[lo:hi]))
    return f"[{'…, ' if lo else ''}{body}{', …' if hi < len(ids) else ''}] ({len(ids)} ids)"


# ---------------------------------------------------------------- (b) logits
def compare_logits(llm, model_dir: str | Path, sequences: Sequence[list[int]]) -> dict[str, Any]:
    """Logits of the runtime against the HF model (float32) at every position of `sequences`.

    Compared over the vocabulary both have (a padded HF embedding may have more rows).
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    max_diff, kls, top1, n_vocab = 0.0, [], [], None
    for ids in sequences:
        with torch.inference_mode():
            ref = model(torch.tensor([ids])).logits[0].float().numpy()
        got = llm.logits(ids)
        n_vocab = min(ref.shape[1], got.shape[1])
        ref, got = ref[:, :n_vocab], got[:, :n_vocab]
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
        for lo in range(0, len(ids), 16):   # float64 rows in chunks: 262k-wide vocabularies
            lp = _log_softmax(ref[lo:lo + 16].astype(np.float64))
            lq = _log_softmax(got[lo:lo + 16].astype(np.float64))
            kls.append((np.exp(lp) * (lp - lq)).sum(-1))
        top1.append(ref.argmax(-1) == got.argmax(-1))
    kl, agree = np.concatenate(kls), np.concatenate(top1)
    return {"texts": len(sequences), "positions": int(agree.size), "vocab_compared": n_vocab,
            "max_abs_diff": max_diff, "kl_mean": float(kl.mean()), "kl_max": float(kl.max()),
            "top1_agreement": float(agree.mean())}


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


# ---------------------------------------------------------------- (c) import round trip
def compare_import(gguf_path: Path, model_dir: str | Path) -> dict[str, Any]:
    """Import `gguf_path` back into an HF folder and compare every weight with `model_dir`'s."""
    from langadapt.models.gguf import import_gguf

    with tempfile.TemporaryDirectory(prefix=".verify-import-", dir=gguf_path.parent) as tmp:
        return compare_weights(import_gguf(gguf_path, Path(tmp) / "hf"), model_dir, file=str(gguf_path))


def compare_weights(got_dir: str | Path, model_dir: str | Path, *, file: str) -> dict[str, Any]:
    """Every tensor of `model_dir`'s state dict against `got_dir`'s (the import of `file`);
    DataError when one is missing or differs by more than IMPORT_TOLERANCE."""
    import torch
    from transformers import AutoModelForCausalLM

    want = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).state_dict()
    got = AutoModelForCausalLM.from_pretrained(str(got_dir), dtype=torch.float32).state_dict()
    missing = sorted(set(want) - set(got))
    diffs = {k: float((want[k].float() - got[k].float()).abs().max()) if want[k].shape == got[k].shape
             else float("inf") for k in want if k in got}
    worst = max(diffs, key=diffs.get) if diffs else None
    report = {"tensors": len(want), "compared": len(diffs), "missing": missing,
              "max_abs_diff": diffs[worst] if worst else None,
              "worst": worst if worst and diffs[worst] > 0 else None}
    if missing or (worst and diffs[worst] > IMPORT_TOLERANCE):
        what = (f"{len(missing)} HF tensors missing (first {missing[0]})" if missing
                else f"{worst} differs by {diffs[worst]:.3g}")
        raise DataError(f"importing the file back does not give the HF weights: {what} "
                        f"(tolerance {IMPORT_TOLERANCE:g})", file=file)
    return report
