"""FLORES translation evaluation: sacrebleu metrics with bootstrap CIs and paired tests.

Scores are sacrebleu's own (BLEU, chrF++ = chrF with `word_order=2`, chrF, TER, and
spBLEU with the FLORES-200 SentencePiece model), so a number here equals the
`sacrebleu` command line on the same files. Each metric yields per-segment sufficient
statistics; `langadapt.eval.stats` resamples them for 95% intervals and for
paired tests against a baseline. METEOR (nltk + WordNet) and COMET (unbabel-comet +
local weights) are used when installed; otherwise their row says how to install them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from langadapt.errors import ConfigError, DataError
from langadapt.eval.options import DEFAULT_METRICS, FloresOptionsBase, MetricName
from langadapt.eval.stats import DEFAULT_RESAMPLES, TESTS, bootstrap_ci, describe
from langadapt.generate import GenerationOptions
from langadapt.runs import ResultRow, atomic_write_text, hash_obj, signature, write_results
from langadapt.textio import read_segments  # sacrebleu's reading of line-aligned files

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_METRICS", "FloresOptions", "MetricName", "eval_flores", "score_translations"]


class FloresOptions(FloresOptionsBase):
    """`langadapt eval flores` flags and the `eval.flores` recipe stage's options."""

    generation: GenerationOptions = GenerationOptions()


# ---------------------------------------------------------------- FLORES files
def flores_candidates(data: Path, code: str, split: str) -> list[Path]:
    """Where a FLORES-style folder may keep the `split` sentences of language `code`."""
    return [data / f"{code}.{split}.txt",            # one file per language: khk_Cyrl.dev.txt
            data / split / f"{code}.{split}",         # FLORES-200: devtest/khk_Cyrl.devtest
            data / split / f"{split}.{code}",         # FLORES+ release: devtest/devtest.khk_Cyrl
            data / split / code,                      # FLORES+ plain: dev/khk_Cyrl
            data / split / f"{code}.txt",
            data / split / f"{code}.parquet"]         # FLORES+ on the hub: dev/khk_Cyrl.parquet


def find_flores_file(data: str | Path, code: str, split: str = "dev") -> Path:
    """The file with the `split` sentences of `code` in a FLORES-style folder."""
    data = Path(data)
    for cand in flores_candidates(data, code, split):
        if cand.is_file():
            return cand
    tried = ", ".join(str(c.relative_to(data)) for c in flores_candidates(data, code, split))
    raise DataError(f"no FLORES '{split}' file for {code} (looked for {tried}); check --data, "
                    "--split and the language code", file=str(data))


def load_flores(data: str | Path, code: str, split: str = "dev") -> tuple[list[str], str]:
    """Sentences of `code` and where they came from: a local folder, else a hub dataset id."""
    if Path(data).is_dir():
        path = find_flores_file(data, code, split)
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return [str(x) for x in pq.read_table(path, columns=["text"]).column("text")], str(path)
        return read_segments(path), str(path)
    try:
        import datasets

        ds = datasets.load_dataset(str(data), code, split=split)
    except Exception as e:  # the hub raises many kinds; all mean "not reachable here"
        raise DataError(f"not a folder, and not loadable as a hub dataset ({e.__class__.__name__}: "
                        f"{str(e)[:200]})", file=str(data)) from None
    return [str(x) for x in ds["text"]], f"{data}:{code}:{split}"


# ---------------------------------------------------------------- metrics
@dataclass
class Scored:
    """One metric on one system: corpus score, per-segment stats and how to rescore them."""

    score: float
    stats: np.ndarray
    score_fn: Callable[[np.ndarray], float]
    options: dict = field(default_factory=dict)


class Unavailable(Exception):
    """The metric cannot run here; the message says what to install."""


def _sacrebleu_metric(name: str, tgt: str):
    from sacrebleu.metrics import BLEU, CHRF, TER

    trg_lang = "zh" if tgt.split("_")[0] in ("zho", "cmn", "yue") else ""
    if name == "bleu":
        return BLEU(trg_lang=trg_lang)
    if name == "spbleu":
        _check_spm()
        return BLEU(tokenize="flores200")
    if name == "chrf++":
        return CHRF(word_order=2)
    if name == "chrf":
        return CHRF()
    return TER()


