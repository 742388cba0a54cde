"""Recipe stages `eval.bpb` (bits per byte of held-out text), `eval.choice` (benchmarks),
`eval.speed` (generation speed in bytes of text per second) and `eval.morph`.

    - id: heldout
      kind: eval.bpb
      with:
        model: "@cpt/model"
        text: [${data}/mono/news_ner_v1.txt]
        max_docs: 200
    - id: belebele
      kind: eval.choice
      with:
        model: "@cpt/model"
        task: belebele_khk           # bundled name or a task .yaml
        data: path/to/khk_Cyrl.jsonl
    - id: speed
      kind: eval.speed
      with:
        model: "@cpt/model"
        text: [${data}/flores/khk_Cyrl.dev.txt]   # prompts: first words of each line
        max_new_tokens: 64
"""

from __future__ import annotations

from pathlib import Path

from langadapt.eval.options import BpbOptions, ChoiceOptions, MorphOptions, SpeedOptions
from langadapt.paths import expand
from langadapt.runs import ResultRow, atomic_write_jsonl, write_results
from langadapt.stages import Stage, StageContext, register_stage


def with_context(opts, ctx: StageContext):
    """`opts` with the recipe's seed and variant where the stage does not set its own."""
    opts = ctx.seeded(opts)
    if "variant" in type(opts).model_fields and "variant" not in opts.model_fields_set:
        opts = opts.model_copy(update={"variant": ctx.variant})
    return opts


@register_stage
class BpbStage(Stage):
    """Bits per byte, token and word perplexity; per-document statistics beside the rows."""

    kind = "eval.bpb"
    Options = BpbOptions

    def run(self, opts: BpbOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.perplexity import evaluate_bpb

        opts = with_context(opts, ctx)
        if opts.baseline:
            opts = opts.model_copy(update={"baseline": expand(opts.baseline)})
        # Scored chunks live in the runner's work_dir (kept across interruptions), one folder
        # per stage key so a changed model or option never reuses stale chunks.
        work = ctx.extra.get("work_dir")
        cache = Path(work) / str(ctx.extra.get("key", "chunks")) if work else None
        rows = evaluate_bpb(opts, per_doc_dir=ctx.out_dir, cache_dir=cache)
        write_results(ctx.out_dir / "rows.jsonl", rows)
        return rows


@register_stage
class ChoiceStage(Stage):
    """A multiple-choice / numeric task; per-question predictions beside the rows."""

    kind = "eval.choice"
    Options = ChoiceOptions

    def run(self, opts: ChoiceOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.choice import evaluate_choice

        res = evaluate_choice(with_context(opts, ctx))
        atomic_write_jsonl(ctx.out_dir / "predictions.jsonl", res.predictions)
        return res.rows


@register_stage
class MorphStage(Stage):
    """Morphology-aware score of line-aligned hypotheses against references (experimental)."""

    kind = "eval.morph"
    Options = MorphOptions

    def run(self, opts: MorphOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.morph import evaluate_morph

        rows = evaluate_morph(with_context(opts, ctx))
        write_results(ctx.out_dir / "rows.jsonl", rows)
        return rows


@register_stage
class SpeedStage(Stage):
    """Greedy generation speed: bytes of text per second, tokens per second, bytes per token."""

    kind = "eval.speed"
    Options = SpeedOptions

    def run(self, opts: SpeedOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.speed import evaluate_speed

        res = evaluate_speed(with_context(opts, ctx))
        atomic_write_jsonl(ctx.out_dir / "generations.jsonl", res.records)
        write_results(ctx.out_dir / "rows.jsonl", res.rows)
        return res.rows
