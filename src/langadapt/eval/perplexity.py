"""Bits per UTF-8 byte, token perplexity and word perplexity of held-out text.

Conventions are lm-evaluation-harness's rolling log-likelihood, so numbers match that
tool on the same model and text:

* each document is tokenized without special tokens and its first token is scored
  conditioned on the BOS token (EOS where the tokenizer has no BOS);
* `bpb = -Σ loglik / (Σ bytes · ln 2)` with bytes of the original UTF-8 text;
  `token_perplexity = exp(-Σ loglik / Σ tokens)`; `word_perplexity =
  exp(-Σ loglik / Σ words)` with words counted as `len(re.split(r"\\s+", text))`;
* a document longer than the window is scored in windows of `max_length` tokens
  that each add `stride` new tokens (stride = max_length is lm-eval's disjoint
  windows; a smaller stride gives every token more context, at more compute).

Encoder-decoder models (NLLB / M2M100) score the text on the decoder side, with an
empty source: the encoder reads `[lang] </s>` and the decoder starts with its start
token and `lang` (`lang` optional), i.e. the probability of the text as a
translation of nothing — a language-model score of the decoder, comparable
between variants of one model, not with causal models.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langadapt.errors import ConfigError, DataError
from langadapt.eval.loglik import Request, max_positions, prefix_token_id, score_requests
from langadapt.eval.options import BpbOptions, BpbScoring
from langadapt.eval.stats import DEFAULT_RESAMPLES, bootstrap_ci, paired_bootstrap, ratio
from langadapt.runs import ResultRow, atomic_write_bytes, content_id, hash_obj, signature

log = logging.getLogger(__name__)

# Columns of the per-document statistics array.
NLL, TOKENS, BYTES, WORDS = range(4)
METRICS = ("bpb", "token_perplexity", "word_perplexity")
__all__ = ["BpbOptions", "BpbScoring", "evaluate_bpb", "score_documents"]


def count_words(text: str) -> int:
    """Words as lm-evaluation-harness counts them for word perplexity."""
    return len(re.split(r"\s+", text))


def rolling_requests(ids: Sequence[int], prefix: Sequence[int], max_length: int, stride: int,
                     source: tuple[int, ...] | None = None) -> list[Request]:
    """Windows that score every token of `ids` once, each input at most `max_length` long.

    The first window reads `prefix + ids` from the start; each later window adds up to
    `stride` new targets and fills the rest of its `max_length` inputs with the tokens
    before them as context.
    """
    if not 1 <= stride <= max_length or len(prefix) > max_length:
        raise ValueError(f"need 1 <= stride ({stride}) <= max_length ({max_length}) and a prefix "
                         "shorter than max_length")
    seq = list(prefix) + list(ids)
    p = len(prefix)
    if not ids:
        return []
    first = min(len(ids), max_length - p + 1)
    out = [Request(tuple(prefix), tuple(ids[:first]), source)]
    scored = p + first
    while scored < len(seq):
        end = min(len(seq), scored + stride)
        out.append(Request(tuple(seq[end - 1 - max_length: scored]), tuple(seq[scored:end]), source))
        scored = end
    return out


def _doc_layout(loaded, lang: str | None) -> tuple[list[int], tuple[int, ...] | None]:
    """Decoder prefix and encoder source for a document (source is None for causal models)."""
    tok = loaded.tokenizer
    if not loaded.is_seq2seq:
        return [prefix_token_id(tok)], None
    from langadapt.models.seq2seq import lang_token_id

    cfg = loaded.model.config
    start = cfg.decoder_start_token_id if cfg.decoder_start_token_id is not None else tok.eos_token_id
    code = [lang_token_id(tok, lang)] if lang else []
    return [start, *code], tuple(code + [tok.eos_token_id])


def score_documents(loaded, texts: Sequence[str], opts: BpbScoring, *,
                    cache_dir: str | Path | None = None, chunk_docs: int = 512) -> np.ndarray:
    """Per-document statistics: one row `[nll_nats, tokens, bytes, words]` per text.

    With `cache_dir`, documents are scored in chunks of `chunk_docs` whose statistics are
    saved there (atomically), so an interrupted evaluation resumes at the first unsaved
    chunk. A chunk's file name hashes its texts, the scoring options and the model: its
    files' content when it is a local folder (a model retrained in place is not mistaken for
    the old one), else its name.
    """
    max_len = opts.max_length or max_positions(loaded)
    stride = opts.stride or max_len
    if not 1 <= stride <= max_len or opts.batch_size < 1:
        raise ConfigError(f"need 1 <= stride ({stride}) <= max_length ({max_len}) and batch_size >= 1",
                          key="stride")
    if cache_dir is None:
        return _score_chunk(loaded, texts, opts, max_len, stride)
    parts = []
    model_id = content_id(loaded.name)
    for start in range(0, len(texts), chunk_docs):
        chunk = list(texts[start: start + chunk_docs])
        key = hash_obj([model_id, max_len, stride, opts.lang, chunk])
        path = Path(cache_dir) / f"bpb-{start // chunk_docs:06d}-{key}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        stats = _score_chunk(loaded, chunk, opts, max_len, stride)
        buf = io.BytesIO()
        np.save(buf, stats)
        atomic_write_bytes(path, buf.getvalue())
        parts.append(stats)
    return np.concatenate(parts) if parts else np.zeros((0, 4))


def _score_chunk(loaded, texts: Sequence[str], opts: BpbScoring, max_len: int, stride: int) -> np.ndarray:
    prefix, source = _doc_layout(loaded, opts.lang)
    encoded = loaded.tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    requests: list[Request] = []
    owner: list[int] = []
    for d, ids in enumerate(encoded):
        reqs = rolling_requests(ids, prefix, max_len, stride, source)
        requests.extend(reqs)
        owner.extend([d] * len(reqs))
    scores = score_requests(loaded, requests, batch_size=opts.batch_size, desc="bpb")
    stats = np.zeros((len(texts), 4), dtype=np.float64)
    for d, s in zip(owner, scores):
        stats[d, NLL] -= s.logprob
    for d, (text, ids) in enumerate(zip(texts, encoded)):
        stats[d, TOKENS] = len(ids)
        stats[d, BYTES] = len(text.encode("utf-8"))
        stats[d, WORDS] = count_words(text)
    return stats


def _exp_ratio(num: int, den: int):
    fn = ratio(num, den)
    return lambda sums: math.exp(fn(sums))


def rows_from_stats(stats: np.ndarray, *, dataset: str, model: str, sig: dict,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                    variant: str | None = None) -> list[ResultRow]:
    """bpb, token and word perplexity with bootstrap 95% CIs over documents."""
    fns = {"bpb": ratio(NLL, BYTES, 1 / math.log(2)),
           "token_perplexity": _exp_ratio(NLL, TOKENS), "word_perplexity": _exp_ratio(NLL, WORDS)}
    rows = []
    for metric, fn in fns.items():
        value, low, high = bootstrap_ci(stats, fn, resamples=resamples, seed=seed)
        rows.append(ResultRow(
            metric=metric, value=value, ci=None if low is None else [low, high], n=len(stats),
            dataset=dataset, model=model, variant=variant, signature=sig,
            extra={"tokens": int(stats[:, TOKENS].sum()), "bytes": int(stats[:, BYTES].sum()),
                   "nll_nats": float(stats[:, NLL].sum())}))
    return rows


def evaluate_bpb(opts: BpbOptions, *, loaded=None, per_doc_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> list[ResultRow]:
    """bpb rows for each of `opts.text` (one document per line, or a JSONL `opts.field`).

    Args:
        opts: what to score and how; `opts.model` is loaded unless `loaded` is given.
        loaded: an already loaded `Loaded` (e.g. an adapter with layers switched off).
        per_doc_dir: if given, `<file>.per_doc.tsv` there holds each document's statistics
            (for paired comparisons between variants).
        cache_dir: keep scored chunks here so an interrupted run resumes (see `score_documents`).

    With `opts.baseline` (the `per_doc_dir` of another model's evaluation of the same
    files), each file also gets a paired comparison against it (`bpb_delta`, `bpb_delta_p`).
    """
    from langadapt.models.loading import load_model
    from langadapt.textio import expand_paths, iter_texts

    loaded = loaded if loaded is not None else load_model(opts.model, device=opts.device, dtype=opts.dtype)
    rows: list[ResultRow] = []
    for path in expand_paths(opts.text):
        texts = list(iter_texts([path], field=opts.field, limit=opts.max_docs))
        if not texts:
            raise DataError("no documents to score (empty file)", file=str(path))
        log.info("bpb: %d documents from %s", len(texts), path)
        stats = score_documents(loaded, texts, opts, cache_dir=cache_dir)
        if per_doc_dir is not None:
            write_per_doc(Path(per_doc_dir) / f"{path.name}.per_doc.tsv", stats)
        sig = signature(options=_sig_options(loaded, opts), seed=opts.seed, data=[path])
        rows += rows_from_stats(stats, dataset=path.name, model=loaded.name, sig=sig,
                                resamples=opts.resamples, seed=opts.seed, variant=opts.variant)
        if opts.baseline is not None:
            base = read_per_doc(Path(opts.baseline) / f"{path.name}.per_doc.tsv")
            rows += paired_rows(stats, base, dataset=path.name, model=loaded.name,
                                baseline=opts.baseline, sig=sig, resamples=opts.resamples,
                                seed=opts.seed, variant=opts.variant)
    return rows


def write_per_doc(path: Path, stats: np.ndarray) -> Path:
    """Per-document `nll_nats tokens bytes words` as TSV (atomic)."""
    from langadapt.runs import atomic_write_text

    lines = ["nll_nats\ttokens\tbytes\twords"]
    lines += [f"{r[NLL]!r}\t{int(r[TOKENS])}\t{int(r[BYTES])}\t{int(r[WORDS])}" for r in stats.tolist()]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def _sig_options(loaded, opts: BpbOptions) -> dict:
    max_len = opts.max_length or max_positions(loaded)
    return {"metric": "bpb", "convention": "lm-eval rolling loglikelihood",
            "prefix_token": "decoder_start" if loaded.is_seq2seq else
            loaded.tokenizer.convert_ids_to_tokens(prefix_token_id(loaded.tokenizer)),
            "max_length": max_len, "stride": opts.stride or max_len, "lang": opts.lang,
            "max_docs": opts.max_docs, "tokenizer": type(loaded.tokenizer).__name__,
            "vocab": len(loaded.tokenizer), "dtype": str(next(loaded.model.parameters()).dtype),
            "resamples": opts.resamples, "ci": 0.95}


def read_per_doc(path: str | Path) -> np.ndarray:
    """Per-document statistics written by `write_per_doc` (columns NLL, TOKENS, BYTES, WORDS)."""
    p = Path(path)
    if not p.is_file():
        raise DataError("no per-document statistics to compare against (an eval.bpb output folder "
                        "holds <text file>.per_doc.tsv)", file=str(p))
    return np.loadtxt(p, delimiter="\t", skiprows=1, ndmin=2)


def paired_rows(stats: np.ndarray, base: np.ndarray, *, dataset: str, model: str, baseline: str,
                sig: dict, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                variant: str | None = None) -> list[ResultRow]:
    """`bpb_delta` (this model − baseline, 95% CI) and its paired-bootstrap p-value.

    Both models scored the same documents in the same order; documents are resampled
    together, so the interval is of the difference itself, not two overlapping intervals;
    interval and p-value come from the same resamples (p < 0.05 ⇔ the interval excludes 0).
    """
    if stats.shape != base.shape or not np.array_equal(stats[:, BYTES], base[:, BYTES]):
        raise DataError(f"baseline scored different documents ({len(base)} vs {len(stats)} "
                        "documents, or other bytes): compare evaluations of the same text",
                        file=baseline)
    res = paired_bootstrap(stats, base, ratio(NLL, BYTES, 1 / math.log(2)), resamples=resamples,
                           seed=seed)
    extra = {"baseline": baseline, "test": res.test, "resamples": res.resamples,
             "p_value": res.p_value}
    sig = {**sig, "options": {**sig.get("options", {}), "paired_test": res.test,
                              "baseline": Path(baseline).name}}
    ci = list(res.ci) if res.ci else None  # None: too few resamples for a 95% interval
    return [ResultRow(metric="bpb_delta", value=res.delta, ci=ci, n=len(stats),
                      dataset=dataset, model=model, variant=variant, signature=sig, extra=extra),
            ResultRow(metric="bpb_delta_p", value=res.p_value, n=len(stats), dataset=dataset,
                      model=model, variant=variant, signature=sig, extra=extra)]