def _check_spm() -> None:
    from sacrebleu.utils import SACREBLEU_DIR

    model = Path(SACREBLEU_DIR) / "models" / "flores200sacrebleuspm"
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        raise Unavailable("not available: install sentencepiece (pip install sentencepiece) and "
                          "the FLORES-200 SentencePiece model (sacrebleu fetches it on first use "
                          "of --tokenize flores200 when online)") from None
    if not model.is_file():
        raise Unavailable(f"not available: the FLORES-200 SentencePiece model is not at {model}; "
                          "run 'sacrebleu --tokenize flores200' once online, or copy it there")


def score_sacrebleu(name: str, hyps: Sequence[str], refs: Sequence[str], tgt: str) -> Scored:
    metric = _sacrebleu_metric(name, tgt)
    score = metric.corpus_score(list(hyps), [list(refs)]).score
    # The private stats API is what sacrebleu's own significance tests are built on.
    stats = np.asarray(metric._extract_corpus_statistics(list(hyps), [list(refs)]), dtype=np.float64)
    return Scored(score, stats, lambda s: metric._compute_score_from_stats(list(s)).score,
                  {"sacrebleu": metric.get_signature().format()})


def _mean_stats(values: Sequence[float]) -> tuple[np.ndarray, Callable[[np.ndarray], float]]:
    stats = np.stack([np.asarray(values, dtype=np.float64), np.ones(len(values))], axis=1)
    return stats, lambda s: float(100.0 * s[0] / s[1])


def score_meteor(hyps: Sequence[str], refs: Sequence[str], tgt: str) -> Scored:
    hint = ("not available: install nltk and its WordNet data (pip install nltk; "
            "python -m nltk.downloader wordnet omw-1.4)")
    try:
        import nltk
        from nltk.translate.meteor_score import meteor_score
    except ImportError:
        raise Unavailable(hint) from None
    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
        except LookupError:
            raise Unavailable(hint) from None
    # Whitespace tokens: METEOR's WordNet stage only matches English anyway.
    values = [meteor_score([r.split()], h.split()) for h, r in zip(hyps, refs)]
    stats, fn = _mean_stats(values)
    return Scored(fn(stats.sum(0)), stats, fn, {"meteor": f"nltk-{nltk.__version__}", "tok": "split"})


COMET_MODEL = "Unbabel/wmt22-comet-da"


def score_comet(hyps: Sequence[str], refs: Sequence[str], srcs: Sequence[str] | None) -> Scored:
    try:
        import comet
    except ImportError:
        raise Unavailable("not available: install unbabel-comet (pip install unbabel-comet) and its "
                          f"weights ({COMET_MODEL}), or set COMET_MODEL to a local checkpoint") from None
    if srcs is None:
        raise Unavailable("not available: COMET needs the source sentences")
    name = os.environ.get("COMET_MODEL", COMET_MODEL)
    try:
        path = name if Path(name).is_file() else comet.download_model(name)
        model = comet.load_from_checkpoint(path)
    except Exception as e:  # offline cache miss, bad checkpoint: both mean "no weights here"
        raise Unavailable(f"not available: COMET weights '{name}' not found locally "
                          f"({e.__class__.__name__}); download them once online or set "
                          "COMET_MODEL") from None
    import torch

    data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(srcs, hyps, refs)]
    out = model.predict(data, batch_size=32, gpus=1 if torch.cuda.is_available() else 0,
                        progress_bar=False)
    stats, fn = _mean_stats(list(out.scores))
    return Scored(fn(stats.sum(0)), stats, fn, {"comet": name})


def compute_metric(name: str, hyps: Sequence[str], refs: Sequence[str], tgt: str,
                   srcs: Sequence[str] | None = None) -> Scored:
    """Score one metric; raises `Unavailable` when it cannot run here."""
    if name in ("bleu", "spbleu", "chrf++", "chrf", "ter"):
        return score_sacrebleu(name, hyps, refs, tgt)
    if name == "meteor":
        return score_meteor(hyps, refs, tgt)
    if name == "comet":
        return score_comet(hyps, refs, srcs)
    raise DataError(f"unknown metric '{name}'; known: {', '.join(DEFAULT_METRICS)}")


# ---------------------------------------------------------------- scoring
def count_empty(segments: Sequence[str]) -> int:
    """Segments that are empty or whitespace only (a system that output nothing there)."""
    return sum(1 for s in segments if not s.strip())


