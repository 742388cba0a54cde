"""Generation speed in bytes of text per second, the number an extended tokenizer should raise.

Tokens per second hides what a user waits for: a tokenizer that writes Mongolian in a
third of the tokens gives three times the text per second at the same token rate. Every
model reads the same prompts: the first `prompt_words` words of the first `prompts`
documents of the text files. Each prompt is continued greedily for exactly
`max_new_tokens` tokens (`ignore_eos`, so every model does the same number of steps) in
batches of `batch_size`, after `warmup` untimed generations (kernel selection, caches).

* `speed.bytes_per_second` = Σ UTF-8 bytes of the new text / Σ wall seconds;
* `speed.tokens_per_second` = Σ new tokens / Σ wall seconds;
* `speed.bytes_per_token` = Σ bytes / Σ tokens;

each with a bootstrap 95% CI over prompts (one timed `generate` call per batch; a
batch's seconds are shared among its prompts in proportion to their tokens). The new
text is the decoded prompt + continuation minus the decoded prompt, so a leading space
that a tokenizer merges into a token is counted once. Wall time depends on the machine
and its load: compare models measured in one process on one machine.

A degenerate model looks fast (a loop of one long token is many bytes per step), so every
continuation is also scored (`langadapt.eval.text_quality`: target-language share,
repeated word 3-grams, longest repeated span, and bits per byte under `judge` when one
is named) and passes or fails under the thresholds of the options:

* `speed.useful_bytes_per_second` = Σ bytes of passing continuations / Σ wall seconds
  (of all continuations: the time spent on failing text is time a user waited);
* `speed.pass_share` = passing continuations / continuations;
* `speed.lang_share`, `speed.repeated_trigrams`: means over continuations;
  `speed.judge_bpb` = Σ judge bits / Σ judged bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from langadapt.errors import ConfigError, DataError
from langadapt.eval.options import SpeedOptions, SpeedSettings
from langadapt.eval.stats import bootstrap_ci, ratio
from langadapt.runs import ResultRow, signature

log = logging.getLogger(__name__)

BYTES, TOKENS, SECONDS = range(3)
# Columns of the quality statistics (one row per prompt), appended to the speed columns.
USEFUL, PASSED, ONE, LANG, REPEATS, JUDGE_BITS, JUDGE_BYTES = range(3, 10)
__all__ = ["SpeedOptions", "SpeedSettings", "evaluate_speed"]


@dataclass
class SpeedResult:
    rows: list[ResultRow]
    records: list[dict] = field(default_factory=list)  # per prompt: text, timing, quality scores, pass


def read_prompts(files: Iterable[str | Path], opts: SpeedSettings) -> list[str]:
    """The first `prompt_words` words of the first `prompts` non-empty documents."""
    from langadapt.textio import iter_texts

    out = []
    for text in iter_texts(list(files), field=opts.field):
        words = text.split()
        if words:
            out.append(" ".join(words[: opts.prompt_words]))
        if len(out) == opts.prompts:
            break
    if not out:
        raise DataError("no prompts: the text files hold no words", file=", ".join(map(str, files)))
    return out


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _generate(loaded, prompts: Sequence[str], opts: SpeedSettings) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, new ids) per prompt, left-padded batches; greedy, or sampled at
    `opts.temperature` from the full distribution (seeded by the caller)."""
    import torch

    from langadapt.padding import pad as pad_batch

    tok, model = loaded.tokenizer, loaded.model
    enc = [tok(p)["input_ids"] for p in prompts]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids, mask = pad_batch(enc, pad, left=True)
    width = ids.shape[1]
    kw = {"min_new_tokens": opts.max_new_tokens} if opts.ignore_eos else {}
    if opts.temperature > 0:
        kw.update(do_sample=True, temperature=opts.temperature, top_k=0, top_p=1.0)
    else:
        kw.update(do_sample=False)
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                             max_new_tokens=opts.max_new_tokens, num_beams=1, pad_token_id=pad, **kw)
    new = out[:, width:].cpu().tolist()
    # Padding after an early EOS is not generated text.
    return [(x, [t for t in n if not (t == pad and not opts.ignore_eos)]) for x, n in zip(enc, new)]


