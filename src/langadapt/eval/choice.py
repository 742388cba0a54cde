"""Multiple-choice and numeric-answer benchmarks: accuracy with bootstrap 95% CIs.

Log-likelihood mode (lm-evaluation-harness's `multiple_choice`): each option's
continuation is scored after the prompt; `acc` picks the highest total
log-probability, `acc_bytes` the highest log-probability per UTF-8 byte of the
continuation (so long answers are not penalised for their length). As in lm-eval, the
prompt starts with BOS only where the tokenizer adds BOS itself (Gemma, not SmolLM2:
`loglik.condition`); trailing spaces of the prompt move into the continuation, and the
pair is tokenized together.

Generate mode: the model answers greedily up to the end of the line; the first
number in the answer is compared with the gold number after normalisation
(`exact_match`).

`translate=` reproduces the research pipeline "translate the question with an MT
model, then let the LLM answer": every text field and option is translated first.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from langadapt.eval.loglik import Request, condition, max_positions, score_requests
from langadapt.eval.options import ChoiceOptions
from langadapt.eval.stats import bootstrap_ci
from langadapt.eval.tasks import Item, Task, load_items, load_task
from langadapt.paths import expand
from langadapt.runs import ResultRow, signature

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[-−]?\d+(?:[ \u00a0\u202f,.']\d{3})*(?:[.,]\d+)?")


@dataclass
class ChoiceResult:
    rows: list[ResultRow]
    predictions: list[dict] = field(default_factory=list)


def normalize_number(text: str) -> str | None:
    """Canonical form of a number as written (`1 234,5` -> `1234.5`, `42.0` -> `42`), else None."""
    s = text.strip().replace("−", "-")
    for sep in (" ", "\u00a0", "\u202f", "'"):
        s = s.replace(sep, "")
    if "," in s and "." in s:  # the later one is the decimal mark
        s = s.replace(",", "") if s.rfind(".") > s.rfind(",") else s.replace(".", "").replace(",", ".")
    elif s.count(",") == 1 and len(s.split(",")[1]) != 3:
        s = s.replace(",", ".")  # a single comma not followed by 3 digits is a decimal comma
    else:
        s = s.replace(",", "")
    try:
        d = Decimal(s)
    except InvalidOperation:
        return None
    d = d.normalize()
    out = format(d, "f")
    return "0" if out in ("-0", "") else out


def first_number(text: str) -> str | None:
    """The normalised first number in `text`, or None."""
    m = _NUMBER.search(text)
    return normalize_number(m.group(0)) if m else None


def _split_pair(loaded, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation ids, tokenized together (lm-eval's `_encode_pair`)."""
    n_space = len(context) - len(context.rstrip())
    if n_space:
        context, continuation = context[:-n_space], context[-n_space:] + continuation
    tok = loaded.tokenizer
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    return whole[: len(ctx)], whole[len(ctx):]


def choice_requests(loaded, task: Task, items: list[Item]) -> list[Request]:
    """One request per (item, option), item-major."""
    tok = loaded.tokenizer
    max_len = max_positions(loaded)
    out = []
    for item in items:
        prompt = task.render(item)
        for cont in task.continuations(item):
            if loaded.is_seq2seq:
                from langadapt.models.seq2seq import encode_with_lang, lang_token_id

                start = loaded.model.config.decoder_start_token_id
                start = tok.eos_token_id if start is None else start
                src = encode_with_lang(tok, prompt, task.lang, max_len)
                tgt = tok(cont.strip(), add_special_tokens=False)["input_ids"]
                out.append(Request((start, lang_token_id(tok, task.lang)), tuple(tgt), tuple(src)))
                continue
            ctx, tgt = condition(tok, prompt, *_split_pair(loaded, prompt, cont))
            ctx = ctx[-(max_len - len(tgt) + 1):]  # keep the end of a too-long prompt
            out.append(Request(tuple(ctx), tuple(tgt)))
    return out


def score_choices(loaded, task: Task, items: list[Item], batch_size: int = 8) -> list[dict]:
    """Per-item predictions: option log-probs, picks by `acc` and `acc_bytes`, correctness."""
    reqs = choice_requests(loaded, task, items)
    scores = score_requests(loaded, reqs, batch_size=batch_size, desc=task.name)
    preds, k = [], 0
    for item in items:
        conts = task.continuations(item)
        lps = [s.logprob for s in scores[k: k + len(conts)]]
        k += len(conts)
        per_byte = [lp / max(1, len(c.encode("utf-8"))) for lp, c in zip(lps, conts)]
        pick, pick_b = int(np.argmax(lps)), int(np.argmax(per_byte))
        preds.append({"id": item.id, "gold": item.gold, "logprobs": lps, "pred": pick,
                      "pred_bytes": pick_b, "acc": float(pick == item.gold),
                      "acc_bytes": float(pick_b == item.gold)})
    return preds