def check_hypotheses(hyps: Sequence[str], refs: Sequence[str], hyp_source: str, ref_source: str,
                     limit: int | None = None, allow_all_empty: bool = False) -> int:
    """Refuse misaligned or all-empty hypotheses, naming both files; warn about empty ones.

    A file of nothing but blank lines is a wrong or unfinished file, so it is refused; a
    model that generated nothing (`allow_all_empty`, e.g. an ablated variant) honestly
    scores zero, with the warning. Returns the number of empty hypotheses.
    """
    if len(hyps) != len(refs):
        scope = f" (first {limit} segments)" if limit else ""
        raise DataError(f"hypotheses and references must be line-aligned{scope}: {hyp_source} has "
                        f"{len(hyps)} lines, {ref_source} has {len(refs)}")
    n_empty = count_empty(hyps)
    if hyps and n_empty == len(hyps) and not allow_all_empty:
        raise DataError(f"all {len(hyps)} hypotheses in {hyp_source} are empty; nothing to score "
                        f"against {ref_source}")
    if n_empty:
        log.warning("%d of %d hypotheses are empty in %s; they score as missed segments",
                    n_empty, len(hyps), hyp_source)
    return n_empty


def score_translations(hyps: Sequence[str], refs: Sequence[str], *, tgt: str,
                       srcs: Sequence[str] | None = None, metrics: Sequence[str] = DEFAULT_METRICS,
                       resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                       baseline: Sequence[str] | None = None, test: str = "bs",
                       dataset: str | None = None,
                       model: str | None = None, variant: str | None = None,
                       data_files: Sequence[str | Path] = (), extra: dict | None = None,
                       hyp_source: str = "the hypotheses", ref_source: str = "the references",
                       limit: int | None = None, allow_all_empty: bool = False) -> list[ResultRow]:
    """Score `hyps` against `refs`; one row per metric (value None + a note if unavailable).

    Misaligned hypotheses, and all-empty ones unless `allow_all_empty`, are refused
    (`hyp_source`/`ref_source` name them); empty ones are counted in every row
    (`extra.empty_hypotheses`, and `empty_hyps` in the signature options when any).

    With `baseline` (another system's outputs on the same segments), each available
    metric also gets a `<metric>.delta` row: system − baseline, with its paired test
    (`bs` paired bootstrap, `ar` approximate randomisation; `resamples` of each) p-value
    in `extra`.
    """
    n_empty = check_hypotheses(hyps, refs, hyp_source, ref_source, limit, allow_all_empty)
    if baseline is not None and len(baseline) != len(refs):
        raise DataError(f"baseline has {len(baseline)} lines but there are {len(refs)} references")
    if baseline is not None and test not in TESTS:
        raise ConfigError(f"unknown significance test '{test}'; use 'bs' or 'ar'", key="test")
    base_sig = signature(options={"resamples": resamples, "ci": "percentile 95%"}, seed=seed,
                         data=[p for p in data_files if Path(p).is_file()] or None)
    base_sig["hyp_hash"] = hash_obj(list(hyps))
    if n_empty:  # shown in the report's signature line, so a score with blanks says so
        base_sig["options"]["empty_hyps"] = n_empty
    extra = {**(extra or {}), "empty_hypotheses": n_empty}
    common = dict(n=len(hyps), dataset=dataset, model=model, variant=variant)
    rows: list[ResultRow] = []
    for name in metrics:
        sig = {**base_sig, "options": {**base_sig["options"], "metric": name}}
        try:
            sc = compute_metric(name, hyps, refs, tgt, srcs)
        except Unavailable as e:
            rows.append(ResultRow(metric=name, value=None, signature=sig,
                                  extra={**(extra or {}), "note": str(e)}, **common))
            continue
        sig["options"].update(sc.options)
        _, low, high = bootstrap_ci(sc.stats, sc.score_fn, resamples=resamples, seed=seed)
        ci = None if low is None else [low, high]
        rows.append(ResultRow(metric=name, value=sc.score, ci=ci, signature=sig,
                              extra=dict(extra or {}), **common))
        if baseline is not None:
            rows.append(_paired_row(name, sc, baseline, refs, tgt, srcs, test, resamples, seed, sig,
                                    common, extra))
    return rows