def new_text(tok, prompt_ids: list[int], new_ids: list[int]) -> str:
    """The decoded continuation: decode(prompt + new) minus decode(prompt)."""
    whole = tok.decode(prompt_ids + new_ids, skip_special_tokens=True)
    head = tok.decode(prompt_ids, skip_special_tokens=True)
    return whole[len(head):] if whole.startswith(head) else tok.decode(new_ids, skip_special_tokens=True)


def measure(loaded, prompts: Sequence[str], opts: SpeedSettings,
            clock: Callable[[], float] = time.perf_counter) -> tuple[np.ndarray, list[dict]]:
    """Per prompt `[bytes, tokens, seconds]` and records, after `opts.warmup` untimed prompts."""
    if loaded.is_seq2seq:
        raise ConfigError("eval speed measures causal language models (decoder-only)", key="model")
    device = loaded.model.device
    for start in range(0, opts.warmup, opts.batch_size):
        _generate(loaded, [prompts[i % len(prompts)] for i in range(start, min(opts.warmup,
                                                                            start + opts.batch_size))], opts)
    stats, records = np.zeros((len(prompts), 3)), []
    for start in range(0, len(prompts), opts.batch_size):
        batch = list(prompts[start: start + opts.batch_size])
        if opts.temperature > 0:
            import torch

            torch.manual_seed(opts.seed + start)  # each batch's samples, whatever ran before
        _sync(device)
        t0 = clock()
        outs = _generate(loaded, batch, opts)
        _sync(device)
        seconds = clock() - t0
        total = sum(len(n) for _, n in outs) or 1
        for k, (prompt, (p_ids, n_ids)) in enumerate(zip(batch, outs)):
            text = new_text(loaded.tokenizer, p_ids, n_ids)
            row = [len(text.encode("utf-8")), len(n_ids), seconds * len(n_ids) / total]
            stats[start + k] = row
            records.append({"prompt": prompt, "text": text, "bytes": row[BYTES], "tokens": row[TOKENS],
                            "seconds": row[SECONDS]})
    return stats, records


def quality_stats(records: list[dict], opts: SpeedSettings, judge=None) -> np.ndarray:
    """Score each record's text (added to the record) and return the quality columns."""
    from langadapt.eval.text_quality import QualityThresholds, score_texts
    from langadapt.languages import load_profile

    limits = QualityThresholds(opts.min_lang_share, opts.max_repeated_trigrams, opts.max_repeat_share,
                               opts.max_judge_bpb)
    texts = [r["text"] for r in records]
    scores = score_texts(texts, load_profile(opts.lang), limits, prompts=[r["prompt"] for r in records],
                         judge=judge, langid=opts.langid)
    out = np.zeros((len(records), 7))
    for k, (rec, sc) in enumerate(zip(records, scores)):
        rec.update(sc.as_dict())
        judged = sc.judge_bpb is not None
        out[k] = [rec["bytes"] * sc.passed, sc.passed, 1, sc.lang_share, sc.repeated_trigrams,
                  sc.judge_bpb * rec["bytes"] if judged else 0, rec["bytes"] if judged else 0]
    return out


def rows_from_stats(stats: np.ndarray, *, dataset: str, model: str, sig: dict, resamples: int,
                    seed: int, variant: str | None) -> list[ResultRow]:
    """Speed rows from the speed columns, and quality rows where `stats` has those columns too."""
    fns = {"speed.bytes_per_second": ratio(BYTES, SECONDS)}
    if stats.shape[1] > USEFUL:
        fns["speed.useful_bytes_per_second"] = ratio(USEFUL, SECONDS)
    fns.update({"speed.tokens_per_second": ratio(TOKENS, SECONDS),
                "speed.bytes_per_token": ratio(BYTES, TOKENS)})
    extra = {"bytes": int(stats[:, BYTES].sum()), "tokens": int(stats[:, TOKENS].sum()),
             "seconds": float(stats[:, SECONDS].sum())}
    if stats.shape[1] > USEFUL:
        fns.update({"speed.pass_share": ratio(PASSED, ONE), "speed.lang_share": ratio(LANG, ONE),
                    "speed.repeated_trigrams": ratio(REPEATS, ONE)})
        if stats[:, JUDGE_BYTES].sum() > 0:
            fns["speed.judge_bpb"] = ratio(JUDGE_BITS, JUDGE_BYTES)
        extra.update(useful_bytes=int(stats[:, USEFUL].sum()), passed=int(stats[:, PASSED].sum()))
    rows = []
    for metric, fn in fns.items():
        value, low, high = bootstrap_ci(stats, fn, resamples=resamples, seed=seed)
        rows.append(ResultRow(metric=metric, value=value, ci=None if low is None else [low, high],
                              n=len(stats), dataset=dataset, model=model, variant=variant, signature=sig,
                              extra=extra))
    return rows


