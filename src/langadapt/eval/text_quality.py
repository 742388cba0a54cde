"""Is generated text any good? Language share, repetition and a judge's bits per byte.

A degenerate model can look fast: a loop of one long new token (" байна. байна. …")
writes many bytes per step. `eval speed` therefore scores every continuation it
times and counts only the passing ones as useful text:

* `lang_share`: the share of the text's bytes that the data cleaning's language ID
  (`langadapt.data.langid`, the profile's backend label and `min_score`, and its
  `max_foreign_letter_ratio`) calls the target language. The text is cut into
  sentences, joined until each piece has `MIN_PIECE_CHARS` characters (language ID
  on one word is noise); a text with no letters has share 0;
* `repeated_trigrams`: the share of word 3-grams that repeat an earlier one in the
  same text (`1 − distinct / all`; 0 under three words);
* `longest_repeat`: the longest span of characters that occurs twice (the two
  occurrences may overlap, so a tail of one repeated span counts whole but one copy),
  and `repeat_share`, that length over the text's characters: it catches loops that
  word 3-grams miss ("эмчилжээчдийн эмчилжээчдийн …", "0000…"); in FLORES dev sentences
  of 60+ characters it is at most 0.23 (median 0.04);
* `judge_bpb`: bits per UTF-8 byte of the continuation under a fixed HF judge model,
  conditioned on the prompt (`langadapt.eval.loglik`, the scoring loop of `eval bpb`).

`verdict` passes a continuation when every score meets its threshold
(`QualityThresholds`); the failing tests are named in `reasons`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from langadapt.languages import LanguageProfile

MIN_PIECE_CHARS = 25  # the data pipeline's bitext check judges shorter texts unreliable too
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class QualityThresholds:
    """When a continuation passes (None switches a test off)."""

    min_lang_share: float | None = 0.8
    max_repeated_trigrams: float | None = 0.2
    max_repeat_share: float | None = 0.3
    max_judge_bpb: float | None = None


@dataclass
class TextScores:
    """One continuation's scores; `judge_bpb` is None without a judge or without text."""

    lang_share: float
    repeated_trigrams: float
    longest_repeat: int
    judge_bpb: float | None = None
    passed: bool = False
    reasons: list[str] = field(default_factory=list)
    chars: int = 0

    @property
    def repeat_share(self) -> float:
        """The longest repeated span as a share of the text's characters."""
        return self.longest_repeat / self.chars if self.chars else 0.0

    def as_dict(self) -> dict:
        return {"lang_share": round(self.lang_share, 4),
                "repeated_trigrams": round(self.repeated_trigrams, 4), "longest_repeat": self.longest_repeat,
                "repeat_share": round(self.repeat_share, 4),
                "judge_bpb": None if self.judge_bpb is None else round(self.judge_bpb, 4),
                "pass": self.passed, "reasons": self.reasons}


def words(text: str) -> list[str]:
    """Lower-cased words as the quality filters count them (punctuation is not a word)."""
    from langadapt.data.quality import RegexWordTokenizer

    return [w.lower() for w in RegexWordTokenizer("xx").word_tokenize(text)]