def generate_answers(loaded, task: Task, items: list[Item], batch_size: int = 8) -> list[dict]:
    """Per-item predictions of generate mode: the answer text, its number, exact match."""
    from langadapt.generate import GenerationOptions, decode, generate_batch, length_sorted_batches

    opts = GenerationOptions(batch_size=batch_size, max_new_tokens=task.max_new_tokens, prompt="fewshot")
    tok = loaded.tokenizer
    encoded = [tok(task.render(it), add_special_tokens=True)["input_ids"] for it in items]
    answers: list[str] = [""] * len(items)
    for idx in length_sorted_batches([len(e) for e in encoded], batch_size):
        new = generate_batch(loaded, [encoded[i] for i in idx], task.lang, opts)
        for i, ids in zip(idx, new):
            answers[i] = decode(loaded, ids, opts)
    preds = []
    for item, ans in zip(items, answers):
        got, gold = first_number(ans), normalize_number(str(item.gold))
        preds.append({"id": item.id, "gold": item.gold, "answer": ans, "pred": got,
                      "exact_match": float(got is not None and got == gold)})
    return preds


def translate_items(items: list[Item], model: str, src: str, tgt: str, opts: ChoiceOptions) -> list[Item]:
    """Items with every text field and option translated by an MT model (one batched call)."""
    from langadapt.generate import GenerationOptions, translate_texts

    texts = sorted({t for it in items for t in [*it.fields.values(), *it.choices]})
    gen = GenerationOptions(batch_size=opts.batch_size, max_new_tokens=opts.translate_max_new_tokens,
                            seed=opts.seed)
    out = translate_texts(model, texts, src, tgt, gen)
    tr = dict(zip(texts, out))
    return [Item(it.id, {k: tr[v] for k, v in it.fields.items()}, [tr[c] for c in it.choices],
                 it.letters, it.gold) for it in items]


def evaluate_choice(opts: ChoiceOptions, *, loaded=None, task: Task | None = None) -> ChoiceResult:
    """Run `opts.task` on `opts.model` (or on `loaded`, already in memory); rows with 95% CIs."""
    from langadapt.models.loading import load_model

    task = task or load_task(opts.task)
    items = load_items(task, opts.data, opts.limit)
    data_path = Path(expand(str(opts.data or task.data)))
    if opts.translate_model:
        items = translate_items(items, opts.translate_model, task.lang, opts.translate_to, opts)
    if loaded is None:
        loaded = load_model(opts.model, device=opts.device, dtype=opts.dtype)
    if task.mode == "generate":
        preds, metrics = generate_answers(loaded, task, items, opts.batch_size), ("exact_match",)
    else:
        preds, metrics = score_choices(loaded, task, items, opts.batch_size), ("acc", "acc_bytes")
    sig = signature(options=_sig_options(task, opts), seed=opts.seed, data=[data_path])
    rows = []
    for m in metrics:
        value, low, high = bootstrap_ci([p[m] for p in preds], resamples=opts.resamples, seed=opts.seed)
        rows.append(ResultRow(metric=m, value=value, ci=None if low is None else [low, high],
                              n=len(preds), dataset=task.name, model=loaded.name, variant=opts.variant,
                              signature=sig, extra={"task_version": task.version,
                                                    "chance": _chance(items, task)}))
    return ChoiceResult(rows, preds)


def _chance(items: list[Item], task: Task) -> float | None:
    if task.mode == "generate":
        return None
    return float(np.mean([1.0 / len(it.choices) for it in items]))


def _sig_options(task: Task, opts: ChoiceOptions) -> dict:
    template = "\x00".join([task.prompt, task.choice_line, task.choice])
    return {"task": task.name, "version": task.version, "mode": task.mode, "format": task.format,
            "template_hash": hashlib.sha256(template.encode()).hexdigest()[:12],
            "limit": opts.limit, "translate_model": opts.translate_model,
            "translate_to": opts.translate_to if opts.translate_model else None,
            "translate_max_new_tokens": opts.translate_max_new_tokens if opts.translate_model else None,
            "resamples": opts.resamples, "ci": 0.95}