def load_judge(opts: SpeedSettings):
    """The judge model of `opts` (loaded), or None."""
    from langadapt.models.loading import load_model

    if opts.judge is None:
        return None
    judge = load_model(opts.judge, device=opts.device, dtype=opts.dtype)
    if judge.is_seq2seq:
        raise ConfigError("the judge scores text as a causal language model (decoder-only)", key="judge")
    return judge


def evaluate_speed(opts: SpeedOptions, *, loaded=None, judge=None,
                   clock: Callable[[], float] = time.perf_counter) -> SpeedResult:
    """Bytes per second (all, and of passing text), tokens per second, bytes per token and the
    quality of generated text (greedy, or sampled with `opts.temperature`), by HF generate or,
    with `opts.backend == "llamacpp"`, by the llama.cpp runtime on a .gguf file.

    Args:
        opts: the model, the text files giving the prompts (one document per line, or JSONL
            `opts.field`), how to measure and when a continuation passes.
        loaded: an already loaded `Loaded` measured instead of `opts.model`.
        judge: an already loaded judge `Loaded` used instead of loading `opts.judge`.
        clock: the wall clock (tests pass a fake one).
    """
    from langadapt.models.loading import load_model

    prompts = read_prompts(opts.text, opts)
    if opts.backend == "llamacpp":
        if loaded is not None:
            raise ConfigError("backend llamacpp loads its .gguf file itself", key="backend")
        from langadapt.eval.speed_llamacpp import measure_gguf

        stats, records, runtime = measure_gguf(opts.model, prompts, opts, clock)
        return finish(opts, stats, records, runtime, opts.model, judge)
    if loaded is None:
        loaded = load_model(opts.model, device=opts.device, dtype=opts.dtype)
    log.info("speed: %d prompts, %d new tokens each, on %s", len(prompts), opts.max_new_tokens,
             loaded.model.device)
    stats, records = measure(loaded, prompts, opts, clock)
    param = next(loaded.model.parameters())
    runtime = {"device": str(param.device), "dtype": str(param.dtype),
               "tokenizer": type(loaded.tokenizer).__name__, "vocab": len(loaded.tokenizer)}
    if param.device.type == "cuda":
        import torch

        runtime["gpu"] = torch.cuda.get_device_name(param.device)
    return finish(opts, stats, records, runtime, loaded.name, judge)


def finish(opts: SpeedOptions, stats: np.ndarray, records: list[dict], runtime: dict, model: str,
           judge=None) -> SpeedResult:
    """Score the records' texts and make the rows (every backend ends here)."""
    judge = judge if judge is not None else load_judge(opts)
    stats = np.hstack([stats, quality_stats(records, opts, judge)])
    how = set(SpeedSettings.model_fields) - {"device", "dtype", "seed", "resamples"}
    sig_opts = {**opts.model_dump(include=how),
                "metric": "generation speed",
                "decoding": f"sampled at temperature {opts.temperature:g}" if opts.temperature else "greedy",
                **runtime, "resamples": opts.resamples, "ci": 0.95}
    sig = signature(options=sig_opts, seed=opts.seed, data=list(opts.text))
    dataset = ",".join(Path(f).name for f in opts.text)
    rows = rows_from_stats(stats, dataset=dataset, model=model, sig=sig, resamples=opts.resamples,
                           seed=opts.seed, variant=opts.variant)
    return SpeedResult(rows, records)
