"""Recipe stages `data.clean`, `data.bitext` (the cleaning pipelines) and `data.tokenize`.

Outputs under the stage folder: `data/*.jsonl.gz` (read them with
`langadapt.textio.iter_texts([out / "data"])`), `stats.json` (the funnel, schema in
docs/data.md) and `rejected/<reason>.jsonl.gz`. Rows: `docs_read`, `docs_kept`,
`docs_dropped:<reason>`. `data.tokenize`: the stage folder is a token-shard folder
(docs/training.md); rows `docs`, `tokens`, `bytes`, `bytes_per_token`.
"""

from __future__ import annotations

from langadapt.data.options import BitextOptions, CleanOptions
from langadapt.data.tokenize import TokenizeOptions
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
        from langadapt.data.pipeline import RUN_ONLY, clean
        from langadapt.data.stats import funnel_rows

        opts = opts.model_copy(
            update={"inputs": _expand(opts.inputs), "decontaminate": _expand(opts.decontaminate)}
        )
        stats = clean(opts, ctx.out_dir)
        sig = signature(
            options=opts.model_dump(exclude={"inputs", "decontaminate", *RUN_ONLY}),
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


@register_stage
class TokenizeStage(Stage):
    """Tokenize training text into token shards (options = `langadapt data tokenize` flags).

    The stage folder is the shard folder: name it (`@stage_id`) in a `train` stage's
    `data.train` to train on it without reading the text again.
    """

    kind = "data.tokenize"
    Options = TokenizeOptions

    def run(self, opts: TokenizeOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.data.tokenize import summary_rows, tokenize

        shards = tokenize(opts, out=ctx.out_dir)
        return summary_rows(shards, dataset=ctx.stage_id)