def repeated_ngram_share(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the text."""
    w = words(text)
    grams = [tuple(w[i: i + n]) for i in range(len(w) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def longest_repeat(text: str) -> int:
    """Length in characters of the longest substring that occurs at least twice.

    Binary search on the length (a repeat of length L holds one of L − 1) with a set of
    slices per length: O(n log n) slices, ample for continuations of a few hundred
    characters. Hand-written: no dependency of the project offers a suffix array.
    """
    def repeats(length: int) -> bool:
        seen = set()
        for i in range(len(text) - length + 1):
            piece = text[i: i + length]
            if piece in seen:
                return True
            seen.add(piece)
        return False

    lo, hi = 0, max(len(text) - 1, 0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if repeats(mid) else (lo, mid - 1)
    return lo


def pieces(text: str, min_chars: int = MIN_PIECE_CHARS) -> list[str]:
    """Sentences joined until each has `min_chars` characters (a short tail joins the last)."""
    from langadapt.data.quality import RegexWordTokenizer

    out: list[str] = []
    for sent in RegexWordTokenizer("xx").sent_tokenize(text):
        if out and len(out[-1]) < min_chars:
            out[-1] += " " + sent
        else:
            out.append(sent)
    if len(out) > 1 and len(out[-1]) < min_chars:
        tail = out.pop()
        out[-1] += " " + tail
    return out


class LanguageShare:
    """The share of a text in the profile's language, as the data cleaning decides it."""

    def __init__(self, profile: LanguageProfile, backend: str | None = None):
        from langadapt.data.langid import DEFAULT_BACKEND, label_for

        self.profile, self.backend = profile, backend or DEFAULT_BACKEND
        self.label = label_for(profile, self.backend)
        self._outside = dict.fromkeys(map(ord, profile.alphabet))  # deletes the alphabet's letters

    def _foreign_ratio(self, text: str) -> float:
        from langadapt.languages.scripts import count_in_scripts

        letters = "".join(_LETTER.findall(text))
        outside = letters.translate(self._outside)
        return count_in_scripts(outside, tuple(self.profile.scripts)) / len(letters) if letters else 1.0

    def many(self, texts: Sequence[str]) -> list[float]:
        """Byte share of each text identified as the target language."""
        from langadapt.data.langid import predict_many

        split = [[p for p in pieces(t) if _LETTER.search(p)] for t in texts]
        flat = [p for ps in split for p in ps]
        verdicts = iter(predict_many(self.backend, flat)) if flat else iter(())
        max_foreign = self.profile.quality.max_foreign_letter_ratio
        shares = []
        for ps in split:
            total = ours = 0
            for p in ps:
                label, score = next(verdicts)
                size = len(p.encode("utf-8"))
                total += size
                if label == self.label and score >= self.profile.langid.min_score and (
                        max_foreign is None or self._foreign_ratio(p) <= max_foreign):
                    ours += size
            shares.append(ours / total if total else 0.0)
        return shares


def judge_bpb(judge, prompts: Sequence[str], texts: Sequence[str], *,
              batch_size: int = 8) -> list[float | None]:
    """Bits per byte of each text under the judge (a `Loaded` causal model), after its prompt.

    The context is the judge's BOS (EOS without one) and the prompt's tokens; prompt and
    continuation are tokenized apart, so the judge scores exactly the continuation's bytes.
    Contexts too long for the judge lose their oldest tokens.
    """
    from langadapt.eval.loglik import Request, max_positions, prefix_token_id, score_requests

    tok = judge.tokenizer
    limit = max_positions(judge)
    prefix = prefix_token_id(tok)
    requests, owners = [], []
    for i, (prompt, text) in enumerate(zip(prompts, texts)):
        target = tok(text, add_special_tokens=False)["input_ids"][: limit - 1]
        if not target:
            continue
        context = [prefix] + tok(prompt, add_special_tokens=False)["input_ids"]
        context = context[max(0, len(context) + len(target) - 1 - limit):]
        requests.append(Request(tuple(context), tuple(target)))
        owners.append(i)
    out: list[float | None] = [None] * len(texts)
    for i, score in zip(owners, score_requests(judge, requests, batch_size=batch_size, desc="judge")):
        out[i] = -score.logprob / (len(texts[i].encode("utf-8")) * math.log(2))
    return out


def verdict(scores: TextScores, limits: QualityThresholds) -> TextScores:
    """Set `passed` and `reasons` of `scores` under `limits` (a missing judge score passes)."""
    reasons = []
    if limits.min_lang_share is not None and scores.lang_share < limits.min_lang_share:
        reasons.append("language")
    if limits.max_repeated_trigrams is not None and scores.repeated_trigrams > limits.max_repeated_trigrams:
        reasons.append("repetition")
    if limits.max_repeat_share is not None and scores.repeat_share > limits.max_repeat_share:
        reasons.append("repeated_span")
    if (limits.max_judge_bpb is not None and scores.judge_bpb is not None
            and scores.judge_bpb > limits.max_judge_bpb):
        reasons.append("judge_bpb")
    scores.reasons, scores.passed = reasons, not reasons
    return scores


def score_texts(texts: Sequence[str], profile: LanguageProfile, limits: QualityThresholds, *,
                prompts: Sequence[str] | None = None, judge=None,
                langid: str | None = None) -> list[TextScores]:
    """Scores and verdict of each text; `judge` (with `prompts`) adds its bits per byte."""
    shares = LanguageShare(profile, langid).many(texts)
    bpb = judge_bpb(judge, prompts or [""] * len(texts), texts) if judge is not None else [None] * len(texts)
    return [verdict(TextScores(share, repeated_ngram_share(t), longest_repeat(t), b, chars=len(t)), limits)
            for t, share, b in zip(texts, shares, bpb)]
