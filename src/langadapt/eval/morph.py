"""Morphology-aware score (experimental): lemma agreement and suffix overlap.

BLEU and chrF treat `нэрийн` ("of the name") and `нэрийг` ("the name", accusative)
as different words, so a translation into an agglutinative language can get the
word right and the case wrong, or the reverse, and n-gram scores cannot say which.
This score separates the two:

* `morph_lemma_f1` — F1 of the multiset of hypothesis lemmas against the
  reference lemmas (micro-averaged over sentences): right words, any inflection;
* `morph_suffix3_f1` — F1 of character 3-grams of the stripped suffixes
  (`#ийн#`): right inflections, over the corpus.

The lemmatiser is a suffix-rewrite analyser learned from a UniMorph table
(`lemma<TAB>form<TAB>features`, e.g. `${data}/morph/khk.tsv`): a known form maps to
its lemma; an unknown word takes the most frequent rule among its known
endings (`жээ -> эх`: хэлмэгджээ -> хэлмэгдэх). Written by hand: none of our
dependencies ships a Mongolian lemmatiser (a hunspell-mn backend is not wired in yet).

Limits: the table covers about 2,100 lemmas (nouns and verbs); unknown words are
guessed from their endings, so stems that merely end like a suffix are cut
(over-stemming), vowel harmony and stem changes outside the table are not modelled,
there is no disambiguation by context, and tokens are lower-cased `\\w+` runs. Use it
to compare systems on the same references, not as an absolute measure.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from langadapt.errors import DataError
from langadapt.eval.options import MorphOptions
from langadapt.eval.stats import DEFAULT_RESAMPLES, bootstrap_ci
from langadapt.runs import ResultRow, signature

_WORD = re.compile(r"\w+")
MAX_SUFFIX = 8


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class SuffixAnalyser:
    """Lemmatise by table lookup, else by the most frequent rule of the longest known ending."""

    forms: dict[str, tuple[str, str]] = field(default_factory=dict)  # form -> (lemma, suffix)
    rules: dict[str, tuple[str, int]] = field(default_factory=dict)  # ending -> (replacement, count)
    min_stem: int = 2
    min_count: int = 2

    @classmethod
    def from_unimorph(cls, paths: Iterable[str | Path], **kw) -> SuffixAnalyser:
        """Learn from UniMorph TSV files (`lemma<TAB>form<TAB>...`)."""
        forms: dict[str, tuple[str, str]] = {}
        counts: dict[str, Counter] = defaultdict(Counter)
        for path in map(Path, paths):
            if not path.is_file():
                raise DataError("UniMorph file not found (set LANGADAPT_DATA)", file=str(path))
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) < 2 or not parts[0] or not parts[1]:
                    continue
                lemma, form = parts[0].lower(), parts[1].lower()
                if " " in form:  # periphrastic forms are not one word
                    continue
                k = _common_prefix(lemma, form)
                forms.setdefault(form, (lemma, form[k:]))
                forms.setdefault(lemma, (lemma, ""))
                counts[form[k:]][lemma[k:]] += 1
        if not forms:
            raise DataError("no lemma/form pairs read from the UniMorph files", file=str(paths))
        rules = {end: c.most_common(1)[0] for end, c in counts.items() if len(end) <= MAX_SUFFIX}
        return cls(forms=forms, rules=rules, **kw)

    def analyse(self, word: str) -> tuple[str, str]:
        """(lemma, suffix) of one lower-cased word."""
        if word in self.forms:
            return self.forms[word]
        # Of the endings this word has, the rule seen most often wins: longest-match alone
        # lets rare long endings (`лын -> ал`) cut names such as `монголын`.
        best = None
        for k in range(1, min(MAX_SUFFIX, len(word) - self.min_stem) + 1):
            rule = self.rules.get(word[-k:])
            if rule and rule[1] >= self.min_count and (best is None or rule[1] > best[2]):
                best = (k, rule[0], rule[1])
        if best:
            return word[:-best[0]] + best[1], word[-best[0]:]
        return word, ""

    def known(self, word: str) -> bool:
        return word in self.forms


def default_analyser() -> SuffixAnalyser:
    """The analyser of the bundled Mongolian UniMorph table (`${data}/morph/khk.tsv`)."""
    from langadapt.paths import data_root

    return SuffixAnalyser.from_unimorph([data_root() / "morph" / "khk.tsv"])


def _trigrams(suffixes: Iterable[str]) -> Counter:
    grams: Counter = Counter()
    for s in suffixes:
        if s:
            padded = f"#{s}#"
            grams.update(padded[i: i + 3] for i in range(len(padded) - 2))
    return grams


def sentence_stats(analyser: SuffixAnalyser, hyp: str, ref: str) -> list[float]:
    """`[lemma matches, hyp words, ref words, gram matches, hyp grams, ref grams, known ref words]`."""
    h = [analyser.analyse(w) for w in _WORD.findall(hyp.lower())]
    r = [analyser.analyse(w) for w in _WORD.findall(ref.lower())]
    lm = sum((Counter(x for x, _ in h) & Counter(x for x, _ in r)).values())
    hg, rg = _trigrams(s for _, s in h), _trigrams(s for _, s in r)
    gm = sum((hg & rg).values())
    known = sum(analyser.known(w) for w in _WORD.findall(ref.lower()))
    return [lm, len(h), len(r), gm, sum(hg.values()), sum(rg.values()), known]


def _f1(match: int, hyp: int, ref: int):
    def fn(sums: np.ndarray) -> float:
        m, h, r = sums[match], sums[hyp], sums[ref]
        return 0.0 if m == 0 else float(2 * m / (h + r))
    return fn


def morph_scores(hyps: Sequence[str], refs: Sequence[str], analyser: SuffixAnalyser | None = None, *,
                 dataset: str | None = None, model: str | None = None, variant: str | None = None,
                 resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                 data: Sequence[str | Path] = ()) -> list[ResultRow]:
    """`morph_lemma_f1` and `morph_suffix3_f1` of line-aligned hypotheses, with 95% CIs."""
    if len(hyps) != len(refs):
        raise DataError(f"{len(hyps)} hypotheses for {len(refs)} references: files must be line-aligned")
    if not hyps:
        raise DataError("no sentences to score")
    analyser = analyser or default_analyser()
    stats = np.array([sentence_stats(analyser, h, r) for h, r in zip(hyps, refs)], dtype=np.float64)
    coverage = float(stats[:, 6].sum() / max(1.0, stats[:, 2].sum()))
    sig = signature(options={"metric": "morph", "analyser": "unimorph-suffix-rules",
                             "table_forms": len(analyser.forms), "rules": len(analyser.rules),
                             "min_stem": analyser.min_stem, "min_count": analyser.min_count,
                             "resamples": resamples, "ci": 0.95}, seed=seed, data=list(data) or None)
    rows = []
    for metric, fn in (("morph_lemma_f1", _f1(0, 1, 2)), ("morph_suffix3_f1", _f1(3, 4, 5))):
        value, low, high = bootstrap_ci(stats, fn, resamples=resamples, seed=seed)
        rows.append(ResultRow(metric=metric, value=value, ci=None if low is None else [low, high],
                              n=len(stats), dataset=dataset, model=model, variant=variant, signature=sig,
                              extra={"ref_word_coverage": coverage}))
    return rows


def evaluate_morph(opts: MorphOptions) -> list[ResultRow]:
    """`morph_scores` of the files named in `opts` (the command's and the stage's entry point)."""
    from langadapt.textio import read_lines

    analyser = SuffixAnalyser.from_unimorph(opts.unimorph) if opts.unimorph else default_analyser()
    return morph_scores(read_lines(opts.hyp), read_lines(opts.ref), analyser, dataset=Path(opts.ref).name,
                        model=Path(opts.hyp).name, variant=opts.variant, resamples=opts.resamples,
                        seed=opts.seed, data=[opts.hyp, opts.ref])
