"""Back-translation chrF: each accepted translation is sent back into the source language
through the same server and scored against its source with sentence chrF (sacrebleu).

A score, not proof: a translation that drifts from its source tends to come back far
from it, but a loose paraphrase can score low and a literal mistranslation high. With
`back_translation.min_chrf` set, texts scoring below it are rejected as
`backtranslation`; without it they are only scored. The answers go into the same
journal as the forward ones (their requests differ, so do their keys), so a killed run
resumes here without asking twice either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langadapt.gen.client import Answer, Counts
from langadapt.gen.openai import requests_for
from langadapt.gen.options import ServerOptions
from langadapt.gen.protect import restore
from langadapt.resume import Journal
from langadapt.synth.journal import ask_journalled
from langadapt.thinking import strip_thinking


@dataclass
class BackTranslated:
    """Scores by source text, plus what asking for them cost."""

    chrf: dict[str, float] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    new: dict[str, dict] = field(default_factory=dict)
    failures: list = field(default_factory=list)


def back_translate(opts: ServerOptions, key: str | None, verdicts: dict[str, tuple[str, str | None]],
                   done: dict[str, dict], journal: Journal, src: str, tgt: str,
                   progress: bool) -> BackTranslated:
    """Score every accepted translation in `verdicts` (source -> (translation, reason)).

    `done` holds the journal's answers (earlier runs included); only the missing are asked.
    """
    from sacrebleu.metrics import CHRF

    sources = [s for s, (_, reason) in verdicts.items() if reason is None]
    back = [verdicts[s][0] for s in sources]
    # one request builder and sender for both ways
    requests, key_of, spans = requests_for(((f"back-translation {i + 1}", t) for i, t in enumerate(back)),
                                           opts, tgt, src)
    pending = [r for k, r in requests.items() if k not in done]
    counts, new, failures = ask_journalled(opts, key, pending, journal, None, progress)
    out = BackTranslated(counts=counts, new=new, failures=failures)
    if failures:
        return out
    answers = {**done, **new}
    chrf = CHRF()
    for source, translation in zip(sources, back):
        a = Answer(**answers[key_of[translation]])
        text = restore(strip_thinking(a.text), spans[translation])[0]
        out.chrf[source] = chrf.sentence_score(text, [source]).score
    return out
