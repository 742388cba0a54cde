"""Recipe stages `data.clean` and `data.bitext`: the cleaning pipelines in a recipe.

Outputs under the stage folder: `data/*.jsonl.gz` (read them with
`langadapt.textio.iter_texts([out / "data"])`), `stats.json` (the funnel, schema in
docs/data.md) and `rejected/<reason>.jsonl.gz`. Rows: `docs_read`, `docs_kept`,
`docs_dropped:<reason>`.
"""

from __future__ import annotations

from langadapt.data.bitext import BitextOptions
from langadapt.data.pipeline import CleanOptions
from langadapt.runs import ResultRow, signature
from langadapt.stages import Stage, StageContext, register_stage


def _expand(values: list[str]) -> list[str]:
    from langadapt.paths import expand

    return [expand(v) for v in values]


@register_stage
class CleanStage(Stage):
    """Clean monolingual text (options = `langadapt data clean` flags)."""

    kind = "data.clean"
    Options = CleanOptions

    def run(self, opts: CleanOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.data.pipeline import clean
        from langadapt.data.stats import funnel_rows

        opts = opts.model_copy(
            update={"inputs": _expand(opts.inputs), "decontaminate": _expand(opts.decontaminate)}
        )
        stats = clean(opts, ctx.out_dir)
        sig = signature(
            options=opts.model_dump(exclude={"inputs", "decontaminate"}),
            seed=opts.seed,
            data=[ctx.out_dir / "data"],
            tools=["datatrove", "py3langid"],
        )
        return funnel_rows(stats, dataset=ctx.stage_id, signature=sig)


@register_stage
class BitextStage(Stage):
    """Clean parallel text (options = `langadapt data bitext` flags)."""

    kind = "data.bitext"
    Options = BitextOptions

    def run(self, opts: BitextOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.data.bitext import clean_bitext
        from langadapt.data.stats import funnel_rows

        opts = opts.model_copy(
            update={"inputs": _expand(opts.inputs), "decontaminate": _expand(opts.decontaminate)}
        )
        stats = clean_bitext(opts, ctx.out_dir)
        sig = signature(
            options=opts.model_dump(exclude={"inputs", "decontaminate"}),
            seed=0,
            data=[ctx.out_dir / "data"],
            tools=["py3langid"],
        )
        return funnel_rows(stats, dataset=ctx.stage_id, signature=sig)
