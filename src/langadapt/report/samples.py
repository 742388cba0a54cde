"""Samples of generated text: what each measured model wrote, beside its speed.

A speed without the text behind it can hide a loop, so the report shows the first
`PER_MODEL` continuations of every `eval.speed` stage (each stage's models read the
same prompts in the same order, so the samples line up across models) with their
quality scores and verdict, from the stage's `generations.jsonl`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from langadapt.report.store import RunData

PER_MODEL = 3
MAX_CHARS = 600  # a continuation longer than this is cut for the page (the file keeps it whole)


@dataclass
class Sample:
    prompt: str
    text: str
    scores: str   # "pass" or "fail (repetition)", then the scores
    passed: bool | None


@dataclass
class ModelSamples:
    label: str    # variant, else stage id
    stage: str
    samples: list[Sample]


def _scores(rec: dict) -> str:
    passed = rec.get("pass")
    head = "" if passed is None else ("pass" if passed else f"fail ({', '.join(rec.get('reasons') or [])})")
    parts = [head] if head else []
    for key, fmt in (("lang_share", "language share {:.2f}"),
                     ("repeated_trigrams", "repeated 3-grams {:.2f}"),
                     ("longest_repeat", "longest repeat {} chars"), ("judge_bpb", "judge {:.3f} bpb"),
                     ("tokens", "{} tokens"), ("bytes", "{} bytes")):
        if rec.get(key) is not None:
            parts.append(fmt.format(rec[key]))
    return "; ".join(parts)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + " …"


def speed_samples(run: RunData, per_model: int = PER_MODEL) -> list[ModelSamples]:
    """The first `per_model` generations of every finished `eval.speed` stage, in run order."""
    out = []
    for stage, path in run.stage_files("generations.jsonl"):
        if not stage.kind.startswith("eval.speed"):
            continue
        recs = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    recs.append(json.loads(line))
                if len(recs) == per_model:
                    break
        samples = [Sample(r.get("prompt", ""), _cut(r.get("text", "")), _scores(r), r.get("pass"))
                   for r in recs]
        if samples:
            out.append(ModelSamples(stage.variant or stage.id, stage.id, samples))
    return out


def to_markdown(groups: list[ModelSamples]) -> str:
    """The samples as Markdown: one sub-list per model; prompt, continuation, scores."""
    lines = []
    for g in groups:
        lines.append(f"### {g.label} (stage {g.stage})\n")
        for s in g.samples:
            lines.append(f"- **{s.prompt}**{s.text.replace(chr(10), ' ')}  \n  _{s.scores}_")
        lines.append("")
    return "\n".join(lines)