def _paired_row(name, sc: Scored, baseline, refs, tgt, srcs, test, resamples, seed, sig, common,
                extra) -> ResultRow:
    bl = compute_metric(name, baseline, refs, tgt, srcs)
    res = TESTS.get(test)(sc.stats, bl.stats, sc.score_fn, resamples=resamples, seed=seed)
    sig = {**sig, "options": {**sig["options"], "test": res.test},
           "baseline_hash": hash_obj(list(baseline))}
    return ResultRow(metric=f"{name}.delta", value=res.delta,
                     ci=list(res.ci) if res.ci else None, signature=sig,
                     extra={**(extra or {}), "p_value": res.p_value, "test": res.test,
                            "resamples": res.resamples, "baseline_score": bl.score,
                            "system_score": sc.score,
                            "note": f"{sc.score:.2f} vs baseline {bl.score:.2f}: {describe(res)}"},
                     **common)


# ---------------------------------------------------------------- FLORES end to end
def eval_flores(opts: FloresOptions, *, loaded=None,
                out_dir: str | Path | None = None) -> list[ResultRow]:
    """Evaluate translation `src` → `tgt` on FLORES: generate with `opts.model` or score `opts.hyp`.

    Args:
        opts: what to score and how (`data` defaults to `flores/` in the data folder;
            `baseline` adds paired-test `<metric>.delta` rows; `limit` scores the first N).
        loaded: an already loaded `Loaded` model generating instead of `opts.model`.
        out_dir: where the hypotheses and `results.jsonl` are written.
    """
    from langadapt.paths import data_root

    src, tgt, split, limit, hyp = opts.src, opts.tgt, opts.split, opts.limit, opts.hyp
    data = opts.data if opts.data is not None else data_root() / "flores"
    refs, ref_file = load_flores(data, tgt, split)
    srcs, src_file = _try_sources(data, src, split, required=hyp is None)
    if hyp is None:
        from langadapt.generate import output_options, translate_texts

        srcs = srcs[:limit] if limit else srcs
        model = loaded if loaded is not None else opts.model
        hyps = translate_texts(model, srcs, src, tgt, opts.generation, progress=True)
        name = loaded.name if loaded is not None else str(opts.model)
        extra = {"generation": output_options(opts.generation)}
    else:
        hyps, name, extra = read_segments(hyp), Path(hyp).name, {"hyp_file": str(hyp)}
    refs = refs[:limit] if limit else refs
    if limit:
        hyps = hyps[:limit]
    base = read_segments(opts.baseline)[:len(refs)] if opts.baseline is not None else None
    if base is not None and len(base) != len(refs):
        raise DataError(f"the baseline has {len(base)} lines but {ref_file} has {len(refs)}",
                        file=str(opts.baseline))
    if srcs is not None:
        srcs = srcs[:len(refs)]
    files = [ref_file] + ([str(hyp)] if hyp else [])
    hyp_path = None
    if out_dir is not None:  # saved before scoring: generation is costly, refusals keep its output
        hyp_path = atomic_write_text(Path(out_dir) / f"hyp.{src}-{tgt}.{split}.txt",
                                     "".join(h.replace("\n", " ") + "\n" for h in hyps))
    rows = score_translations(hyps, refs, tgt=tgt, srcs=srcs, metrics=opts.metrics,
                              resamples=opts.resamples, seed=opts.seed, baseline=base, test=opts.test,
                              dataset=f"flores.{split}.{src}-{tgt}", model=name, variant=opts.variant,
                              data_files=files, extra={**extra, "src": src, "tgt": tgt,
                                                       "split": split, "src_file": src_file,
                                                       "ref_file": ref_file},
                              hyp_source=str(hyp) if hyp else f"the translations of {name}",
                              ref_source=ref_file, limit=limit, allow_all_empty=hyp is None)
    if hyp_path is not None:
        for r in rows:
            r.extra["hyp_saved"] = hyp_path.name
        write_results(Path(out_dir) / "results.jsonl", rows)
    return rows


def _try_sources(data, code: str, split: str, required: bool) -> tuple[list[str] | None, str | None]:
    """Source sentences: needed to generate, optional (COMET only) when scoring a file."""
    try:
        return load_flores(data, code, split)
    except DataError:
        if required:
            raise
        return None, None
