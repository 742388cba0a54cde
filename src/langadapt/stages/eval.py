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

from pydantic import Field

from langadapt.config import StrictModel
from langadapt.eval.speed import SpeedOptions
from langadapt.paths import expand
from langadapt.runs import ResultRow, atomic_write_text
from langadapt.stages import Stage, StageContext, register_stage


@register_stage
class BpbStage(Stage):
    """Bits per byte, token and word perplexity; per-document statistics beside the rows."""

    kind = "eval.bpb"

    class Options(StrictModel):
        model: str                                  # model folder, hub id or adapter folder
        text: list[str]                             # text files (one document per line) or folders
        field: str = "text"                         # JSONL field holding the text
        batch_size: int = Field(8, ge=1)
        max_length: int | None = Field(None, ge=2)  # tokens per window (default: model's, ≤ 4096)
        stride: int | None = Field(None, ge=1)      # new tokens per window (default: max_length)
        max_docs: int | None = Field(None, ge=1)    # documents per file
        lang: str | None = None                     # seq2seq: language code of the text
        n_bootstrap: int = Field(1000, ge=0)
        variant: str | None = None                  # row label (default: the recipe variant)
        baseline: str | None = None                 # an earlier eval.bpb folder: adds paired deltas
        device: str | None = None
        dtype: str = "auto"

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.perplexity import BpbOptions, evaluate_bpb

        bpb = BpbOptions(batch_size=opts.batch_size, max_length=opts.max_length, stride=opts.stride,
                         lang=opts.lang, n_boot=opts.n_bootstrap, seed=ctx.seed)
        # Scored chunks live in the runner's work_dir (kept across interruptions), one folder
        # per stage key so a changed model or option never reuses stale chunks.
        work = ctx.extra.get("work_dir")
        cache = Path(work) / str(ctx.extra.get("key", "chunks")) if work else None
        rows = evaluate_bpb(opts.model, opts.text, bpb, max_docs=opts.max_docs, field=opts.field,
                            variant=opts.variant or ctx.variant, device=opts.device,
                            dtype=opts.dtype, per_doc_dir=ctx.out_dir, cache_dir=cache,
                            baseline=expand(opts.baseline) if opts.baseline else None)
        atomic_write_text(ctx.out_dir / "rows.jsonl", "".join(r.to_json() + "\n" for r in rows))
        return rows


@register_stage
class ChoiceStage(Stage):
    """A multiple-choice / numeric task; per-question predictions beside the rows."""

    kind = "eval.choice"

    class Options(StrictModel):
        model: str
        task: str                                   # bundled task name or task .yaml file
        data: str | None = None                     # data file (default: the task's)
        limit: int | None = Field(None, ge=1)
        batch_size: int = Field(8, ge=1)
        translate_model: str | None = None          # translate questions with this MT model first
        translate_to: str = "eng_Latn"
        translate_max_new_tokens: int = Field(256, ge=1)
        n_bootstrap: int = Field(1000, ge=0)
        variant: str | None = None
        device: str | None = None
        dtype: str = "auto"

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        import json

        from langadapt.eval.choice import ChoiceOptions, evaluate_choice

        copts = ChoiceOptions(batch_size=opts.batch_size, limit=opts.limit, data=opts.data,
                              translate_model=opts.translate_model, translate_to=opts.translate_to,
                              translate_max_new_tokens=opts.translate_max_new_tokens,
                              n_boot=opts.n_bootstrap, seed=ctx.seed)
        res = evaluate_choice(opts.model, opts.task, copts, variant=opts.variant or ctx.variant,
                              device=opts.device, dtype=opts.dtype)
        atomic_write_text(ctx.out_dir / "predictions.jsonl",
                          "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in res.predictions))
        return res.rows


@register_stage
class MorphStage(Stage):
    """Morphology-aware score of line-aligned hypotheses against references (experimental)."""

    kind = "eval.morph"

    class Options(StrictModel):
        hyp: str                                    # hypotheses, one sentence per line
        ref: str                                    # references, line-aligned
        unimorph: list[str] | None = None           # UniMorph tables (default ${data}/morph/khk.tsv)
        n_bootstrap: int = Field(1000, ge=0)
        variant: str | None = None

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.morph import SuffixAnalyser, default_analyser, morph_scores
        from langadapt.textio import read_lines

        analyser = SuffixAnalyser.from_unimorph(opts.unimorph) if opts.unimorph else default_analyser()
        rows = morph_scores(read_lines(opts.hyp), read_lines(opts.ref), analyser,
                            dataset=Path(opts.ref).name, model=Path(opts.hyp).name,
                            variant=opts.variant or ctx.variant, n_boot=opts.n_bootstrap, seed=ctx.seed,
                            data=[opts.hyp, opts.ref])
        atomic_write_text(ctx.out_dir / "rows.jsonl", "".join(r.to_json() + "\n" for r in rows))
        return rows


@register_stage
class SpeedStage(Stage):
    """Greedy generation speed: bytes of text per second, tokens per second, bytes per token."""

    kind = "eval.speed"

    class Options(SpeedOptions):
        model: str                                  # model folder, hub id or adapter folder
        text: list[str]                             # files whose documents' first words are the prompts
        variant: str | None = None

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        import json

        from langadapt.eval.speed import evaluate_speed

        speed = SpeedOptions(**{**opts.model_dump(include=set(SpeedOptions.model_fields)), "seed": ctx.seed})
        res = evaluate_speed(opts.model, opts.text, speed, variant=opts.variant or ctx.variant)
        atomic_write_text(ctx.out_dir / "generations.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in res.records))
        atomic_write_text(ctx.out_dir / "rows.jsonl", "".join(r.to_json() + "\n" for r in res.rows))
        return res.rows
