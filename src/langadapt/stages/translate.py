"""Recipe stages `translate` (a file through a model) and `eval.flores` (FLORES scores).

    - id: flores
      kind: eval.flores
      with:
        model: "@cpt/model"          # or hyp: ${data}/flores/google_mt.eng_Latn.dev.txt
        src: khk_Cyrl
        tgt: eng_Latn
        generation: {batch_size: 16, max_new_tokens: 64}
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from langadapt.config import StrictModel
from langadapt.eval.translation import DEFAULT_METRICS, MetricName
from langadapt.generate import GenerationOptions
from langadapt.names import FileName
from langadapt.runs import ResultRow, atomic_write_json
from langadapt.stages import Stage, StageContext, register_stage


@register_stage
class TranslateStage(Stage):
    """Translate a `.txt` / `.jsonl` file; writes `<output_name>` and `stats.json`."""

    kind = "translate"

    class Options(StrictModel):
        model: str                               # model folder, hub id or adapter folder
        input: str                               # .txt lines or .jsonl records
        src: str                                 # FLORES code of the input language
        tgt: str                                 # FLORES code to translate into
        fields: list[str] = ["text"]             # .jsonl fields to translate
        output_name: FileName | None = None      # default: the input's file name
        flush_every: int | None = Field(None, ge=1)  # texts per saved chunk
        generation: GenerationOptions = GenerationOptions()

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.translate import translate_file

        gen = opts.generation
        if "seed" not in gen.model_fields_set:
            gen = gen.model_copy(update={"seed": ctx.seed})
        out = ctx.out_dir / (opts.output_name or Path(opts.input).name)
        # Unfinished work must outlive the stage's temp folder (dropped when a run is killed),
        # so it is kept in the run's cache folder and deleted once the stage succeeds.
        cache = ctx.run_dir / "cache" / ctx.stage_id
        rows = translate_file(opts.model, opts.input, out, src=opts.src, tgt=opts.tgt,
                              fields=tuple(opts.fields), gen=gen,
                              flush_every=opts.flush_every, progress=True, cache_dir=cache)
        with contextlib.suppress(OSError):  # finished: the cache folders go too, when empty
            cache.rmdir()
            cache.parent.rmdir()
        for r in rows:
            r.variant = ctx.variant
            r.dataset = Path(opts.input).name
        atomic_write_json(ctx.out_dir / "stats.json", {r.metric: r.value for r in rows})
        return rows


@register_stage
class FloresStage(Stage):
    """FLORES evaluation of a model (generates) or of an existing output file."""

    kind = "eval.flores"

    class Options(StrictModel):
        model: str | None = None                 # generate with this model …
        hyp: str | None = None                   # … or score this line-aligned output
        src: str
        tgt: str
        data: str | None = None                  # FLORES folder or hub id (default ${data}/flores)
        split: str = "dev"
        baseline: str | None = None              # another output: adds paired-test rows
        test: Literal["bs", "ar"] = "bs"
        metrics: list[MetricName] = list(DEFAULT_METRICS)
        n_bootstrap: int = Field(1000, ge=1)
        limit: int | None = Field(None, ge=1)    # first N sentences only
        variant: str | None = None               # row label (default: the recipe variant)
        generation: GenerationOptions = GenerationOptions()

        @model_validator(mode="after")
        def _one_source(self):
            if (self.model is None) == (self.hyp is None):
                raise ValueError("give exactly one of 'model' or 'hyp'")
            return self

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.translation import eval_flores

        gen = opts.generation
        if "seed" not in gen.model_fields_set:  # the recipe's seed unless one is given here
            gen = gen.model_copy(update={"seed": ctx.seed})
        return eval_flores(src=opts.src, tgt=opts.tgt, model=opts.model, hyp=opts.hyp,
                           data=opts.data, split=opts.split, baseline=opts.baseline,
                           out_dir=ctx.out_dir, gen=gen, metrics=opts.metrics,
                           n_bootstrap=opts.n_bootstrap, seed=ctx.seed, test=opts.test,
                           limit=opts.limit, variant=opts.variant or ctx.variant)
