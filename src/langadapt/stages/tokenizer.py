"""Recipe stages for tokenizers: `tokenizer.train`, `tokenizer.extend`, `tokenizer.sweep`,
`tokenizer.trim`, `tokenizer.stats`.

Train, extend and trim write the tokenizer folder as the stage's output folder, so later
stages refer to it as `@stage_id` (e.g. `model.resize` with `tokenizer: "@ext"`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from langadapt.config import StrictModel
from langadapt.paths import expand
from langadapt.runs import ResultRow, signature
from langadapt.stages import Stage, StageContext, register_stage
from langadapt.tokenizer.options import CheckOptions, ExtendOptions


def _paths(values: list[str]) -> list[str]:
    return [expand(v) for v in values]


class _CorpusOptions(StrictModel):
    corpus: list[str] = Field(min_length=1)   # text files or folders (.txt, .jsonl[.gz|.zst])
    exclude: list[str] = []                   # drop corpus lines equal to lines of these (eval sets)
    field: str = "text"                       # JSONL field holding the text
    limit: int | None = Field(None, ge=1)     # read at most this many documents

    def to_corpus(self):
        from langadapt.tokenizer.extend import Corpus

        return Corpus(_paths(self.corpus), exclude=_paths(self.exclude), field=self.field,
                      limit=self.limit)


def _summary_rows(summary: dict, metrics: dict[str, str], model: str, ctx: StageContext,
                  opts: StrictModel) -> list[ResultRow]:
    sig = signature(options=opts.model_dump(mode="json"), seed=ctx.seed, tools=("tokenizers",))
    return [ResultRow(metric=metric, value=float(summary[key]), model=model, variant=ctx.variant,
                      signature=sig, extra={"summary": key}) for metric, key in metrics.items()]


@register_stage
class TrainTokenizerStage(Stage):
    """A from-scratch tokenizer (`langadapt tokenizer train`)."""

    kind = "tokenizer.train"

    class Options(_CorpusOptions):
        vocab_size: int = Field(ge=300)
        like: str | None = None                 # base tokenizer whose text handling to copy
        model: str = "bpe"                      # bpe | unigram

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.tokenizer.train import train

        summary = train(opts.to_corpus(), opts.vocab_size, ctx.out_dir,
                        like=expand(opts.like) if opts.like else None, model=opts.model)
        return _summary_rows(summary, {"vocab_size": "vocab_size"}, ctx.stage_id, ctx, opts)


@register_stage
class ExtendTokenizerStage(Stage):
    """Continued-BPE extension of a base tokenizer (`langadapt tokenizer extend`)."""

    kind = "tokenizer.extend"

    class Options(_CorpusOptions, ExtendOptions):
        base: str                               # tokenizer folder or hub id
        add: int = Field(ge=1)                  # new tokens (merges) to learn
        eval: list[str] = []                    # texts that must round-trip exactly

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.tokenizer.extend import extend

        summary = extend(expand(opts.base), opts.to_corpus(), opts.add, ctx.out_dir,
                         eval_files=_paths(opts.eval), check_lines=opts.check_lines,
                         min_count=opts.min_count, seed=ctx.seed)
        return _summary_rows(summary, {"added_tokens": "added", "vocab_size": "size"}, ctx.stage_id,
                             ctx, opts)


@register_stage
class SweepTokenizerStage(Stage):
    """Extensions of several sizes from one BPE run (`tokenizer extend --add N,N…`).

    Writes `add<N>/` per size (a later stage picks one as `@stage/add<N>`) and the
    fertility of the base and of every size on `text`, plotted in `sweep.png`.
    """

    kind = "tokenizer.sweep"

    class Options(_CorpusOptions, CheckOptions):
        base: str                               # tokenizer folder or hub id
        add: list[int] = Field(min_length=1)    # sizes to write, e.g. [1000, 4000, 16000]
        text: list[str] = []                    # fertility is measured on these
        metrics: list[str] = ["fertility", "bytes_per_token"]

        @field_validator("add")
        @classmethod
        def _distinct_positive(cls, sizes: list[int]) -> list[int]:
            """Refused when the recipe is read, not after the first sizes were written."""
            from langadapt.errors import ConfigError
            from langadapt.tokenizer.sweep import check_sizes

            try:
                return check_sizes(sizes, key=None)
            except ConfigError as e:
                raise ValueError(str(e)) from None

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.tokenizer.sweep import plot_sweep, sweep

        rows = sweep(expand(opts.base), opts.to_corpus(), opts.add, ctx.out_dir, texts=_paths(opts.text),
                     eval_files=_paths(opts.text), metrics=opts.metrics,
                     check_lines=opts.check_lines, seed=ctx.seed)
        if any(r.metric == "fertility" for r in rows):
            plot_sweep(rows, ctx.out_dir / "sweep.png")
        return rows


@register_stage
class TrimTokenizerStage(Stage):
    """Vocabulary trimming with an id map (`langadapt tokenizer trim`)."""

    kind = "tokenizer.trim"

    class Options(_CorpusOptions):
        base: str

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.tokenizer.trim import trim

        summary = trim(expand(opts.base), opts.to_corpus(), ctx.out_dir)
        return _summary_rows(summary, {"vocab_size": "size", "vocab_kept_fraction": "kept_fraction"},
                             ctx.stage_id, ctx, opts)


@register_stage
class TokenizerStatsStage(Stage):
    """Fertility and friends for tokenizers on texts; writes `fertility.png` (`tokenizer stats`)."""

    kind = "tokenizer.stats"

    class Options(StrictModel):
        tokenizers: list[str] = Field(min_length=1)   # folders, hub ids, or NAME=PATH
        text: list[str] = Field(min_length=1)         # line-per-sentence text files
        metrics: list[str] | None = None              # default: all
        plot: bool = True

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.tokenizer.stats import plot_rows, stats_rows

        refs = [f"{t.split('=', 1)[0]}={expand(t.split('=', 1)[1])}" if "=" in t else expand(t)
                for t in opts.tokenizers]
        rows = stats_rows(refs, _paths(opts.text), opts.metrics)
        if opts.plot and any(r.metric == "fertility" for r in rows):
            plot_rows(rows, ctx.out_dir / "fertility.png")
        for r in rows:
            r.variant = r.variant or ctx.variant
        return rows
