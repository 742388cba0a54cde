"""Recipe stages `eval.lens` (logit lens) and `eval.ablation` (LoRA off in chosen layers).

    - id: lens
      kind: eval.lens
      with:
        model: "@lora/adapter"
        base: adapter-off               # or a base model folder; omit for no comparison
        text: ${data}/flores/khk_Cyrl.dev.txt
        limit: 32
    - id: ablation
      kind: eval.ablation
      with:
        model: "@lora/adapter"
        ablate: [early, middle, late]
        metrics: [bpb, flores]
        inputs: {text: "@split/heldout.txt", src_lang: khk_Cyrl, tgt_lang: eng_Latn, limit: 50}
"""

from __future__ import annotations

from langadapt.eval.options import AblationOptions, LensOptions
from langadapt.runs import ResultRow
from langadapt.stages import Stage, StageContext, register_stage


def _variant(ctx: StageContext, name: str | None) -> str | None:
    """The recipe variant joined with the row's own label, as the runner joins variants."""
    parts = [p for p in (ctx.variant, name) if p]
    return "+".join(parts) if parts else None


@register_stage
class LensStage(Stage):
    """Logit lens of a model (and base comparison): rows, lens.md, lens.png, lens_heatmap.png."""

    kind = "eval.lens"
    Options = LensOptions

    def run(self, opts: LensOptions, ctx: StageContext) -> list[ResultRow]:
        from pathlib import Path

        from langadapt.eval.lens import logit_lens, read_texts, write_lens_outputs
        from langadapt.eval.lens_new_tokens import read_new_tokens
        from langadapt.models.loading import load_model

        loaded = load_model(opts.model, device=opts.device, dtype=opts.dtype)
        base = opts.base
        if base and base != "adapter-off":
            base = load_model(base, device=opts.device, dtype=opts.dtype)
        texts, targets = read_texts(opts.text, opts.targets, opts.limit)
        res = logit_lens(loaded, texts, base=base, targets=targets, src_lang=opts.src_lang,
                         tgt_lang=opts.tgt_lang, top_k=opts.top_k, max_length=opts.max_length,
                         batch_size=opts.batch_size, dataset=Path(opts.text).name,
                         seed=ctx.seeded(opts).seed,
                         new_tokens=read_new_tokens(opts.new_tokens) if opts.new_tokens else None)
        for r in res.rows:
            r.variant = _variant(ctx, None)
        write_lens_outputs(res, ctx.out_dir)
        return res.rows


@register_stage
class AblationStage(Stage):
    """Metrics with LoRA switched off per layer selection: rows, ablation.md, ablation.png."""

    kind = "eval.ablation"
    Options = AblationOptions

    def run(self, opts: AblationOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.ablation import run_ablation
        from langadapt.models.loading import load_model

        loaded = load_model(opts.model, device=opts.device, dtype=opts.dtype)
        inputs = ctx.seeded(opts.inputs)
        rows = run_ablation(loaded, opts.ablate, inputs, metrics=opts.metrics, stack=opts.stack,
                            scale=opts.scale, out_dir=ctx.out_dir,
                            # finished variants must outlive the stage's temp folder (dropped
                            # when a run is killed), so they are kept in the run's cache folder
                            cache_dir=ctx.scratch_dir())
        for r in rows:
            r.variant = _variant(ctx, r.variant)
        return rows
